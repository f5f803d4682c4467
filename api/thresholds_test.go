package api_test

import (
	"net/http"
	"testing"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/rules"
)

// A nurse's thresholds and snoozes: checked (400 naming the field),
// stored in the patient's episodes section, audited.
func TestThresholdsAndSnoozes(t *testing.T) {
	e := newEnvWith(t, func(a *api.API) { a.Clinical = a.Runner.(*runner.Runner) })
	e.enroll(patient("p1", "+13125550101"))

	status, body := e.call("PUT", "/patients/p1/thresholds", `{"thresholds":[{"rule":"bp-crisis","measure":"systolic","at_least":170}]}`)
	if status != http.StatusOK {
		t.Fatalf("thresholds: %d %s", status, body)
	}
	status, body = e.call("PUT", "/patients/p1/thresholds", `{"thresholds":[{"rule":"spo2-emergency","below":80}]}`)
	wantError(t, status, body, http.StatusBadRequest, "rule", "safety floor")
	status, body = e.call("PUT", "/patients/p1/thresholds", `{"thresholds":[{"rule":"bp-crisis","measure":"systolic","below":80}]}`)
	wantError(t, status, body, http.StatusBadRequest, "measure")
	status, body = e.call("PUT", "/patients/p1/thresholds", `{"thresholds":[{"rule":"bp-crisis","measure":"systolic","at_least":170,"above":3}]}`)
	wantError(t, status, body, http.StatusBadRequest, "thresholds[0]")
	status, body = e.call("PUT", "/patients/nobody/thresholds", `{"thresholds":[]}`)
	wantError(t, status, body, http.StatusNotFound, "nobody")

	status, body = e.call("POST", "/patients/p1/snoozes", `{"rule":"hr-watch","until":"2026-03-20","reason":"new beta blocker"}`)
	if status != http.StatusCreated {
		t.Fatalf("snooze: %d %s", status, body)
	}
	status, body = e.call("POST", "/patients/p1/snoozes", `{"rule":"hr-watch","until":"2026-01-01","reason":"x"}`)
	wantError(t, status, body, http.StatusBadRequest, "until")
	status, body = e.call("POST", "/patients/p1/snoozes", `{"rule":"spo2-emergency","until":"2026-03-20","reason":"x"}`)
	wantError(t, status, body, http.StatusBadRequest, "rule")
	status, body = e.call("POST", "/patients/p1/snoozes", `{"rule":"hr-watch","until":"2026-03-20"}`)
	wantError(t, status, body, http.StatusBadRequest, "reason")

	s := e.session("p1")
	var st rules.State
	if err := rules.DecodeState(s.Section(rules.SectionEpisodes), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Thresholds) != 1 || st.Thresholds[0].Value != 170 || len(st.Snoozes) != 1 || st.Snoozes[0].Reason != "new beta blocker" {
		t.Fatalf("state %+v", st)
	}
}
