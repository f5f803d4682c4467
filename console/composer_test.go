package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// The composer: where a reply goes, the SMS count as it is typed, ready
// replies in the patient's language, and WhatsApp's closed window, where
// only a ready reply with a template may go.
func TestComposer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Pack.WhatsApp.Templates = map[string]map[string]content.Template{"canned.reopen": {"en": {Sid: "HX0000000000000000000000000000reop"}}}
	b := e.browser()
	b.login("north@clinic.org", password)
	_, inbox := b.get("/console/")
	id := ticketLink.FindStringSubmatch(inbox)[1]
	_, page := b.post("/console/tickets/"+id+"/claim", nil)
	for _, want := range []string{"goes by <strong>sms</strong>", "We saw your message. How are you feeling right now?", `value="canned.reopen"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("ticket page lacks %q:\n%s", want, page)
		}
	}
	if _, seg := b.post("/console/tickets/"+id+"/segments", url.Values{"text": {strings.Repeat("a", 200)}}); !strings.Contains(seg, "2 SMS segments") || strings.Contains(seg, "warn") {
		t.Fatalf("segments of 200 characters: %s", seg)
	}
	if _, seg := b.post("/console/tickets/"+id+"/segments", url.Values{"text": {strings.Repeat("ó", 150)}}); !strings.Contains(seg, "3 SMS segments") || !strings.Contains(seg, "70 characters") {
		t.Fatalf("segments of 150 accented characters: %s", seg)
	}
	if _, page := b.post("/console/tickets/"+id+"/reply", url.Values{"canned": {"canned.weigh"}, "request_id": {"c1"}}); !strings.Contains(page, "Reply queued") {
		t.Fatalf("ready reply:\n%s", page)
	}
	var sent store.Event
	for _, ev := range e.Timeline("p-north") {
		if ev.Type == "message.out" && ev.Staff != "" {
			sent = ev
		}
	}
	if sent.Message != "canned.weigh" || !strings.Contains(sent.Text, "weigh yourself tomorrow morning") || sent.Channel != "sms" {
		t.Fatalf("ready reply on the timeline: %+v", sent)
	}

	// A WhatsApp-only patient who last wrote 25 hours ago.
	p := store.Patient{ID: "p-wa", Phone: "+15551230077", Language: "en", Timezone: "America/Chicago", Channel: conversations.WhatsApp,
		Team: "north", Programs: []string{"hypertension"}}
	if _, err := e.Runner.Enroll(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Runner.Receive(t.Context(), p.ID, runner.Message{Channel: conversations.WhatsApp, Text: "NURSE", Dedupe: "wa-1"}); err != nil {
		t.Fatal(err)
	}
	var wa string
	open, _ := e.Store.Escalations(t.Context(), store.TicketOpen)
	for _, tk := range open {
		if tk.PatientID == p.ID {
			wa = tk.ID
		}
	}
	if _, page := b.post("/console/tickets/"+wa+"/claim", nil); !strings.Contains(page, "goes by <strong>whatsapp</strong>") {
		t.Fatalf("inside the window:\n%s", page)
	}
	e.Clock.Add(25 * time.Hour)
	b.login("north@clinic.org", password) // the session idled out meanwhile
	status, page := b.get("/console/tickets/" + wa)
	if status != http.StatusOK || !strings.Contains(page, "more than 24 hours ago") || strings.Contains(page, `data-draft="reply-`) {
		t.Fatalf("outside the window, the page should refuse written replies:\n%s", page)
	}
	if !strings.Contains(page, `value="canned.weigh" disabled`) || strings.Contains(page, `value="canned.reopen" disabled`) {
		t.Fatalf("outside the window only templated ready replies may be chosen:\n%s", page)
	}
	if _, page := b.post("/console/tickets/"+wa+"/reply", url.Values{"text": {"hello?"}, "request_id": {"w1"}}); !strings.Contains(page, "more than 24 hours ago") {
		t.Fatalf("a written reply outside the window:\n%s", page)
	}
	if _, page := b.post("/console/tickets/"+wa+"/reply", url.Values{"canned": {"canned.reopen"}, "request_id": {"w2"}}); !strings.Contains(page, "Reply queued") {
		t.Fatalf("the template outside the window:\n%s", page)
	}
	due, err := e.Store.ClaimOutbox(t.Context(), e.Clock.Now().Add(time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range due {
		if m.PatientID == p.ID && m.MessageID == "canned.reopen" {
			found = m.Channel == conversations.WhatsApp && m.Template != ""
		}
	}
	if !found {
		t.Fatalf("the template reply is not queued on WhatsApp with its template: %+v", due)
	}
}

// The owner hands the conversation to a colleague of the team; not to
// someone of another team.
func TestReassignFromTheConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b, c := e.browser(), e.browser()
	b.login("north@clinic.org", password)
	c.login("north2@clinic.org", password)
	_, inbox := b.get("/console/")
	id := ticketLink.FindStringSubmatch(inbox)[1]
	b.post("/console/tickets/"+id+"/claim", nil)
	if _, page := b.post("/console/tickets/"+id+"/reassign", url.Values{"to": {"south@clinic.org"}}); !strings.Contains(page, "Not reassigned") {
		t.Fatalf("reassigning to another team:\n%s", page)
	}
	if _, page := b.post("/console/tickets/"+id+"/reassign", url.Values{"to": {"North2@clinic.org"}}); !strings.Contains(page, "Reassigned to north2@clinic.org") {
		t.Fatalf("reassigning:\n%s", page)
	}
	if _, page := c.get("/console/tickets/" + id); !strings.Contains(page, `data-draft="reply-`) {
		t.Fatalf("the new owner cannot reply:\n%s", page)
	}
	if got := strings.Join(e.auditActions("p-north"), " "); !strings.Contains(got, "north@clinic.org:reassign") {
		t.Fatalf("audit %q", got)
	}
}

// A page acknowledged by phone shows in the inbox and on the ticket: the
// on-call person is on the way, the ticket still waits for a claim.
func TestAcknowledgedPageShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	b.login("north@clinic.org", password)
	_, inbox := b.get("/console/")
	id := ticketLink.FindStringSubmatch(inbox)[1]
	if _, err := e.Runner.AcknowledgePage(t.Context(), id, "+15550009999", "ack-1"); err != nil {
		t.Fatal(err)
	}
	if _, inbox := b.get("/console/"); !strings.Contains(inbox, "page acknowledged") {
		t.Fatalf("inbox after the acknowledgement:\n%s", inbox)
	}
	if _, page := b.get("/console/tickets/" + id); !strings.Contains(page, "page acknowledged by &#43;15550009999") {
		t.Fatalf("ticket after the acknowledgement:\n%s", page)
	}
}

// A start over the patient's daily cap shows on the ticket's timeline:
// the nurse sees the reminder was deferred, not lost.
func TestCappedStartShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		if err := e.Runner.StartFlow(t.Context(), "p-north", "refill-reminder", []conversations.Param{{Key: "medication", Value: m}}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login("north@clinic.org", password)
	_, inbox := b.get("/console/")
	id := ticketLink.FindStringSubmatch(inbox)[1]
	_, page := b.get("/console/tickets/" + id)
	if !strings.Contains(page, `<li class="capped">`) || !strings.Contains(page, "refill-reminder not started today (the program&#39;s daily cap): deferred to a later day") {
		t.Fatalf("ticket timeline without the capped start:\n%s", page)
	}
}
