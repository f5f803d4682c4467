package fhir

import (
	"encoding/json"
	"strings"
)

// OperationOutcome is FHIR's error body: a 400 to an Observation names
// each problem and, in expression, the element at fault
// ("Observation.valueQuantity.unit"), so an integrator can fix the
// sender without reading Tend's logs.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Issue is one problem of an OperationOutcome.
type Issue struct {
	// Severity is fatal, error, warning or information.
	Severity string `json:"severity"`
	// Code is from FHIR's issue-type value set: invalid, structure,
	// required, value, not-supported, code-invalid, not-found, ...
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// Outcome builds an OperationOutcome of errors.
func Outcome(issues ...Issue) OperationOutcome {
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// Error is an Observation Tend refuses: the OperationOutcome to answer.
type Error struct {
	Outcome OperationOutcome
}

func (e *Error) Error() string {
	var parts []string
	for _, i := range e.Outcome.Issue {
		s := i.Diagnostics
		if len(i.Expression) > 0 {
			s = strings.Join(i.Expression, ", ") + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func issue(code, expression, diagnostics string) *Error {
	i := Issue{Severity: "error", Code: code, Diagnostics: diagnostics}
	if expression != "" {
		i.Expression = []string{expression}
	}
	return &Error{Outcome: Outcome(i)}
}

// MarshalJSON keeps resourceType set even on a zero value.
func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	type plain OperationOutcome
	if o.ResourceType == "" {
		o.ResourceType = "OperationOutcome"
	}
	if o.Issue == nil {
		o.Issue = []Issue{}
	}
	return json.Marshal(plain(o))
}
