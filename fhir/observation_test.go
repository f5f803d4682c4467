package fhir

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tendcare/tend/readings"
)

var now = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// obs builds an Observation of one LOINC code with a valueQuantity, and
// lets a test change any element.
func obs(code string, value any, ucum string, edit func(m map[string]any)) []byte {
	m := map[string]any{
		"resourceType": "Observation",
		"identifier":   []any{map[string]any{"system": "urn:example:device", "value": "r-1"}},
		"status":       "final",
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": LOINC, "code": code}}},
		"subject":           map[string]any{"reference": "Patient/p-1"},
		"effectiveDateTime": "2026-12-03T09:30:00Z",
	}
	if value != nil {
		m["valueQuantity"] = map[string]any{"value": value, "unit": ucum, "system": UCUM, "code": ucum}
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func bpObs(sys, dia any, edit func(m map[string]any)) []byte {
	return obs("85354-9", nil, "", func(m map[string]any) {
		comp := func(code string, v any) map[string]any {
			return map[string]any{
				"code":          map[string]any{"coding": []any{map[string]any{"system": LOINC, "code": code}}},
				"valueQuantity": map[string]any{"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
			}
		}
		m["component"] = []any{comp("8480-6", sys), comp("8462-4", dia)}
		if edit != nil {
			edit(m)
		}
	})
}

func TestReadObservation(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	dev := func(r readings.Reading) readings.Reading {
		r.ID, r.At, r.Source = "r-1", at, readings.Device
		return r
	}
	tests := []struct {
		name string
		body []byte
		want readings.Reading
	}{
		{"weight kg", obs("29463-7", 82.4, "kg", nil), dev(readings.Reading{Kind: readings.Weight, Value: 82.4, Unit: "kg"})},
		{"weight lb", obs("29463-7", 185, "[lb_av]", nil), dev(readings.Reading{Kind: readings.Weight, Value: 83.9, Unit: "kg"})},
		{"blood pressure", bpObs(150, 95, nil), dev(readings.Reading{Kind: readings.BloodPressure, Systolic: 150, Diastolic: 95, Unit: "mmHg"})},
		{"heart rate", obs("8867-4", 72, "/min", nil), dev(readings.Reading{Kind: readings.HeartRate, Value: 72, Unit: "/min"})},
		{"heart rate beats", obs("8867-4", 72, "{beats}/min", nil), dev(readings.Reading{Kind: readings.HeartRate, Value: 72, Unit: "/min"})},
		{"glucose 2339-0", obs("2339-0", 210, "mg/dL", nil), dev(readings.Reading{Kind: readings.Glucose, Value: 210, Unit: "mg/dL"})},
		{"glucose 41653-7", obs("41653-7", 65, "mg/dL", nil), dev(readings.Reading{Kind: readings.Glucose, Value: 65, Unit: "mg/dL"})},
		{"glucose 15074-8 mmol/L", obs("15074-8", 5.5, "mmol/L", nil), dev(readings.Reading{Kind: readings.Glucose, Value: 99, Unit: "mg/dL"})},
		{"spo2 59408-5", obs("59408-5", 93, "%", nil), dev(readings.Reading{Kind: readings.SpO2, Value: 93, Unit: "%"})},
		{"spo2 2708-6", obs("2708-6", 97, "%", nil), dev(readings.Reading{Kind: readings.SpO2, Value: 97, Unit: "%"})},
		{"typed by the patient", obs("59408-5", 93, "%", func(m map[string]any) {
			m["performer"] = []any{map[string]any{"reference": "Patient/p-1"}}
		}), func() readings.Reading {
			r := dev(readings.Reading{Kind: readings.SpO2, Value: 93, Unit: "%"})
			r.Source = readings.Patient
			return r
		}()},
		{"a contained resource is not read", obs("8867-4", 72, "/min", func(m map[string]any) {
			m["contained"] = []any{map[string]any{"resourceType": "Device", "id": "cuff"}}
		}), dev(readings.Reading{Kind: readings.HeartRate, Value: 72, Unit: "/min"})},
		{"no time: now", obs("8867-4", 72, "/min", func(m map[string]any) { delete(m, "effectiveDateTime") }),
			func() readings.Reading {
				r := dev(readings.Reading{Kind: readings.HeartRate, Value: 72, Unit: "/min"})
				r.At = now
				return r
			}()},
		{"no identifier", obs("8867-4", 72, "/min", func(m map[string]any) { delete(m, "identifier") }),
			func() readings.Reading {
				r := dev(readings.Reading{Kind: readings.HeartRate, Value: 72, Unit: "/min"})
				r.ID = ""
				return r
			}()},
	}
	for _, tt := range tests {
		got, err := ReadObservation(tt.body, now)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.PatientID != "p-1" || !got.Reading.At.Equal(tt.want.At) {
			t.Errorf("%s: patient %q at %v", tt.name, got.PatientID, got.Reading.At)
		}
		got.Reading.At = tt.want.At
		if got.Reading != tt.want {
			t.Errorf("%s: reading %+v, want %+v", tt.name, got.Reading, tt.want)
		}
	}
}

// TestHL7Example reads HL7's own example Observation (185 lbs, subject
// Patient/example): the schema accepts what HL7 publishes.
func TestHL7Example(t *testing.T) {
	body, err := os.ReadFile("testdata/observation-example.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadObservation(body, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.PatientID != "example" || got.Reading.Kind != readings.Weight || got.Reading.Value != 83.9 {
		t.Errorf("got %+v", got)
	}
}

func TestReadObservationRefused(t *testing.T) {
	tests := []struct {
		name       string
		body       []byte
		code       string // the first issue's
		expression string
		says       string
	}{
		{"not JSON", []byte(`{"resourceType":`), "structure", "", "not JSON"},
		{"a Patient", []byte(`{"resourceType":"Patient"}`), "not-supported", "resourceType", "Observation"},
		{"no code", obs("8867-4", 72, "/min", func(m map[string]any) { delete(m, "code") }), "required", "Observation.code", "missing"},
		{"unknown element", obs("8867-4", 72, "/min", func(m map[string]any) { m["valu"] = 1 }), "structure", "Observation.valu", "not an element"},
		{"bad status", obs("8867-4", 72, "/min", func(m map[string]any) { m["status"] = "done" }), "value", "Observation.status", "final"},
		{"value a string", obs("8867-4", "72", "/min", nil), "structure", "Observation.valueQuantity.value", "string"},
		{"bad date", obs("8867-4", 72, "/min", func(m map[string]any) { m["effectiveDateTime"] = "03/12/2026" }), "value", "Observation.effectiveDateTime", `"03/12/2026" is not a valid FHIR dateTime`},
		{"contained not a resource", obs("8867-4", 72, "/min", func(m map[string]any) { m["contained"] = []any{map[string]any{"id": "x"}} }), "required", "Observation.contained[0].resourceType", "missing"},
		{"no status", obs("8867-4", 72, "/min", func(m map[string]any) { delete(m, "status") }), "required", "Observation.status", "missing"},
		{"entered in error", obs("8867-4", 72, "/min", func(m map[string]any) { m["status"] = "entered-in-error" }), "not-supported", "Observation.status", "entered-in-error"},
		{"no subject", obs("8867-4", 72, "/min", func(m map[string]any) { delete(m, "subject") }), "required", "Observation.subject", "Patient"},
		{"group subject", obs("8867-4", 72, "/min", func(m map[string]any) { m["subject"] = map[string]any{"reference": "Group/1"} }), "value", "Observation.subject.reference", "Patient"},
		{"unknown LOINC", obs("8310-5", 37, "Cel", nil), "code-invalid", "Observation.code", "LOINC"},
		{"no value", obs("8867-4", nil, "", nil), "required", "Observation.valueQuantity", "missing"},
		{"no unit", obs("29463-7", 82, "", func(m map[string]any) { m["valueQuantity"] = map[string]any{"value": 82} }), "required", "Observation.valueQuantity.code", "missing"},
		{"unknown unit", obs("29463-7", 82, "g", nil), "value", "Observation.valueQuantity.code", `"g"`},
		{"unit of another kind", obs("29463-7", 82, "mg/dL", nil), "value", "Observation.valueQuantity.code", "not a unit of weight"},
		{"impossible weight", obs("29463-7", 820, "kg", nil), "value", "Observation.valueQuantity.value", "820"},
		{"impossible spo2", obs("59408-5", 101, "%", nil), "value", "Observation.valueQuantity.value", "101"},
		{"future", obs("8867-4", 72, "/min", func(m map[string]any) { m["effectiveDateTime"] = "2026-12-04T09:30:00Z" }), "value", "Observation.effectiveDateTime", "future"},
		{"bp no diastolic", bpObs(150, 95, func(m map[string]any) { m["component"] = m["component"].([]any)[:1] }), "required", "Observation.component", "diastolic"},
		{"bp swapped", bpObs(95, 150, nil), "value", "Observation.component[1].valueQuantity.value", "systolic"},
		{"bp fraction", bpObs(150.5, 95, nil), "value", "Observation.component[0].valueQuantity.value", "whole"},
		{"long identifier", obs("8867-4", 72, "/min", func(m map[string]any) {
			m["identifier"] = []any{map[string]any{"value": strings.Repeat("x", 200)}}
		}), "value", "Observation.identifier[0].value", "128"},
	}
	for _, tt := range tests {
		_, err := ReadObservation(tt.body, now)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want an OperationOutcome", tt.name, err)
			continue
		}
		i := fe.Outcome.Issue[0]
		exp := ""
		if len(i.Expression) > 0 {
			exp = i.Expression[0]
		}
		if i.Code != tt.code || exp != tt.expression || !strings.Contains(i.Diagnostics, tt.says) {
			t.Errorf("%s: issue %+v, want code %s at %q saying %q", tt.name, fe.Outcome.Issue, tt.code, tt.expression, tt.says)
		}
		// What Tend answers is itself a valid OperationOutcome.
		b, _ := json.Marshal(fe.Outcome)
		doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err := validate("OperationOutcome", doc); err != nil {
			t.Errorf("%s: the OperationOutcome is not valid FHIR: %v", tt.name, err)
		}
	}
}

func TestCreated(t *testing.T) {
	got, err := ReadObservation(bpObs(182, 121, nil), now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got.Created("r-1", readings.Acute))
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err := validate("Observation", doc); err != nil {
		t.Errorf("the 201's Observation is not valid FHIR: %v", err)
	}
	if !strings.Contains(string(b), `"code":"AA"`) || !strings.Contains(string(b), `"id":"r-1"`) {
		t.Errorf("created: %s", b)
	}
}

func BenchmarkReadObservation(b *testing.B) {
	body := bpObs(150, 95, nil)
	if err := Prepare(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadObservation(body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadObservation: whatever arrives, the answer is a reading or an
// OperationOutcome, never a panic or another error.
func FuzzReadObservation(f *testing.F) {
	f.Add(bpObs(150, 95, nil))
	f.Add(obs("29463-7", 82.4, "kg", nil))
	f.Add([]byte(`{"resourceType":"Observation"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := ReadObservation(body, now)
		var fe *Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("%s: %v is not an OperationOutcome", body, err)
		}
	})
}
