package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/audit"
)

func riskEnv(t *testing.T) *env {
	return newEnvWith(t, func(a *api.API) { a.Risk = a.Jobs.(api.Risk) })
}

func (e *env) risk(id string) api.RiskView {
	e.t.Helper()
	status, body := e.call("GET", "/patients/"+id+"/risk", "")
	if status != http.StatusOK {
		e.t.Fatalf("GET risk: %d %s", status, body)
	}
	var v api.RiskView
	if err := json.Unmarshal(body, &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// TestRiskAPI: the public contract's GET /patients/{id}/risk, with the
// points explained; encounters and social needs move it; a clinician pins
// and unpins it; bad input is a 400 naming the field.
func TestRiskAPI(t *testing.T) {
	t.Parallel()
	e := riskEnv(t)
	p := patient("r1", "+15550100001")
	p["social_needs"] = []any{"transport", "food"}
	e.enroll(p)

	status, body := e.call("GET", "/patients/r1/risk", "")
	if status != http.StatusOK {
		t.Fatalf("GET: %d %s", status, body)
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	for _, k := range []string{"tier", "points", "pinned", "reachability"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET risk has no %q: %s", k, body)
		}
	}
	v := e.risk("r1")
	if v.Tier != "low" || len(v.Points) != 1 || v.Points[0].Points != 2 || v.Points[0].Why != "social need: food, transport" || v.Pinned != nil || v.Reachability != "reachable" {
		t.Errorf("with two social needs: %+v", v)
	}

	date := t0.AddDate(0, 0, -3).Format(time.DateOnly)
	if status, body := e.call("POST", "/patients/r1/encounters", `{"kind":"emergency","date":"`+date+`"}`); status != http.StatusCreated {
		t.Fatalf("POST encounter: %d %s", status, body)
	}
	if v := e.risk("r1"); v.Tier != "medium" || v.Score != 5 {
		t.Errorf("after an ED visit: %+v", v)
	}
	status, body = e.call("POST", "/patients/r1/encounters", `{"kind":"clinic","date":"`+date+`"}`)
	wantError(t, status, body, http.StatusBadRequest, "kind")
	status, body = e.call("POST", "/patients/r1/encounters", `{"kind":"inpatient","date":"yesterday"}`)
	wantError(t, status, body, http.StatusBadRequest, "date")
	status, body = e.call("POST", "/patients/r1/encounters", `{"kind":"inpatient","date":"`+date+`","ward":"3"}`)
	wantError(t, status, body, http.StatusBadRequest, "ward")
	status, body = e.call("POST", "/patients/nobody/encounters", `{"kind":"inpatient","date":"`+date+`"}`)
	wantError(t, status, body, http.StatusNotFound, "nobody")

	status, body = e.call("PUT", "/patients/r1/risk", `{"tier":"high","reason":"lives alone, new to insulin","until":"2026-03-20"}`)
	if status != http.StatusOK {
		t.Fatalf("PUT risk: %d %s", status, body)
	}
	v = e.risk("r1")
	if v.Tier != "high" || v.ScoredTier != "medium" || v.Pinned == nil || v.Pinned.Reason != "lives alone, new to insulin" ||
		!v.Pinned.Until.Equal(time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)) || v.Pinned.By != "api" {
		t.Errorf("pinned: %+v %+v", v, v.Pinned)
	}
	for _, c := range []struct{ body, field string }{
		{`{"tier":"acute","reason":"x","until":"2026-03-20"}`, "tier"},
		{`{"tier":"high","reason":"","until":"2026-03-20"}`, "reason"},
		{`{"tier":"high","reason":"x","until":"2020-01-01"}`, "until"},
		{`{"tier":"high","reason":"x","until":"soon"}`, "until"},
	} {
		status, body := e.call("PUT", "/patients/r1/risk", c.body)
		wantError(t, status, body, http.StatusBadRequest, c.field)
	}
	if status, body := e.call("DELETE", "/patients/r1/risk", ""); status != http.StatusOK {
		t.Fatalf("DELETE risk: %d %s", status, body)
	}
	if v := e.risk("r1"); v.Tier != "medium" || v.Pinned != nil {
		t.Errorf("unpinned: %+v", v)
	}
	status, body = e.call("GET", "/patients/nobody/risk", "")
	wantError(t, status, body, http.StatusNotFound, "nobody")

	var risks []string
	for _, ev := range e.timeline("r1") {
		if ev.Type == "risk" {
			risks = append(risks, ev.Status+" "+ev.Reason)
		}
	}
	if got := strings.Join(risks, ","); got != "medium event,high pinned,medium unpinned" {
		t.Errorf("risk events %q", got)
	}
	actions := map[string]int{}
	recs, _ := e.runner.AuditRecords(t.Context(), audit.Filter{Patient: "r1"}, 0)
	for _, r := range recs {
		actions[r.Action]++
		if strings.Contains(r.Detail, "insulin") {
			t.Errorf("audit detail carries the pin's reason: %+v", r)
		}
	}
	if actions[audit.ViewRisk] < 4 || actions[audit.PinRisk] != 1 || actions[audit.UnpinRisk] != 1 || actions[audit.Encounter] != 1 {
		t.Errorf("audit actions %v", actions)
	}
}

// TestSocialNeedsInvalid: an unknown or repeated social need is refused,
// naming the field.
func TestSocialNeedsInvalid(t *testing.T) {
	t.Parallel()
	e := riskEnv(t)
	for _, needs := range [][]any{{"wifi"}, {"food", "food"}} {
		p := patient("s1", "+15550100002")
		p["social_needs"] = needs
		status, body := e.call("POST", "/patients", jsonOf(t, p))
		wantError(t, status, body, http.StatusBadRequest, "social_needs[")
	}
}
