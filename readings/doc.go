// Package readings holds what a home reading is (blood pressure, weight,
// glucose, SpO2, heart rate), how Tend reads one from a device, a FHIR
// Observation, a text message or a phone keypad, and which values are
// plausible. It is pure: no I/O and no clock, so the engine can use it
// inside a turn and tests can run it as tables.
package readings
