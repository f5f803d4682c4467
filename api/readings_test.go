package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

// readingsEnv is newEnv with the readings routes served by the runner.
func readingsEnv(t *testing.T) *env {
	t.Helper()
	var served bool
	e := newEnvWith(t, func(a *api.API) {
		if rd, ok := a.Runner.(api.Readings); ok {
			a.Readings, served = rd, true
		}
	})
	if !served {
		t.Skip("the runner does not record readings yet (Runner.Readings)")
	}
	return e
}

func readingEvents(evs []store.Event) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if ev.Type == "reading" {
			out = append(out, ev)
		}
	}
	return out
}

// TestPostReadings: one reading or a list, each classified; the same id
// again is a duplicate recorded once; a bad reading anywhere in a list is a
// 400 naming it and its field, and nothing of the request is recorded.
func TestPostReadings(t *testing.T) {
	t.Parallel()
	e := readingsEnv(t)
	e.enroll(patient("p1", "+15551230001"))

	status, body := e.call("POST", "/patients/p1/readings", `{"id":"r-1","kind":"blood_pressure","systolic":118,"diastolic":76,"unit":"mmHg","source":"device"}`)
	if status != http.StatusCreated {
		t.Fatalf("one reading: %d %s", status, body)
	}
	var one struct {
		ID             string `json:"id"`
		Classification string `json:"classification"`
		Duplicate      bool   `json:"duplicate"`
	}
	if err := json.Unmarshal(body, &one); err != nil || one.ID != "r-1" || one.Classification != "normal" || one.Duplicate {
		t.Fatalf("one reading: %s (%v)", body, err)
	}

	status, body = e.call("POST", "/patients/p1/readings", `{"readings":[
		{"id":"r-1","kind":"blood_pressure","systolic":118,"diastolic":76,"unit":"mmHg"},
		{"id":"r-2","kind":"weight","value":182,"unit":"lb"},
		{"kind":"heart_rate","value":72,"unit":"/min"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("a list: %d %s", status, body)
	}
	var list struct {
		Readings []struct {
			ID             string `json:"id"`
			Classification string `json:"classification"`
			Duplicate      bool   `json:"duplicate"`
		} `json:"readings"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Readings) != 3 || !list.Readings[0].Duplicate ||
		list.Readings[1].Duplicate || list.Readings[1].ID != "r-2" || list.Readings[2].Classification == "" {
		t.Fatalf("a list: %s (%v)", body, err)
	}
	rs := readingEvents(e.timeline("p1"))
	if len(rs) != 3 {
		t.Fatalf("%d reading events, want 3 (r-1 once): %+v", len(rs), rs)
	}
	for _, ev := range rs {
		if ev.Kind == "weight" && (ev.Value != "82.6" || ev.Unit != "kg" || ev.Source != "patient") {
			t.Errorf("182 lb recorded as %+v, want 82.6 kg from the patient", ev)
		}
		if ev.Kind == "blood_pressure" && (ev.Value != "118/76" || ev.Source != "device") {
			t.Errorf("blood pressure recorded as %+v", ev)
		}
	}

	for _, tt := range []struct{ body, want string }{
		{`{"kind":"weight","value":82}`, "unit: missing"},
		{`{"kind":"steps","value":1000,"unit":"count"}`, "kind:"},
		{`{"kind":"blood_pressure","systolic":300,"diastolic":95,"unit":"mmHg"}`, "systolic:"},
		{`{"kind":"blood_pressure","systolic":150,"unit":"mmHg"}`, "diastolic: missing"},
		{`{"kind":"blood_pressure","systolic":150.5,"diastolic":95,"unit":"mmHg"}`, "systolic:"},
		{`{"kind":"spo2","value":101,"unit":"%"}`, "value:"},
		{`{"kind":"glucose","value":210,"unit":"mg/dL","at":"2026-03-09T15:00:00Z"}`, "at:"},
		{`{"kind":"glucose","value":210,"unit":"mg/dL","at":"yesterday"}`, "at:"},
		{`{"kind":"glucose","value":210,"unit":"mg/dL","source":"nurse"}`, "source:"},
		{`{"kind":"glucose","value":210,"unit":"mg/dL","colour":"red"}`, "unknown field"},
		{`{"readings":[{"kind":"glucose","value":210,"unit":"mg/dL"},{"kind":"weight","value":82}]}`, "readings[1].unit: missing"},
		{`{"readings":[]}`, "readings: empty"},
	} {
		status, body := e.call("POST", "/patients/p1/readings", tt.body)
		wantError(t, status, body, http.StatusBadRequest, tt.want)
	}
	if n := len(readingEvents(e.timeline("p1"))); n != 3 {
		t.Errorf("%d reading events after the refused requests, want still 3", n)
	}
	status, body = e.call("POST", "/patients/nobody/readings", `{"kind":"spo2","value":97,"unit":"%"}`)
	wantError(t, status, body, http.StatusNotFound, `"nobody"`)

	recs, err := e.runner.AuditRecords(context.Background(), audit.Filter{Patient: "p1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == audit.RecordReadings {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d record_readings audit records, want 2", n)
	}
}

// fhirCall posts body to the FHIR endpoint of e's API.
func fhirCall(t *testing.T, e *env, ctype, auth, body string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(e.api.FHIR())
	defer srv.Close()
	req, err := http.NewRequest("POST", srv.URL+"/Observation", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

const weightObservation = `{"resourceType":"Observation","status":"final",
 "identifier":[{"system":"urn:example:scale","value":"scale-42"}],
 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
 "subject":{"reference":"Patient/p1"},
 "effectiveDateTime":"2026-03-02T14:00:00Z",
 "valueQuantity":{"value":185,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"}}`

// TestFHIRObservation: an Observation is recorded once per identifier
// (201 and Location each time), from the device, in kg; every refusal is
// an OperationOutcome.
func TestFHIRObservation(t *testing.T) {
	t.Parallel()
	e := readingsEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	bearer := "Bearer " + token

	for range 2 {
		res, body := fhirCall(t, e, "application/fhir+json", bearer, weightObservation)
		if res.StatusCode != http.StatusCreated || res.Header.Get("Location") != "/fhir/Observation/scale-42" ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/fhir+json") {
			t.Fatalf("POST: %d %v %s", res.StatusCode, res.Header, body)
		}
		var obs struct {
			ID             string `json:"id"`
			Interpretation []struct {
				Text string `json:"text"`
			} `json:"interpretation"`
		}
		if err := json.Unmarshal(body, &obs); err != nil || obs.ID != "scale-42" || len(obs.Interpretation) != 1 || obs.Interpretation[0].Text == "" {
			t.Fatalf("201 body: %s (%v)", body, err)
		}
	}
	rs := readingEvents(e.timeline("p1"))
	if len(rs) != 1 || rs[0].Kind != "weight" || rs[0].Value != "83.9" || rs[0].Source != "device" {
		t.Fatalf("reading events %+v, want one weight of 83.9 kg from the device", rs)
	}

	outcome := func(body []byte) string {
		var o struct {
			ResourceType string `json:"resourceType"`
			Issue        []struct {
				Code        string   `json:"code"`
				Diagnostics string   `json:"diagnostics"`
				Expression  []string `json:"expression"`
			} `json:"issue"`
		}
		if err := json.Unmarshal(body, &o); err != nil || o.ResourceType != "OperationOutcome" || len(o.Issue) == 0 {
			t.Fatalf("not an OperationOutcome: %s", body)
		}
		return o.Issue[0].Code + " " + strings.Join(o.Issue[0].Expression, ",") + " " + o.Issue[0].Diagnostics
	}
	for _, tt := range []struct {
		name, ctype, auth, body string
		status                  int
		want                    string
	}{
		{"unknown LOINC", "application/fhir+json", bearer, strings.Replace(weightObservation, "29463-7", "8310-5", 1), 400, "code-invalid Observation.code"},
		{"no unit", "application/fhir+json", bearer, strings.Replace(weightObservation, `"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"`, `"system":"http://unitsofmeasure.org"`, 1), 400, "required Observation.valueQuantity.code"},
		{"impossible", "application/fhir+json", bearer, strings.Replace(weightObservation, `"value":185`, `"value":1850`, 1), 400, "value Observation.valueQuantity.value"},
		{"future", "application/fhir+json", bearer, strings.Replace(weightObservation, "2026-03-02T14", "2026-03-09T14", 1), 400, "value Observation.effectiveDateTime"},
		{"not R4", "application/fhir+json", bearer, strings.Replace(weightObservation, `"status":"final"`, `"status":"done"`, 1), 400, "value Observation.status"},
		{"unknown patient", "application/fhir+json", bearer, strings.Replace(weightObservation, "Patient/p1", "Patient/nobody", 1), 404, "not-found"},
		{"wrong token", "application/fhir+json", "Bearer nope", weightObservation, 401, "login"},
		{"XML", "application/fhir+xml", bearer, weightObservation, 415, "not-supported"},
	} {
		res, body := fhirCall(t, e, tt.ctype, tt.auth, tt.body)
		if res.StatusCode != tt.status || !strings.Contains(outcome(body), tt.want) {
			t.Errorf("%s: %d %s, want %d and %q", tt.name, res.StatusCode, body, tt.status, tt.want)
		}
	}
	if n := len(readingEvents(e.timeline("p1"))); n != 1 {
		t.Errorf("%d reading events after the refusals, want still 1", n)
	}
}
