package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// at15 is 15:00 in Chicago on a Monday: inside the sending window.
var at15 = time.Date(2026, 3, 2, 21, 0, 0, 0, time.UTC)

func enrollChain(t *testing.T, r *Runner, id string, chain ...string) {
	t.Helper()
	_, err := r.Enroll(context.Background(), store.Patient{ID: id, Phone: "+1312555010" + id[len(id)-1:], Language: "en", Timezone: "America/Chicago",
		Channel: chain[0], Channels: chain, Programs: []string{"hypertension"},
		Medications: []store.Medication{{ID: "lisinopril", Times: []string{"08:00"}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func outbox(t *testing.T, st store.Store, now time.Time) []store.OutboxEntry {
	t.Helper()
	es, err := st.ClaimOutbox(context.Background(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		st.Finish(context.Background(), e, store.Delivery{Done: true, Status: "sent"})
	}
	return es
}

// A call is a sync turn: its messages come back to be spoken, are on the
// timeline as delivered, and nothing is queued.
func TestSyncTurn(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.Voice)
	outbox(t, st, at15)
	if err := r.StartFlow(ctx, "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	calls := outbox(t, st, at15)
	if len(calls) != 1 || calls[0].Channel != conversations.Voice || len(calls[0].Labels) != 3 || calls[0].Step == 0 {
		t.Fatalf("reminder call entries %+v", calls)
	}
	script, err := r.Script(ctx, "p1", calls[0].ID)
	if err != nil || len(script.Messages) != 1 || len(script.Messages[0].Labels) != 3 || strings.Contains(script.Messages[0].Text, "\n1 ") {
		t.Fatalf("script %+v %v", script, err)
	}
	rep, err := r.Receive(ctx, "p1", Message{Channel: conversations.Voice, Text: "1", Sync: true, Dedupe: "call:1"})
	if err != nil || len(rep.Messages) == 0 || rep.Lang != "en" {
		t.Fatalf("reply %+v %v", rep, err)
	}
	if n, _ := st.OutboxDepth(ctx); n != 0 {
		t.Fatalf("sync turn queued %d messages", n)
	}
	again, err := r.Receive(ctx, "p1", Message{Channel: conversations.Voice, Text: "1", Sync: true, Dedupe: "call:1"})
	if err != nil || !again.Duplicate || len(again.Messages) != 0 {
		t.Fatalf("a retried request ran again: %+v %v", again, err)
	}
	evs, _ := st.Timeline(ctx, "p1")
	last := evs[len(evs)-1]
	if last.Type != "message.out" || last.Channel != conversations.Voice || last.Status != "delivered" {
		t.Fatalf("last event %+v", last)
	}
}

// No key pressed twice runs the question's timeout now.
func TestSilence(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.Voice)
	r.StartFlow(ctx, "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}})
	if p, err := r.Prompt(ctx, "p1"); err != nil || len(p.Messages) != 1 {
		t.Fatalf("prompt %+v %v", p, err)
	}
	if _, err := r.Silence(ctx, "p1", "call:s"); err != nil {
		t.Fatal(err)
	}
	timers, _ := st.Timers(ctx, "p1")
	for _, tm := range timers {
		if tm.Name == conversations.FlowTimer {
			p, _ := r.Prompt(ctx, "p1")
			if len(p.Messages) > 0 && p.Messages[0].Message == "med.ask" {
				t.Fatalf("still on the first question after silence")
			}
		}
	}
}

// Unanswered calls are retried by the program's policy, then fall back.
func TestRetryCallThenFallback(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.Voice, conversations.SMS)
	first := outbox(t, st, at15)
	if len(first) != 1 || first[0].Channel != conversations.Voice {
		t.Fatalf("welcome %+v", first)
	}
	id := first[0].ID
	for attempt := 1; attempt <= 2; attempt++ {
		ch, err := r.RetryCall(ctx, "p1", id, attempt)
		if err != nil || ch != conversations.Voice {
			t.Fatalf("retry %d: %q %v", attempt, ch, err)
		}
		// A repeated status callback does not place a second retry.
		if ch, err := r.RetryCall(ctx, "p1", id, attempt); err != nil || ch != "" {
			t.Fatalf("repeated retry %d: %q %v", attempt, ch, err)
		}
		if early := outbox(t, st, clock.Now()); len(early) != 0 {
			t.Fatalf("retry %d due at once", attempt)
		}
		clock.Add(15 * time.Minute)
		next := outbox(t, st, clock.Now())
		if len(next) != 1 || next[0].Channel != conversations.Voice || next[0].Attempts != attempt {
			t.Fatalf("retry %d entries %+v", attempt, next)
		}
		id = next[0].ID
	}
	ch, err := r.RetryCall(ctx, "p1", id, 3)
	if err != nil || ch != conversations.SMS {
		t.Fatalf("after the last retry: %q %v, want sms", ch, err)
	}
	sms := outbox(t, st, clock.Now())
	if len(sms) != 1 || sms[0].Channel != conversations.SMS || !strings.HasPrefix(sms[0].Text, "Welcome") {
		t.Fatalf("fallback %+v", sms)
	}
}

// Linking Telegram puts it first and welcomes the patient there; a chat
// belongs to one patient.
func TestLinkChat(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, at15)
	if err := r.LinkAddress(ctx, "p1", conversations.Telegram, "4242"); err != nil {
		t.Fatal(err)
	}
	c, err := r.Contact(ctx, "p1")
	if err != nil || c.Address(conversations.Telegram) != "4242" || strings.Join(c.Chain, ",") != "telegram,sms" {
		t.Fatalf("contact %+v %v", c, err)
	}
	welcome := outbox(t, st, at15)
	if len(welcome) != 1 || welcome[0].Channel != conversations.Telegram || welcome[0].To != "4242" {
		t.Fatalf("welcome %+v", welcome)
	}
	// A re-enrollment by the clinic keeps the link.
	enrollChain(t, r, "p1", conversations.Telegram, conversations.SMS)
	if p, err := st.PatientByAddress(ctx, "telegram", "4242"); err != nil || p.ID != "p1" {
		t.Fatalf("after re-enrollment: %+v %v", p, err)
	}
	enrollChain(t, r, "p2", conversations.SMS)
	if err := r.LinkAddress(ctx, "p2", conversations.Telegram, "4242"); !errors.Is(err, store.ErrAddressTaken) {
		t.Fatalf("linking a taken chat: %v", err)
	}
}

// Writing on WhatsApp opens the 24-hour window.
func TestWhatsAppWindow(t *testing.T) {
	t.Parallel()
	r, clock, _ := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.WhatsApp)
	if c, _ := r.Contact(ctx, "p1"); c.InWindow(clock.Now()) {
		t.Fatal("in the window before the patient wrote")
	}
	r.Receive(ctx, "p1", Message{Channel: conversations.WhatsApp, Text: "hi", Dedupe: "w1"})
	clock.Add(23 * time.Hour)
	if c, _ := r.Contact(ctx, "p1"); !c.InWindow(clock.Now()) {
		t.Fatal("window closed after 23 h")
	}
	clock.Add(2 * time.Hour)
	if c, _ := r.Contact(ctx, "p1"); c.InWindow(clock.Now()) {
		t.Fatal("window open after 25 h")
	}
}
