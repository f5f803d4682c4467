package runner

import (
	"context"
	"testing"
	"time"

	"github.com/tendcare/tend/adherence"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/store"
)

// reminderEntry claims the queued outbox and returns the dose reminder
// (the welcome, if still there, is sent and left alone).
func reminderEntry(t *testing.T, st store.Store, now time.Time) store.OutboxEntry {
	t.Helper()
	ctx := context.Background()
	claimed, err := st.ClaimOutbox(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reminder *store.OutboxEntry
	for i := range claimed {
		if claimed[i].MessageID == "med.ask" {
			reminder = &claimed[i]
			continue
		}
		if err := st.Finish(ctx, claimed[i], store.Delivery{Done: true, Status: "delivered"}); err != nil {
			t.Fatal(err)
		}
	}
	if reminder == nil {
		t.Fatalf("no dose reminder among %+v", claimed)
	}
	return *reminder
}

// doseStatuses are the adherence events' statuses, in order.
func doseStatuses(t *testing.T, st store.Store) []string {
	t.Helper()
	events, err := st.Timeline(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Type == adherence.EventAdherence {
			out = append(out, e.Status)
		}
	}
	return out
}

// TestNoAnswerOrUndelivered: a dose reminder nobody answered is recorded
// no_answer when it reached the patient, undelivered when it never did
// (every send failed, it was cancelled as stale, or it never left the
// queue); neither is a missed dose, so two days of either open no ticket.
func TestNoAnswerOrUndelivered(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	for _, tc := range []struct {
		name string
		// deliver ends the reminder's send; nil leaves it queued.
		deliver func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time)
		want    string
	}{
		{"delivered", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{Done: true, Status: "sent", ProviderID: "SM1"})
			r.Delivered(ctx, "p1", e.ID, Receipt{Channel: "sms", Status: "delivered"})
		}, adherence.NoAnswer},
		{"sent, no receipt", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{Done: true, Status: "sent", ProviderID: "SM1"})
		}, adherence.NoAnswer},
		{"carrier reports undelivered", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{Done: true, Status: "sent", ProviderID: "SM1"})
			r.Delivered(ctx, "p1", e.ID, Receipt{Channel: "sms", Status: "undelivered", Code: 30003})
		}, adherence.Undelivered},
		{"dead letter", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{DeadAt: now, Status: "failed", Reason: channels.ReasonNetwork, Attempted: true})
		}, adherence.Undelivered},
		{"cancelled as stale", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{Done: true, Status: "cancelled", Reason: channels.ReasonStale})
		}, adherence.Undelivered},
		{"still queued", func(ctx context.Context, r *Runner, st store.Store, e store.OutboxEntry, now time.Time) {
			st.Finish(ctx, e, store.Delivery{NotBefore: now.Add(time.Hour), Status: "retrying", Attempted: true})
		}, adherence.Undelivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
			enrollAt(t, r, "09:00")
			for day := 4; day <= 5; day++ {
				clock.Set(time.Date(2026, 3, day, 9, 0, 0, 0, chicago))
				r.FireDue(ctx, 1)
				tc.deliver(ctx, r, st, reminderEntry(t, st, clock.Now()), clock.Now())
				clock.Add(2*time.Hour + time.Minute)
				r.FireDue(ctx, 1)
			}
			got := doseStatuses(t, st)
			if len(got) != 2 || got[0] != tc.want || got[1] != tc.want {
				t.Errorf("dose outcomes %v, want %s twice", got, tc.want)
			}
			tickets, err := st.Escalations(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(tickets) != 0 {
				t.Errorf("tickets %+v: no answer is not a missed dose", tickets)
			}
		})
	}
}

// TestReportedMissesTicket: two doses the patient reports not taken
// within 7 days open the ticket.
func TestReportedMissesTicket(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	ctx := context.Background()
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	enrollAt(t, r, "09:00")
	for day := 4; day <= 5; day++ {
		clock.Set(time.Date(2026, 3, day, 9, 0, 0, 0, chicago))
		r.FireDue(ctx, 1)
		if err := r.Inbound(ctx, "p1", "sms", "2", "in-a"+string(rune('0'+day))); err != nil {
			t.Fatal(err)
		}
		clock.Add(31 * time.Minute)
		r.FireDue(ctx, 1)
		if err := r.Inbound(ctx, "p1", "sms", "2", "in-b"+string(rune('0'+day))); err != nil {
			t.Fatal(err)
		}
	}
	if got := doseStatuses(t, st); len(got) != 4 || got[1] != adherence.NotTaken || got[3] != adherence.NotTaken {
		t.Errorf("dose outcomes %v, want not_yet, not_taken twice", got)
	}
	tickets, err := st.Escalations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tickets) != 1 || tickets[0].Reason != "2 doses reported not taken in 7 days" {
		t.Errorf("tickets %+v, want the one for 2 doses not taken", tickets)
	}
}

// TestDispense: fills are recorded once (a retry, or the same fill in a
// later enrollment, adds nothing), with the enrollment's too, and the
// adherence report reads them.
func TestDispense(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	ctx := context.Background()
	r, _, st := newTestRunner(t, time.Date(2026, 7, 1, 12, 0, 0, 0, chicago))
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Display: "Lisinopril 10 mg", Times: []string{"09:00"}}},
		Dispenses: []enrollment.Dispense{{Medication: "lisinopril", Date: "2026-01-01", DaysSupply: 90}}}
	for range 2 {
		if _, err := r.Enroll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := r.Patient(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Dispenses != nil {
		t.Errorf("enrollment keeps the fills %+v; they belong on the timeline", stored.Dispenses)
	}
	fills := []enrollment.Dispense{{Medication: " Lisinopril", Date: "2026-03-20", DaysSupply: 90}, {Medication: "atorvastatin", Date: "2026-02-01", DaysSupply: 30}}
	for i, want := range []int{2, 0} {
		n, err := r.Dispense(ctx, "p1", fills)
		if err != nil || n != want {
			t.Fatalf("Dispense #%d: %d recorded, %v; want %d", i+1, n, err, want)
		}
	}
	events, err := st.Timeline(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Type == adherence.EventDispense {
			got = append(got, e.Medication+" "+e.Date)
		}
	}
	if want := "lisinopril 2026-01-01,lisinopril 2026-03-20,atorvastatin 2026-02-01"; join(got) != want {
		t.Errorf("dispense events %s, want %s", join(got), want)
	}
	from, _ := adherence.ParseDay("2026-01-01")
	to, _ := adherence.ParseDay("2026-06-30")
	rep, err := r.Adherence(ctx, "p1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Medications) != 2 || rep.Medications[1].Medication != "m" || rep.Medications[1].Class != "ras_antagonists" ||
		rep.Medications[1].PDC == nil || rep.Medications[1].PDC.Covered != 180 {
		t.Errorf("report %+v", rep.Medications)
	}
	if _, err := r.Dispense(ctx, "nobody", fills); err == nil {
		t.Error("a fill for a patient not enrolled was recorded")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// TestUndeliveredFallback: a reminder the first channel could not carry
// reached the patient on the next one: no answer, not undelivered; when
// the next failed too, undelivered.
func TestUndeliveredFallback(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	for _, tc := range []struct {
		copyStatus string
		want       string
	}{{"delivered", adherence.NoAnswer}, {"no-answer", adherence.Undelivered}} {
		t.Run(tc.copyStatus, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
			p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms", Channels: []string{"sms", "voice"},
				Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"09:00"}}}}
			if _, err := r.Enroll(ctx, p); err != nil {
				t.Fatal(err)
			}
			clock.Set(time.Date(2026, 3, 4, 9, 0, 0, 0, chicago))
			r.FireDue(ctx, 1)
			e := reminderEntry(t, st, clock.Now())
			st.Finish(ctx, e, store.Delivery{Done: true, Status: "sent", ProviderID: "SM1"})
			next, err := r.Delivered(ctx, "p1", e.ID, Receipt{Channel: "sms", Status: "undelivered", Code: 30006, Undeliverable: true})
			if err != nil || next != "voice" {
				t.Fatalf("fallback to %q, %v; want voice", next, err)
			}
			claimed, err := st.ClaimOutbox(ctx, clock.Now(), 0)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claimed %+v, %v", claimed, err)
			}
			st.Finish(ctx, claimed[0], store.Delivery{Done: true, Status: "queued"})
			if _, err := r.CallProgress(ctx, "p1", claimed[0].ID, tc.copyStatus, 99); err != nil {
				t.Fatal(err)
			}
			clock.Add(2*time.Hour + time.Minute)
			r.FireDue(ctx, 1)
			if got := doseStatuses(t, st); len(got) != 1 || got[0] != tc.want {
				t.Errorf("dose outcomes %v, want %s", got, tc.want)
			}
		})
	}
}
