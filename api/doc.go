// Package api is Tend's HTTP API for clinics and integrators: enroll and
// unenroll patients, start a flow now, read a patient's timeline and the open
// escalations. Every route requires the bearer token; every refusal is a JSON
// {"error": "..."} that names the field or the thing not found.
package api
