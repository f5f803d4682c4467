package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/store"
)

// TestDailyReminderStaleAfter: the messages a daily dose reminder starts
// with carry the time they stop being worth sending, its dose time (or the
// opening of the sending window) plus two hours; other messages none.
func TestDailyReminderStaleAfter(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	for _, tc := range []struct {
		dose       string
		fire, want time.Time
	}{
		{"09:00", time.Date(2026, 3, 4, 9, 20, 0, 0, chicago), time.Date(2026, 3, 4, 11, 0, 0, 0, chicago)},
		// In quiet hours: it starts when the window opens, and counts from there.
		{"06:30", time.Date(2026, 3, 4, 8, 40, 0, 0, chicago), time.Date(2026, 3, 4, 10, 0, 0, 0, chicago)},
	} {
		r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
		ctx := context.Background()
		enrollAt(t, r, tc.dose)
		clock.Set(tc.fire)
		r.FireDue(ctx, 1)
		entries, err := st.ClaimOutbox(ctx, clock.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var reminders int
		for _, e := range entries {
			isReminder := e.CreatedAt.Equal(clock.Now())
			switch {
			case isReminder && !e.StaleAfter.Equal(tc.want):
				t.Errorf("dose %s: reminder %s stale after %v, want %v", tc.dose, e.MessageID, e.StaleAfter.In(chicago), tc.want)
			case !isReminder && !e.StaleAfter.IsZero():
				t.Errorf("dose %s: the welcome %s has a stale time", tc.dose, e.MessageID)
			}
			if isReminder {
				reminders++
			}
		}
		if reminders == 0 {
			t.Errorf("dose %s: no reminder queued at %v", tc.dose, clock.Now())
		}
	}
}

// TestDeadLetterActions: listing, resending and cancelling dead letters
// are audited with who did it; a resend wakes the dispatcher and queues
// the message again, a cancel ends it.
func TestDeadLetterActions(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	kicked := 0
	r.Notify = func() { kicked++ }
	enrollAt(t, r, "09:00")
	kicked = 0
	die := func() store.OutboxEntry {
		t.Helper()
		claimed, err := st.ClaimOutbox(ctx, clock.Now(), 0)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %+v, %v; want one entry", claimed, err)
		}
		err = st.Finish(ctx, claimed[0], store.Delivery{DeadAt: clock.Now(), Status: "failed", Reason: channels.ReasonNetwork, Attempted: true})
		if err != nil {
			t.Fatal(err)
		}
		return claimed[0]
	}
	by := Actor{Staff: "ops@clinic.org", From: "10.0.0.7"}
	e := die()

	list, err := r.DeadLetters(ctx, by, "", 10)
	if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].LastError != channels.ReasonNetwork {
		t.Fatalf("DeadLetters: %+v, %v", list, err)
	}
	clock.Add(time.Hour)
	re, err := r.ResendDeadLetter(ctx, by, e.ID)
	if err != nil || !re.NotBefore.Equal(clock.Now()) || kicked != 1 {
		t.Fatalf("ResendDeadLetter: %+v, %v, dispatcher woken %d times", re, err, kicked)
	}
	if _, err := r.ResendDeadLetter(ctx, by, e.ID); !errors.Is(err, store.ErrNotDead) {
		t.Errorf("resending a queued message: %v, want ErrNotDead", err)
	}
	if _, err := r.CancelDeadLetter(ctx, by, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancelling an unknown message: %v, want ErrNotFound", err)
	}
	die()
	if _, err := r.CancelDeadLetter(ctx, by, e.ID); err != nil {
		t.Fatal(err)
	}
	evs, _ := st.Timeline(ctx, "p1")
	for _, ev := range evs {
		if ev.ID == e.ID && (ev.Status != "cancelled" || ev.Reason != channels.ReasonOperator) {
			t.Errorf("event after the cancel: %+v, want cancelled by the operator", ev)
		}
	}

	recs, err := r.AuditRecords(ctx, audit.Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		if rec.Staff != by.Staff || rec.From != by.From {
			t.Errorf("audit record by %s from %s", rec.Staff, rec.From)
		}
		got = append(got, rec.Action+" "+rec.Patient+" "+rec.Detail)
	}
	want := []string{"list_outbox  failed", "resend_message p1 " + e.ID, "cancel_message p1 " + e.ID}
	if len(got) != len(want) {
		t.Fatalf("audit %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit %q, want %q", got, want)
		}
	}
}
