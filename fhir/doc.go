// Package fhir reads home readings sent as HL7 FHIR R4 Observations
// (POST /fhir/Observation) and answers bad ones with an OperationOutcome.
//
// An Observation is checked twice: against the HL7 R4 JSON schema
// (fhir.schema.json, the file HL7 publishes at
// http://hl7.org/fhir/R4/fhir.schema.json.zip, embedded here so the binary
// needs no file), which catches malformed resources with the element at
// fault, and then against what Tend reads: a LOINC code of a vital sign it
// knows, a Patient subject, a unit, a plausible value (readings.Validate).
// The schema does not check value sets bound to codes nor FHIR's
// invariants, hence the second pass.
//
// The schema is compiled once, on first use or at start-up (Prepare),
// for #/definitions/Observation only: validating against the root's oneOf
// of every resource type gives useless errors ("value must be 'Account'").
// ResourceList (a contained resource: any resource at all) is cut down to
// "an object with a resourceType", since through it an Observation reaches
// every definition and compiling them all takes seconds (tens of seconds
// under the race detector); Tend reads no contained resource.
package fhir
