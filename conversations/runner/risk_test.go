package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/risk"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// riskEvents lists a patient's risk events as "tier reason".
func riskEvents(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	events, err := st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Type == "risk" {
			out = append(out, e.Status+" "+e.Reason)
		}
	}
	return out
}

func lastRisk(t *testing.T, st store.Store, id string) store.Event {
	t.Helper()
	events, _ := st.Timeline(context.Background(), id)
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == "risk" {
			return events[i]
		}
	}
	t.Fatal("no risk event")
	return store.Event{}
}

// TestRiskOnEvents: a hospital stay raises the tier in the commit that
// records it, with the explanation on the risk event; an acute ticket
// overrides the tier until a person resolves it; the tier read through
// Risk explains every point.
func TestRiskOnEvents(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	r, _, st := newTestRunner(t, now)
	ctx := context.Background()
	enrollAt(t, r, "08:00")
	if got := riskEvents(t, st, "p1"); len(got) != 0 {
		t.Fatalf("a new patient's low tier written as a change: %q", got)
	}
	by := Actor{Staff: "api", From: "10.0.0.1"}
	if err := r.Encounter(ctx, by, "p1", "inpatient", now.AddDate(0, 0, -5).Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	// Posted again: recorded once.
	if err := r.Encounter(ctx, by, "p1", "inpatient", now.AddDate(0, 0, -5).Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	if got := riskEvents(t, st, "p1"); len(got) != 1 || got[0] != "medium event" {
		t.Fatalf("risk events %q, want [medium event]", got)
	}
	if e := lastRisk(t, st, "p1"); e.Text != "+4: hospital stay in the last 30 days" {
		t.Errorf("explanation %q", e.Text)
	}
	for _, bad := range [][2]string{{"outpatient", "2026-03-01"}, {"inpatient", "03/01/2026"}, {"emergency", "2026-04-01"}} {
		if err := r.Encounter(ctx, by, "p1", bad[0], bad[1]); !errors.Is(err, ErrInvalidEncounter) {
			t.Errorf("encounter %v: %v, want ErrInvalidEncounter", bad, err)
		}
	}

	if err := r.Escalate(ctx, "p1", "acute", "test emergency", ""); err != nil {
		t.Fatal(err)
	}
	a, err := r.Risk(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Tier != risk.Acute || a.Scored != risk.Medium || len(a.Points) != 1 || a.Points[0].Points != 4 {
		t.Errorf("with an acute ticket: %+v", a)
	}
	open, _ := st.Escalations(ctx, store.TicketOpen)
	for _, tk := range open {
		if tk.Priority == "acute" {
			if err := r.Resolve(ctx, tk.ID, "rn@clinic.org", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := riskEvents(t, st, "p1"); strings.Join(got, ",") != "medium event,acute event,medium event" {
		t.Errorf("risk events %q", got)
	}
	if a, _ := r.Risk(ctx, "p1"); a.Tier != risk.Medium || a.Reachability != risk.Reachable {
		t.Errorf("after the resolve: %+v", a)
	}
}

// TestRiskPin: a clinician's pin sets the tier until it expires, is
// audited without its reason, and is refused without a reason, a known
// tier or a future expiry.
func TestRiskPin(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC)
	r, clock, st := newTestRunner(t, now)
	ctx := context.Background()
	enrollAt(t, r, "08:00")
	by := Actor{Staff: "dr@clinic.org", From: "10.0.0.2"}
	for _, bad := range []risk.Pin{
		{Tier: "severe", Reason: "x", Until: now.Add(time.Hour)},
		{Tier: risk.Acute, Reason: "x", Until: now.Add(time.Hour)},
		{Tier: risk.High, Reason: " ", Until: now.Add(time.Hour)},
		{Tier: risk.High, Reason: "x", Until: now.Add(-time.Hour)},
		{Tier: risk.High, Reason: "x", Until: now.AddDate(2, 0, 0)},
	} {
		if err := r.PinRisk(ctx, by, "p1", bad); !errors.Is(err, ErrInvalidPin) {
			t.Errorf("pin %+v: %v, want ErrInvalidPin", bad, err)
		}
	}
	if err := r.PinRisk(ctx, by, "nobody", risk.Pin{Tier: risk.High, Reason: "x", Until: now.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pin of an unknown patient: %v", err)
	}
	until := now.Add(72 * time.Hour)
	if err := r.PinRisk(ctx, by, "p1", risk.Pin{Tier: risk.High, Reason: "discharged yesterday, lives alone", Until: until}); err != nil {
		t.Fatal(err)
	}
	a, _ := r.Risk(ctx, "p1")
	if a.Tier != risk.High || a.Pin == nil || a.Pin.By != "dr@clinic.org" || a.Pin.Reason != "discharged yesterday, lives alone" || !a.Pin.Until.Equal(until) {
		t.Fatalf("pinned: %+v %+v", a, a.Pin)
	}
	e := lastRisk(t, st, "p1")
	if e.Status != "high" || e.Reason != RiskPinned || !strings.Contains(e.Text, "lives alone") {
		t.Errorf("risk event %+v", e)
	}
	recs, _ := r.AuditRecords(ctx, audit.Filter{Patient: "p1"}, 0)
	found := false
	for _, rec := range recs {
		if rec.Action == audit.PinRisk {
			found = true
			if strings.Contains(rec.Detail, "alone") || !strings.HasPrefix(rec.Detail, "high until ") || rec.Staff != "dr@clinic.org" {
				t.Errorf("audit record %+v", rec)
			}
		}
	}
	if !found {
		t.Error("no audit record of the pin")
	}
	// The pin expires: the nightly run records the tier of the score.
	clock.Add(73 * time.Hour)
	if a, _ := r.Risk(ctx, "p1"); a.Tier != risk.Low || a.Pin != nil {
		t.Errorf("expired pin: %+v", a)
	}
	stats, err := r.RecomputeRisk(ctx, 2)
	if err != nil || stats.Patients != 1 || stats.Changed != 1 {
		t.Fatalf("nightly: %+v %v", stats, err)
	}
	if e := lastRisk(t, st, "p1"); e.Status != "low" || e.Reason != RiskNightly {
		t.Errorf("after expiry: %+v", e)
	}
	if stats, _ := r.RecomputeRisk(ctx, 2); stats.Changed != 0 {
		t.Errorf("second nightly run changed %d", stats.Changed)
	}
	// Unpin of no pin: no error, no event.
	n := len(riskEvents(t, st, "p1"))
	if err := r.UnpinRisk(ctx, by, "p1"); err != nil {
		t.Fatal(err)
	}
	if got := riskEvents(t, st, "p1"); len(got) != n {
		t.Errorf("unpin without a pin wrote %q", got[n:])
	}
}

// TestReachability: a patient who answers nothing for two weeks gets no
// risk points but one low ticket asking a person to check channel and
// language; writing again resets it.
func TestReachability(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 7, 0, 0, 0, chicago))
	ctx := context.Background()
	enrollAt(t, r, "09:00")
	reachTickets := func() int {
		all, _ := st.Escalations(ctx, "")
		n := 0
		for _, tk := range all {
			if tk.Reason == ReasonReachability {
				n++
				if tk.Priority != "low" {
					t.Errorf("reachability ticket at %s", tk.Priority)
				}
			}
		}
		return n
	}
	for range 13 * 24 * 4 {
		clock.Add(15 * time.Minute)
		r.FireDue(ctx, 1)
	}
	if n := reachTickets(); n != 0 {
		t.Fatalf("%d reachability tickets after 13 days", n)
	}
	for range 10 * 24 * 4 {
		clock.Add(15 * time.Minute)
		r.FireDue(ctx, 1)
	}
	if n := reachTickets(); n != 1 {
		t.Fatalf("%d reachability tickets after 23 silent days, want 1", n)
	}
	a, _ := r.Risk(ctx, "p1")
	if a.Reachability != risk.Unreachable || a.Score != 0 || a.Tier != risk.Low {
		t.Errorf("silent patient: %+v", a)
	}
	if got := riskEvents(t, st, "p1"); len(got) != 0 {
		t.Errorf("silence moved the tier: %q", got)
	}
	if _, err := r.Receive(ctx, "p1", Message{Channel: "sms", Text: "hello", Dedupe: "in-1"}); err != nil {
		t.Fatal(err)
	}
	if a, _ := r.Risk(ctx, "p1"); a.Reachability != risk.Reachable {
		t.Errorf("after a message: %s", a.Reachability)
	}
}

// checkinTimers lists a patient's check-in timers.
func checkinTimers(t *testing.T, st store.Store, id string) []store.Timer {
	t.Helper()
	all, _ := st.Timers(context.Background(), id)
	var out []store.Timer
	for _, tm := range all {
		if strings.HasPrefix(tm.Name, checkinTimer) {
			out = append(out, tm)
		}
	}
	return out
}

// TestCheckinCadence: the check-in comes weekly at the program's local
// time for a low tier and moves to the next day when the tier goes high;
// it starts the check-in flow, and none is armed while acute.
func TestCheckinCadence(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago) // a Tuesday
	r, clock, st := newTestRunner(t, now)
	ctx := context.Background()
	enrollAt(t, r, "08:00")
	tm := checkinTimers(t, st, "p1")
	if len(tm) != 1 || !tm[0].Due.Equal(time.Date(2026, 3, 10, 11, 0, 0, 0, chicago)) || tm[0].Name != "checkin|check-in" {
		t.Fatalf("low tier's check-in timer %+v, want one on 2026-03-10 11:00", tm)
	}
	if err := r.PinRisk(ctx, Actor{Staff: "dr@clinic.org"}, "p1", risk.Pin{Tier: risk.High, Reason: "watch closely", Until: now.AddDate(0, 0, 14)}); err != nil {
		t.Fatal(err)
	}
	tm = checkinTimers(t, st, "p1")
	if len(tm) != 1 || !tm[0].Due.Equal(time.Date(2026, 3, 4, 11, 0, 0, 0, chicago)) {
		t.Fatalf("high tier's check-in timer %+v, want 2026-03-04 11:00", tm)
	}
	clock.Set(time.Date(2026, 3, 4, 11, 0, 30, 0, chicago))
	r.FireDue(ctx, 1)
	s := session(t, r, "p1")
	if s.Flow != "check-in" {
		t.Fatalf("flow %q after the check-in timer, want check-in", s.Flow)
	}
	tm = checkinTimers(t, st, "p1")
	if len(tm) != 1 || !tm[0].Due.Equal(time.Date(2026, 3, 5, 11, 0, 0, 0, chicago)) {
		t.Fatalf("next check-in %+v, want 2026-03-05 11:00", tm)
	}
	// "Not so good" opens a ticket for a person.
	if _, err := r.Receive(ctx, "p1", Message{Channel: "sms", Text: "2", Dedupe: "in-2"}); err != nil {
		t.Fatal(err)
	}
	open, _ := st.Escalations(ctx, store.TicketOpen)
	if len(open) != 1 || open[0].Reason != "check-in: not feeling well" {
		t.Fatalf("tickets %+v", open)
	}
	// Acute: no check-in armed.
	if err := r.Escalate(ctx, "p1", "acute", "test emergency", ""); err != nil {
		t.Fatal(err)
	}
	if tm := checkinTimers(t, st, "p1"); len(tm) != 0 {
		t.Errorf("check-in armed while acute: %+v", tm)
	}
}

// BenchmarkNightlyRisk measures the nightly recomputation over 100,000
// patients on the durable embedded store (issue 11: ≤ 30 s). Every patient
// has a risk state with facts; one in a hundred changes tier tonight (a
// hospital stay leaves its 30-day window), and is committed.
func BenchmarkNightlyRisk(b *testing.B) {
	const patients = 100_000
	dir := b.TempDir()
	path := filepath.Join(dir, "nightly.db")
	e := testEngine(b)
	now := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	{
		st, err := embedded.Open(path, embedded.Options{NoSync: true, MaxBatchDelay: time.Microsecond})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < patients; i += 8 {
					p := store.Patient{ID: fmt.Sprintf("n-%06d", i), Phone: fmt.Sprintf("+1555%07d", i), Language: "en", Timezone: "America/Chicago",
						Channel: "sms", Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
					var rs risk.State
					rs.Fold([]risk.Event{
						{Type: "reading", Kind: "blood_pressure", Value: "150/92", At: now.Add(-48 * time.Hour)},
						{Type: "adherence", Status: "not_taken", At: now.Add(-72 * time.Hour)},
						{Type: "dispense", Medication: "lisinopril", Date: now.AddDate(0, 0, -40).Format(time.DateOnly), Days: 30},
					})
					if i%100 == 0 {
						rs.Fold([]risk.Event{{Type: "encounter", Kind: "inpatient", Date: now.AddDate(0, 0, -30).Format(time.DateOnly)}})
						rs.Tier = risk.Medium
					} else {
						rs.Tier = risk.Low
					}
					s := conversations.Session{Lang: "en"}
					s.SetSection(risk.Section, rs.Encode())
					data, _ := s.AppendBinary(nil)
					if err := st.Commit(ctx, store.Commit{PatientID: p.ID, Patient: &p, Session: data}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
	st, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	clock := now.Add(24 * time.Hour)
	r := &Runner{Store: st, Engine: e, Clock: func() time.Time { return clock }, Channels: testChannels, Quiet: conversations.QuietHours{Off: true},
		Render: &conversations.Renderer{Pack: e.Pack}}
	ctx := context.Background()
	for b.Loop() {
		stats, err := r.RecomputeRisk(ctx, 4)
		if err != nil || stats.Patients != patients || stats.Failed != 0 {
			b.Fatalf("%+v %v", stats, err)
		}
		b.ReportMetric(float64(stats.Changed), "changed")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/patients, "ns/patient")
}

// TestRiskFromReadings: readings through the Runner's real rules reach the
// tier: a level-2 low scores its points in the commit that records it, and
// a confirmed episode scores per condition.
func TestRiskFromReadings(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	r, clock, st := newTestRunner(t, now)
	ctx := context.Background()
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms", Programs: []string{"type2-diabetes"}}
	if _, err := r.Enroll(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Readings(ctx, "p1", []readings.Reading{{ID: "g1", Kind: readings.Glucose, Value: 50, Unit: readings.UnitMgDL, At: now, Source: readings.Device}}); err != nil {
		t.Fatal(err)
	}
	a, err := r.Risk(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pt := range a.Points {
		if pt.Input == risk.InputHypoOrHFWeight && pt.Points == 3 {
			found = true
		}
	}
	if !found {
		events, _ := st.Timeline(ctx, "p1")
		for _, e := range events {
			t.Logf("%s %s %s %s %s %s", e.Type, e.Status, e.Kind, e.Value, e.Condition, e.Rule)
		}
		t.Fatalf("a level-2 low scored no points: %+v", a)
	}
	// Within 30 days it stays; after, it goes (nightly).
	clock.Add(31 * 24 * time.Hour)
	if a, _ := r.Risk(ctx, "p1"); slices.ContainsFunc(a.Points, func(pt risk.Point) bool { return pt.Input == risk.InputHypoOrHFWeight }) {
		t.Errorf("a low 31 days ago still scores: %+v", a)
	}
}

// TestRiskFromEpisode: a BP alert confirmed by a second reading opens an
// episode, which scores per condition until it closes.
func TestRiskFromEpisode(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	r, clock, st := newTestRunner(t, now)
	ctx := context.Background()
	enrollAt(t, r, "08:00")
	bp := func(id string, sys, dia int) {
		t.Helper()
		if _, err := r.Readings(ctx, "p1", []readings.Reading{{ID: id, Kind: readings.BloodPressure, Systolic: sys, Diastolic: dia, Unit: readings.UnitMmHg, At: clock.Now(), Source: readings.Device}}); err != nil {
			t.Fatal(err)
		}
	}
	bp("b1", 184, 112)
	clock.Add(3 * time.Minute)
	bp("b2", 186, 114)
	a, _ := r.Risk(ctx, "p1")
	if !slices.ContainsFunc(a.Points, func(pt risk.Point) bool { return pt.Input == risk.InputAlertEpisode }) {
		events, _ := st.Timeline(ctx, "p1")
		for _, e := range events {
			if e.Type != "message.out" {
				t.Logf("%s %s %s %s %s %s %s", e.Type, e.Status, e.Kind, e.Value, e.Condition, e.Rule, e.Priority)
			}
		}
		t.Fatalf("a confirmed episode scored no points: %+v", a)
	}
}
