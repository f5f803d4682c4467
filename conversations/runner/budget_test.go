package runner

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// budgetRunner is a test runner whose SMS channel holds a message to
// maxChars characters, and the patient p1 it enrolled with a medicine of
// the longest name enrollment allows, which they consented to see.
func budgetRunner(t *testing.T, maxChars func(r *Runner) int) (*Runner, store.Store, *[]string) {
	t.Helper()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, _, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	specs := append(channels.Specs(nil), testChannels...)
	specs[0].MaxChars = maxChars(r)
	r.Channels = specs
	var tooLong []string
	r.TooLong = func(ch string) { tooLong = append(tooLong, ch) }
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms", PHIOK: true,
		Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Display: longName, Times: []string{"08:00"}}}}
	if _, err := r.Enroll(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return r, st, &tooLong
}

// longName is a medicine's name of the 40 characters enrollment allows.
const longName = "metoprolol succinate extended 25 mg tabs"

// reminderText is the dose reminder as SMS shows it when it names no
// medicine.
func reminderText(t *testing.T, r *Runner) string {
	t.Helper()
	ef := conversations.Effect{Kind: conversations.Send, Message: "med.ask", Flow: "med-reminder", State: "ask", Params: []conversations.Param{{Key: "medication", Value: "m"}}}
	text, err := r.Render.Text("en", &store.Patient{Language: "en"}, &ef)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// outEvents are p1's message.out events of message id.
func outEvents(t *testing.T, st store.Store, id string) []store.Event {
	t.Helper()
	events, err := st.Timeline(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range events {
		if e.Type == "message.out" && e.Message == id {
			out = append(out, e)
		}
	}
	return out
}

// TestOverBudgetFallsBackToGeneric: a reminder that would name a long
// (valid) medicine and so overflow its channel is sent with "your
// medicine" instead.
func TestOverBudgetFallsBackToGeneric(t *testing.T) {
	t.Parallel()
	var generic string
	r, st, tooLong := budgetRunner(t, func(r *Runner) int {
		generic = reminderText(t, r)
		return utf8.RuneCountInString(generic)
	})
	if !strings.Contains(generic, "your medicine") {
		t.Fatalf("generic reminder %q does not say your medicine", generic)
	}
	*tooLong = nil // the welcome is longer than this budget
	if err := r.StartFlow(context.Background(), "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "m"}}); err != nil {
		t.Fatal(err)
	}
	evs := outEvents(t, st, "med.ask")
	if len(evs) != 1 || evs[0].Status != "queued" || evs[0].Text != generic {
		t.Fatalf("med.ask events %+v, want one queued with %q", evs, generic)
	}
	if strings.Contains(evs[0].Text, "metoprolol") {
		t.Errorf("reminder %q names the medicine past its budget", evs[0].Text)
	}
	entries, err := st.ClaimOutbox(context.Background(), r.Clock().Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var sent bool
	for _, e := range entries {
		if e.MessageID == "med.ask" {
			sent = conversations.Numbered(e.Text, e.Labels) == generic
		}
	}
	if !sent {
		t.Errorf("outbox %+v: want med.ask with the generic text", entries)
	}
	if len(*tooLong) != 0 {
		t.Errorf("too long counted %v for a message that went", *tooLong)
	}
}

// TestOverBudgetNotSent: a message over budget even without the medicine's
// name is not queued; its event is cancelled with reason too_long, and it
// is counted. STOP's confirmation, exempt, still goes.
func TestOverBudgetNotSent(t *testing.T) {
	t.Parallel()
	r, st, tooLong := budgetRunner(t, func(*Runner) int { return 20 })
	ctx := context.Background()
	if err := r.StartFlow(ctx, "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "m"}}); err != nil {
		t.Fatal(err)
	}
	evs := outEvents(t, st, "med.ask")
	if len(evs) != 1 || evs[0].Status != "cancelled" || evs[0].Reason != channels.ReasonTooLong {
		t.Fatalf("med.ask events %+v, want one cancelled, too_long", evs)
	}
	if err := r.Inbound(ctx, "p1", "sms", "STOP", "SM1"); err != nil {
		t.Fatal(err)
	}
	entries, err := st.ClaimOutbox(ctx, r.Clock().Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.MessageID)
	}
	if strings.Contains(strings.Join(ids, " "), "med.ask") || !strings.Contains(strings.Join(ids, " "), "keyword.stop.confirm") {
		t.Errorf("outbox holds %v: want the STOP confirmation and no reminder", ids)
	}
	// The welcome and the reminder were over budget; nothing else.
	if strings.Join(*tooLong, ",") != "sms,sms" {
		t.Errorf("too long counted %v, want sms twice (welcome, reminder)", *tooLong)
	}
}
