package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

type outboxJSON struct {
	ID, Patient, Channel, Status string
	LastError                    string `json:"last_error"`
	MessageID                    string `json:"message_id"`
	ErrorCode                    int    `json:"error_code"`
	Attempts                     int
}

// deadLetters makes every message due now a dead letter, as the
// dispatcher does when a retry window ends on a 5xx.
func (e *env) deadLetters() {
	e.t.Helper()
	claimed, err := e.st.ClaimOutbox(e.t.Context(), e.clock.Now(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range claimed {
		err := e.st.Finish(e.t.Context(), c, store.Delivery{DeadAt: e.clock.Now(), Status: "failed", ErrorCode: 20500,
			Reason: "provider_error", Attempted: true})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) outbox(query string) ([]outboxJSON, string) {
	e.t.Helper()
	status, body := e.call("GET", "/outbox"+query, "")
	if status != http.StatusOK {
		e.t.Fatalf("GET /outbox%s: %d %s", query, status, body)
	}
	if strings.Contains(string(body), "Welcome") || strings.Contains(string(body), "+1555") {
		e.t.Errorf("GET /outbox%s shows a message's text or number: %s", query, body)
	}
	var out struct {
		Messages []outboxJSON
		Next     string
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Messages == nil {
		e.t.Fatalf("GET /outbox%s: %s %v", query, body, err)
	}
	return out.Messages, out.Next
}

// Dead letters as an operator sees them: listed page by page, resent once,
// cancelled, each audited; refused with 404 or 409 when there is nothing
// to act on.
func TestDeadLetterRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	e.enroll(patient("p2", "+15551230002"))
	e.enroll(patient("p3", "+15551230003"))
	e.deadLetters()

	all, next := e.outbox("?status=failed")
	if len(all) != 3 || next != "" {
		t.Fatalf("dead letters %+v next %q, want the three welcomes", all, next)
	}
	first := all[0]
	if first.Patient != "p1" || first.Channel != "sms" || first.Status != "failed" || first.LastError != "provider_error" ||
		first.ErrorCode != 20500 || first.Attempts != 1 || first.MessageID == "" {
		t.Errorf("dead letter %+v", first)
	}
	page, next := e.outbox("?limit=2")
	if len(page) != 2 || next != page[1].ID {
		t.Fatalf("first page %+v next %q", page, next)
	}
	page, next = e.outbox("?limit=2&after=" + next)
	if len(page) != 1 || page[0].ID != all[2].ID || next != "" {
		t.Fatalf("second page %+v next %q", page, next)
	}

	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/outbox?status=queued", "", http.StatusBadRequest},
		{"GET", "/outbox?limit=0", "", http.StatusBadRequest},
		{"GET", "/outbox?limit=1001", "", http.StatusBadRequest},
		{"GET", "/outbox?after=%20x", "", http.StatusBadRequest},
		{"POST", "/outbox/nope/resend", "", http.StatusNotFound},
		{"POST", "/outbox/nope/cancel", "", http.StatusNotFound},
		{"POST", "/outbox/" + first.ID + "/resend", `{"staff":"a@clinic.org"}`, http.StatusBadRequest},
		{"POST", "/outbox/" + first.ID + "/resend", `{} {}`, http.StatusBadRequest},
	} {
		if status, body := e.call(c.method, c.path, c.body); status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, status, body, c.status)
		}
	}

	status, body := e.call("POST", "/outbox/"+first.ID+"/resend", "{}")
	var got outboxJSON
	if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil || got.Status != "queued" || got.ID != first.ID || got.Attempts != 0 {
		t.Fatalf("resend: %d %s", status, body)
	}
	for _, ev := range e.timeline("p1") {
		if ev.ID == first.ID && ev.Status != "queued" {
			t.Errorf("timeline event after the resend: %+v, want queued", ev)
		}
	}
	status, body = e.call("POST", "/outbox/"+first.ID+"/resend", "")
	wantError(t, status, body, http.StatusConflict, "not failed")
	status, body = e.call("POST", "/outbox/"+first.ID+"/cancel", "")
	wantError(t, status, body, http.StatusConflict, "not failed")
	if left, _ := e.outbox(""); len(left) != 2 {
		t.Fatalf("dead letters after a resend: %+v", left)
	}

	second := all[1]
	status, body = e.call("POST", "/outbox/"+second.ID+"/cancel", "")
	if status != http.StatusOK || !strings.Contains(string(body), `"status":"cancelled"`) {
		t.Fatalf("cancel: %d %s", status, body)
	}
	for _, ev := range e.timeline("p2") {
		if ev.ID == second.ID && (ev.Status != "cancelled" || ev.Reason != "operator") {
			t.Errorf("timeline event after the cancel: %+v", ev)
		}
	}
	status, body = e.call("POST", "/outbox/"+second.ID+"/cancel", "")
	wantError(t, status, body, http.StatusNotFound, second.ID)

	recs, err := e.runner.AuditRecords(t.Context(), audit.Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range recs {
		switch r.Action {
		case audit.ListOutbox, audit.ResendMessage, audit.CancelMessage:
			if r.Staff != "api" || r.From == "" {
				t.Errorf("audit record %+v: want staff api and the client's address", r)
			}
			acts = append(acts, r.Action+" "+r.Patient)
		}
	}
	want := "list_outbox |list_outbox |list_outbox |resend_message p1|list_outbox |cancel_message p2"
	if strings.Join(acts, "|") != want {
		t.Errorf("audit %q, want %q", strings.Join(acts, "|"), want)
	}
}
