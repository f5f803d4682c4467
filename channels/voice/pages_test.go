package voice_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/store"
)

const (
	onCall1 = "+15550001111"
	onCall2 = "+15550002222"
)

// withLadder pages onCall1 then onCall2, every 10 minutes, answering page
// calls on the env's webhooks.
func withLadder(e *env) {
	e.Runner.Teams.Default = escalation.Team{OnCall: []string{onCall1, onCall2}, PageEvery: 10 * time.Minute}
	e.Runner.ConsoleURL = "https://tend.example/console/"
	e.hooks.Pages = e.Runner
}

// waitingTicket has the patient ask for a person (medium: 4 hours) and
// returns the ticket.
func (e *env) waitingTicket(patientID string) store.Escalation {
	e.t.Helper()
	if _, err := e.Runner.Receive(e.t.Context(), patientID, runner.Message{Channel: conversations.SMS, Text: "HUMAN", Dedupe: "human-" + patientID}); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	es := e.escalations()
	if len(es) != 1 {
		e.t.Fatalf("tickets %+v, want one", es)
	}
	return es[0]
}

// pages fires the due timers and returns the pages queued, without
// sending them.
func (e *env) pages() []store.OutboxEntry {
	e.t.Helper()
	e.Runner.FireDue(e.t.Context(), 4)
	batch, err := e.Store.ClaimOutbox(e.t.Context(), e.Clock.Now(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range batch {
		if err := e.Store.Finish(e.t.Context(), en, store.Delivery{Done: true, Status: "sent"}); err != nil {
			e.t.Fatal(err)
		}
	}
	return batch
}

// The ladder with the manual clock: as the deadline nears the on-call
// number gets an SMS, then a call; pressing 1 on the call acknowledges
// and the pages stop (the ticket waits for a claim).
func TestPageCallAcknowledged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLadder)
	e.enroll(patient("p-1", patientPhone, "en"))
	tk := e.waitingTicket("p-1")

	e.Clock.Set(tk.Due.Add(-time.Hour)) // a quarter of the 4 hours left
	got := e.pages()
	if len(got) != 1 || got[0].Channel != conversations.SMS || got[0].To != onCall1 || got[0].Ticket != tk.ID {
		t.Fatalf("first page %+v, want an SMS to the first number", got)
	}

	e.Clock.Add(10 * time.Minute)
	e.Runner.FireDue(t.Context(), 4)
	call := e.dispatch(0)
	if call.To != onCall1 || call.From != voiceFrom || !strings.HasPrefix(call.URL, e.srv.URL+voice.PageAnswerPath+"?") ||
		!strings.HasPrefix(call.StatusCallback, e.srv.URL+voice.PageStatusPath+"?") || call.Param("t") != tk.ID || call.Param("p") != "" {
		t.Fatalf("page call %+v, want a call to the first number about the ticket", call)
	}
	c := e.fake.Answer(t, call, voicetest.Human)
	said := strings.Join(c.Said(), " ")
	if !strings.Contains(said, runner.PageCallText("medium")) || !strings.Contains(said, "Press 1") || strings.Contains(said, "p-1") || strings.Contains(said, patientPhone) {
		t.Fatalf("page call said %q: want the priority and press 1, no patient", said)
	}
	if g := c.Gather(); g == nil || g.Attr("numDigits") != "1" || !strings.Contains(g.Attr("action"), voice.PageKeyPath) {
		t.Fatalf("page call waits for %q, want one key", c.Waiting())
	}
	c.Press("2") // not the key: asked again
	c.Press("1")
	heard(t, c, "Acknowledged. No more pages for this ticket. Claim it in the Tend console. Goodbye.")
	if !c.Ended() {
		t.Fatal("the page call goes on after the acknowledgement")
	}
	if n := e.sender.Active(); n != 0 {
		t.Errorf("%d calls hold a slot after the page call ended", n)
	}
	// Twilio retries the key press: the same acknowledgement, nothing more.
	key := c.Steps[len(c.Steps)-1].URL
	form := url.Values{"CallSid": {call.SID}, "AccountSid": {e.fake.AccountSID}, "From": {voiceFrom}, "To": {onCall1}, "Digits": {"1"}}
	req, _ := voicetest.SignedRequest(key, e.fake.AuthToken, form)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Acknowledged.") {
		t.Fatalf("retried key press: %d %s", res.StatusCode, body)
	}

	e.Clock.Add(time.Hour)
	if got := e.pages(); len(got) != 0 {
		t.Fatalf("paged after the acknowledgement: %+v", got)
	}
	after, _ := e.Runner.Ticket(t.Context(), tk.ID)
	if !after.Waiting() || after.AckedBy != onCall1 {
		t.Fatalf("ticket %+v, want it waiting for a claim, acknowledged by the first number", after)
	}
	var pages []string
	for _, ev := range channeltest.Of(e.Timeline("p-1"), "page") {
		pages = append(pages, ev.Channel+":"+ev.Status+":"+ev.Staff)
	}
	if want := []string{"sms:sent:" + onCall1, "voice:sent:" + onCall1, "voice:acknowledged:" + onCall1}; !slices.Equal(pages, want) {
		t.Fatalf("page events %v, want %v", pages, want)
	}
}

// A page call a machine answers says the priority and where to look; a
// call answered after the ticket was claimed says it needs nobody.
func TestPageCallMachineAndClaimed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLadder)
	e.enroll(patient("p-1", patientPhone, "en"))
	tk := e.waitingTicket("p-1")
	e.Clock.Set(tk.Due.Add(-time.Hour))
	e.pages() // the SMS
	e.Clock.Add(10 * time.Minute)
	e.Runner.FireDue(t.Context(), 4)
	first := e.dispatch(0)
	c := e.fake.Answer(t, first, voicetest.Machine)
	if !c.Ended() || c.Gather() != nil || !slices.Contains(c.Said(), runner.PageCallText("medium")) {
		t.Fatalf("voicemail: heard %q, ended %v", c.Said(), c.Ended())
	}
	e.Clock.Add(20 * time.Minute) // the SMS to the second number, then its call
	e.pages()
	e.Clock.Add(10 * time.Minute)
	e.Runner.FireDue(t.Context(), 4)
	second := e.dispatch(1)
	if second.To != onCall2 {
		t.Fatalf("second page call to %s, want %s", second.To, onCall2)
	}
	if _, err := e.Runner.Claim(t.Context(), tk.ID, "nurse@clinic.org"); err != nil {
		t.Fatal(err)
	}
	c = e.fake.Answer(t, second, voicetest.Human)
	if !c.Ended() || !slices.ContainsFunc(c.Said(), func(s string) bool { return strings.Contains(s, "no longer needs you") }) {
		t.Fatalf("page call after the claim: heard %q, ended %v", c.Said(), c.Ended())
	}
}
