package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
)

type ticketJSON struct {
	ID, Patient, Team, Priority, Reason, Status, Owner string
}

func (e *env) tickets(query string) []ticketJSON {
	e.t.Helper()
	status, body := e.call("GET", "/tickets"+query, "")
	if status != http.StatusOK {
		e.t.Fatalf("GET /tickets%s: %d %s", query, status, body)
	}
	var out struct{ Tickets []ticketJSON }
	if err := json.Unmarshal(body, &out); err != nil || out.Tickets == nil {
		e.t.Fatalf("GET /tickets%s: %s %v", query, body, err)
	}
	return out.Tickets
}

// The ticket actions integrators drive, as the public contract names them.
func TestTicketActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := patient("p1", "+15551230001")
	p["team"] = "north"
	e.enroll(p)
	e.enroll(patient("p2", "+15551230002"))
	ctx := t.Context()
	for _, a := range []staff.Account{
		{Email: "a@clinic.org", Role: staff.Nurse, Teams: []string{"north"}},
		{Email: "b@clinic.org", Role: staff.Coach, Teams: []string{"north"}},
		{Email: "c@clinic.org", Role: staff.Coach, Teams: []string{"south"}},
		{Email: "off@clinic.org", Role: staff.Coach, Teams: []string{"north"}, Disabled: true},
	} {
		if err := e.st.PutStaff(ctx, a, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"p1", "p2"} {
		if _, err := e.runner.Receive(ctx, id, runner.Message{Channel: conversations.SMS, Text: "HUMAN", Dedupe: "h-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.tickets("?status=open"); len(got) != 2 {
		t.Fatalf("open tickets %+v, want 2", got)
	}
	north := e.tickets("?status=open&team=north")
	if len(north) != 1 || north[0].Patient != "p1" || north[0].Team != "north" || north[0].Priority != "medium" || north[0].Owner != "" {
		t.Fatalf("team north %+v", north)
	}
	if got := e.tickets("?team=default"); len(got) != 1 || got[0].Patient != "p2" {
		t.Fatalf("team default %+v", got)
	}
	id := north[0].ID
	base := "/tickets/" + id

	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/tickets?status=snoozed", "", http.StatusBadRequest},
		{base + "/claim", `{"staff":"not an email"}`, http.StatusBadRequest},
		{base + "/claim", `{"staff":"a@clinic.org","extra":1}`, http.StatusBadRequest},
		{base + "/claim", `{"staff":"a@clinic.org"} {}`, http.StatusBadRequest},
		{"/tickets/nope/claim", `{"staff":"a@clinic.org"}`, http.StatusNotFound},
		{base + "/claim", `{"staff":"nobody@clinic.org"}`, http.StatusBadRequest},      // no account
		{base + "/claim", `{"staff":"off@clinic.org"}`, http.StatusForbidden},          // disabled
		{base + "/claim", `{"staff":"c@clinic.org"}`, http.StatusNotFound},             // another team's patient
		{base + "/reply", `{"staff":"a@clinic.org","text":"hi"}`, http.StatusConflict}, // not claimed yet
	} {
		method := "POST"
		if c.body == "" {
			method = "GET"
		}
		if status, body := e.call(method, c.path, c.body); status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", method, c.path, c.body, status, body, c.status)
		}
	}
	if status, body := e.call("POST", base+"/claim", `{"staff":"A@clinic.org"}`); status != http.StatusOK {
		t.Fatalf("claim: %d %s", status, body)
	}
	status, body := e.call("POST", base+"/claim", `{"staff":"b@clinic.org"}`)
	var conflict struct{ Error, Owner string }
	json.Unmarshal(body, &conflict)
	if status != http.StatusConflict || conflict.Owner != "a@clinic.org" || conflict.Error == "" {
		t.Fatalf("second claim: %d %s, want 409 naming the owner", status, body)
	}
	if got := e.tickets("?status=claimed"); len(got) != 1 || got[0].Owner != "a@clinic.org" {
		t.Fatalf("claimed tickets %+v", got)
	}
	if status, body := e.call("POST", base+"/reply", `{"staff":"b@clinic.org","text":"hi"}`); status != http.StatusConflict {
		t.Fatalf("reply by a non-owner: %d %s", status, body)
	}
	if status, body := e.call("POST", base+"/reply", `{"staff":"a@clinic.org","text":""}`); status != http.StatusBadRequest {
		t.Fatalf("empty reply: %d %s", status, body)
	}
	if status, body := e.call("POST", base+"/reply", `{"staff":"a@clinic.org","text":"Hi, I'm your nurse. How are you feeling?"}`); status != http.StatusAccepted {
		t.Fatalf("reply: %d %s", status, body)
	}
	if status, body := e.call("POST", base+"/notes", `{"staff":"a@clinic.org","text":"sounded tired"}`); status != http.StatusCreated {
		t.Fatalf("note: %d %s", status, body)
	}
	if status, body := e.call("POST", base+"/resolve", `{"staff":"a@clinic.org","follow_up":"nope"}`); status != http.StatusBadRequest {
		t.Fatalf("resolve with an unknown follow-up: %d %s", status, body)
	}
	if status, body := e.call("POST", base+"/resolve", `{"staff":"a@clinic.org","follow_up":"hf-daily-weight"}`); status != http.StatusOK {
		t.Fatalf("resolve: %d %s", status, body)
	}
	if got := e.tickets("?status=resolved"); len(got) != 1 || got[0].ID != id {
		t.Fatalf("resolved tickets %+v", got)
	}
	var staffed, notes, ticketEvents int
	for _, ev := range e.timeline("p1") {
		switch {
		case ev.Type == "message.out" && ev.Staff == "a@clinic.org":
			staffed++
		case ev.Type == "note":
			notes++
		case ev.Type == "ticket":
			ticketEvents++
		}
	}
	if staffed != 1 || notes != 1 || ticketEvents != 2 {
		t.Fatalf("timeline: %d staff messages, %d notes, %d ticket events; want 1, 1, 2", staffed, notes, ticketEvents)
	}
	if s := e.session("p1"); s.Owner != "" || s.Flow != "hf-daily-weight" {
		t.Fatalf("after the hand-back: owner %q flow %q; want the automation running the follow-up", s.Owner, s.Flow)
	}

	// p2 writes again soon after their ticket was resolved: it is
	// reopened, listed as waiting (status=open) and on its own, and
	// claimed like an open one.
	e.runner.ReopenWithin = 24 * time.Hour
	if err := e.st.PutStaff(ctx, staff.Account{Email: "d@clinic.org", Role: staff.Nurse, Teams: []string{staff.DefaultTeam}}, true); err != nil {
		t.Fatal(err)
	}
	p2 := e.tickets("?status=open&team=default")[0].ID
	if status, body := e.call("POST", "/tickets/"+p2+"/resolve", `{"staff":"d@clinic.org"}`); status != http.StatusOK {
		t.Fatalf("resolve p2's ticket: %d %s", status, body)
	}
	if _, err := e.runner.Receive(ctx, "p2", runner.Message{Channel: conversations.SMS, Text: "one more question", Dedupe: "again-p2"}); err != nil {
		t.Fatal(err)
	}
	if got := e.tickets("?status=open"); len(got) != 1 || got[0].ID != p2 || got[0].Status != "reopened" || got[0].Owner != "" {
		t.Fatalf("open tickets %+v, want p2's reopened", got)
	}
	if got := e.tickets("?status=reopened"); len(got) != 1 || got[0].ID != p2 {
		t.Fatalf("reopened tickets %+v", got)
	}
	if status, body := e.call("POST", "/tickets/"+p2+"/claim", `{"staff":"d@clinic.org"}`); status != http.StatusOK || !strings.Contains(string(body), `"status":"claimed"`) {
		t.Fatalf("claim the reopened ticket: %d %s", status, body)
	}
}

// Every read of a patient's data and every action is on the audit log,
// searchable by patient and staff, refusals included.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	ctx := t.Context()
	if err := e.st.PutStaff(ctx, staff.Account{Email: "n@clinic.org", Role: staff.Nurse, Teams: []string{"north"}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.Receive(ctx, "p1", runner.Message{Channel: conversations.SMS, Text: "HUMAN", Dedupe: "h"}); err != nil {
		t.Fatal(err)
	}
	e.call("GET", "/patients/p1", "")
	e.call("GET", "/patients/p1/timeline", "")
	id := e.tickets("?status=open")[0].ID
	if status, _ := e.call("POST", "/tickets/"+id+"/claim", `{"staff":"n@clinic.org"}`); status != http.StatusNotFound {
		t.Fatalf("a nurse of another team claimed: %d", status)
	}
	status, body := e.call("GET", "/audit?patient=p1", "")
	var got struct {
		Records []struct {
			Seq                                        int
			Staff, Action, Patient, From, Detail, Hash string
		}
	}
	if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil {
		t.Fatalf("GET /audit: %d %s", status, body)
	}
	var actions []string
	for _, r := range got.Records {
		if r.From == "" || r.Hash == "" {
			t.Errorf("record without address or hash: %+v", r)
		}
		actions = append(actions, r.Staff+":"+r.Action)
	}
	want := []string{"api:enroll", "api:view_patient", "api:view_timeline", "n@clinic.org:view_patient", "api:list_audit"}
	if len(actions) != len(want) {
		t.Fatalf("audit of p1: %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit of p1: %v, want %v", actions, want)
		}
	}
	if status, body := e.call("GET", "/audit?staff=n@clinic.org&from=2000-01-01T00:00:00Z", ""); status != http.StatusOK || !json.Valid(body) {
		t.Fatalf("GET /audit by staff: %d %s", status, body)
	}
	if status, _ := e.call("GET", "/audit?from=yesterday", ""); status != http.StatusBadRequest {
		t.Fatalf("a bad time: %d", status)
	}
}

// The OpenAPI document is served without the token and names every route
// the API serves, and no other.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.callAuth("GET", "/openapi.json", "", "")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); status != http.StatusOK || err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("GET /openapi.json: %d %v", status, err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	a := &api.API{Runner: e.runner, Tickets: e.runner, Audit: e.runner, Outbox: e.runner, Jobs: e.runner, Adherence: e.runner, Engine: e.engine, Token: token}
	chi.Walk(a.Routes().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+strings.TrimSuffix(route, "/")] = true
		return nil
	})
	for r := range routed {
		if !documented[r] {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("%s is in openapi.json but not served", d)
		}
	}
}
