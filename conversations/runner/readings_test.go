package runner

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/store"
)

func eventsOf(t *testing.T, st store.Store, id, typ string) []store.Event {
	t.Helper()
	all, err := st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// A device reading at crisis level: recorded with its classification,
// the confirm question queued, no ticket yet; the second reading confirms
// it in one commit with the episode's ticket, which the episode event
// names; the same reading posted again changes nothing.
func TestReadingsConfirmThenTicket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, clock, st := newTestRunner(t, at15)
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, clock.Now())

	bp := readings.Reading{ID: "dev-1", Kind: readings.BloodPressure, Systolic: 185, Diastolic: 100, Unit: readings.UnitMmHg, Source: readings.Device, At: clock.Now().Add(-time.Minute)}
	outs, err := r.Readings(ctx, "p1", []readings.Reading{bp})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Level != readings.Alert || outs[0].Rule != "bp-crisis" || outs[0].Duplicate {
		t.Fatalf("outcomes %+v", outs)
	}
	rs := eventsOf(t, st, "p1", "reading")
	if len(rs) != 1 || rs[0].Value != "185/100" || rs[0].Kind != "blood_pressure" || rs[0].Source != "device" || rs[0].Level != "alert" || rs[0].Rule != "bp-crisis" || !rs[0].At.Equal(bp.At) {
		t.Fatalf("reading events %+v", rs)
	}
	if es := eventsOf(t, st, "p1", "episode"); len(es) != 1 || es[0].Status != "confirming" || es[0].Condition != "hypertension" {
		t.Fatalf("episode events %+v", es)
	}
	if n := len(openTickets(t, st)); n != 0 {
		t.Fatalf("%d tickets before the patient was asked", n)
	}
	sent := outbox(t, st, clock.Now())
	if len(sent) != 1 || sent[0].MessageID != "confirm.bp.ask" || !sent[0].Reply {
		t.Fatalf("outbox %+v, want the urgent confirm question (sent at night too)", sent)
	}

	// Posted again: a duplicate, nothing recorded.
	outs, err = r.Readings(ctx, "p1", []readings.Reading{bp})
	if err != nil || len(outs) != 1 || !outs[0].Duplicate || outs[0].Level != readings.Alert {
		t.Fatalf("again: %+v %v", outs, err)
	}
	if n := len(eventsOf(t, st, "p1", "reading")); n != 1 {
		t.Fatalf("%d reading events after a duplicate", n)
	}

	clock.Add(5 * time.Minute)
	second := readings.Reading{ID: "dev-2", Kind: readings.BloodPressure, Systolic: 183, Diastolic: 99, Unit: readings.UnitMmHg, Source: readings.Device}
	if _, err := r.Readings(ctx, "p1", []readings.Reading{second}); err != nil {
		t.Fatal(err)
	}
	tickets := openTickets(t, st)
	if len(tickets) != 1 || tickets[0].Priority != "high" || tickets[0].Reason != "home readings: blood pressure" {
		t.Fatalf("tickets %+v", tickets)
	}
	es := eventsOf(t, st, "p1", "episode")
	if last := es[len(es)-1]; last.Status != "opened" || last.Ticket != tickets[0].ID || last.Priority != "high" || last.Rule != "bp-crisis" {
		t.Fatalf("episode events %+v, ticket %s", es, tickets[0].ID)
	}
	if sent := outbox(t, st, clock.Now()); len(sent) != 1 || sent[0].MessageID != "reading.ticket" {
		t.Fatalf("outbox %+v", sent)
	}
}

// A batch is one commit: an acute reading in it opens the acute ticket
// and sends the safety reply; the outcomes come in the batch's order.
func TestReadingsBatchAcute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, clock, st := newTestRunner(t, at15)
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, clock.Now())
	outs, err := r.Readings(ctx, "p1", []readings.Reading{
		{Kind: readings.HeartRate, Value: 72, Unit: readings.UnitPerMin},
		{Kind: readings.SpO2, Value: 82, Unit: readings.UnitPercent},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].Level != readings.Normal || outs[1].Level != readings.Acute || outs[1].Rule != "spo2-emergency" {
		t.Fatalf("outcomes %+v", outs)
	}
	tickets := openTickets(t, st)
	if len(tickets) != 1 || tickets[0].Priority != "acute" {
		t.Fatalf("tickets %+v", tickets)
	}
	sent := outbox(t, st, clock.Now())
	if !slices.ContainsFunc(sent, func(e store.OutboxEntry) bool { return e.MessageID == "keyword.emergency" && e.Urgent }) {
		t.Fatalf("outbox %+v, want the safety reply", sent)
	}
	rs := eventsOf(t, st, "p1", "reading")
	if len(rs) != 2 || rs[0].Source != "patient" || rs[0].Value != "72" {
		t.Fatalf("reading events %+v", rs)
	}
}

// Conditions are the programs and the enrollment's conditions, once each.
func TestConditions(t *testing.T) {
	t.Parallel()
	got := Conditions(&store.Patient{Programs: []string{"hypertension"}, Conditions: []string{"copd", "hypertension"}})
	if !slices.Equal(got, []string{"hypertension", "copd"}) {
		t.Fatalf("conditions %q", got)
	}
}
