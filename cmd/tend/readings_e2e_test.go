package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/store"
)

// bpObservation is a device's FHIR blood pressure for patient.
func bpObservation(patient, id string, sys, dia int) string {
	return `{"resourceType":"Observation","status":"final",
 "identifier":[{"system":"urn:example:cuff","value":"` + id + `"}],
 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
 "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
 "subject":{"reference":"Patient/` + patient + `"},
 "component":[
  {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":` + itoa(sys) + `,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
  {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":` + itoa(dia) + `,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// postFHIR posts an Observation to the running server's /fhir.
func (p *tendProcess) postFHIR(body string) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest("POST", p.URL+"/fhir/Observation", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, data
}

// messageOut waits until the patient's timeline has a message.out of the
// catalog message id.
func (p *tendProcess) messageOut(patient, id string) store.Event {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range p.timeline(patient) {
			if ev.Type == "message.out" && ev.Message == id {
				return ev
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s never got %s; timeline: %+v", patient, id, p.timeline(patient))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openTicket returns the patient's open ticket, failing without one.
func (p *tendProcess) openTicket(patient string) map[string]any {
	p.t.Helper()
	var list struct {
		Tickets []map[string]any `json:"tickets"`
	}
	p.api(http.MethodGet, "/tickets?status=open", nil, http.StatusOK, &list)
	for _, tk := range list.Tickets {
		if tk["patient"] == patient {
			return tk
		}
	}
	p.t.Fatalf("no open ticket for %s: %+v", patient, list.Tickets)
	return nil
}

// TestFHIRReadingEndToEnd: through the real binary, a blood pressure in
// crisis range from a device (FHIR Observation) gets the confirm question
// by SMS, and the patient's YES (symptoms) opens the episode's acute
// ticket. The FHIR endpoint records a re-sent Observation once and refuses
// a bad one with an OperationOutcome.
func TestFHIRReadingEndToEnd(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	srv := startTend(t, "", t.TempDir(), fake)
	phones := map[string]string{"p-fhir": "+15551230101"}
	for id, phone := range phones {
		srv.api(http.MethodPost, "/patients", map[string]any{"id": id, "phone": phone, "language": "en",
			"timezone": "America/Chicago", "channel": "sms", "programs": []string{"hypertension"}}, http.StatusCreated, nil)
		waitTo(t, fake, phone, 1) // the welcome
	}
	reply := func(id, body string) {
		t.Helper()
		res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, phones[id], body, sid())
		if res.StatusCode/100 != 2 {
			t.Fatalf("inbound %q: status %d", body, res.StatusCode)
		}
	}

	// A device reading by FHIR.
	res, body := srv.postFHIR(bpObservation("p-fhir", "cuff-1", 186, 122))
	if res.StatusCode != http.StatusCreated || res.Header.Get("Location") != "/fhir/Observation/cuff-1" {
		t.Fatalf("POST /fhir/Observation: %d %s", res.StatusCode, body)
	}
	var obs struct {
		Interpretation []struct{ Text string } `json:"interpretation"`
	}
	if err := json.Unmarshal(body, &obs); err != nil || len(obs.Interpretation) != 1 || obs.Interpretation[0].Text != "alert" {
		t.Fatalf("201 body %s: want the interpretation alert", body)
	}
	if res, _ := srv.postFHIR(bpObservation("p-fhir", "cuff-1", 186, 122)); res.StatusCode != http.StatusCreated {
		t.Fatalf("re-sent Observation: %d", res.StatusCode)
	}
	res, body = srv.postFHIR(strings.Replace(bpObservation("p-fhir", "cuff-2", 186, 122), "85354-9", "8310-5", 1))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"OperationOutcome"`) || !strings.Contains(string(body), "Observation.code") {
		t.Fatalf("unknown LOINC code: %d %s", res.StatusCode, body)
	}
	srv.messageOut("p-fhir", "confirm.bp.ask")
	waitTo(t, fake, phones["p-fhir"], 2)
	reply("p-fhir", "1") // yes: symptoms
	if tk := srv.openTicket("p-fhir"); tk["priority"] != "acute" {
		t.Errorf("p-fhir's ticket %+v: want acute (crisis range with symptoms)", tk)
	}
	var readings []store.Event
	for _, ev := range srv.timeline("p-fhir") {
		if ev.Type == "reading" {
			readings = append(readings, ev)
		}
	}
	if len(readings) != 1 || readings[0].Source != "device" || readings[0].Value != "186/122" {
		t.Errorf("p-fhir's readings %+v: want one 186/122 from the device (re-sent once, refused never)", readings)
	}
}
