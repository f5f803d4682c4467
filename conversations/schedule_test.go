package conversations

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

func TestNextLocalAcrossDST(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	cases := []struct {
		now       time.Time
		hour, min int
		want      string // local
	}{
		// Spring forward: 2026-03-08 02:00 CST → 03:00 CDT.
		{time.Date(2026, 3, 7, 9, 0, 0, 0, chicago), 8, 0, "2026-03-08 08:00 CDT"},
		{time.Date(2026, 3, 8, 9, 0, 0, 0, chicago), 8, 0, "2026-03-09 08:00 CDT"},
		// 02:30 does not exist on 2026-03-08: it moves forward by the gap.
		{time.Date(2026, 3, 7, 9, 0, 0, 0, chicago), 2, 30, "2026-03-08 03:30 CDT"},
		// Fall back: 2026-11-01 02:00 CDT → 01:00 CST.
		{time.Date(2026, 10, 31, 9, 0, 0, 0, chicago), 8, 0, "2026-11-01 08:00 CST"},
		{time.Date(2026, 11, 1, 0, 30, 0, 0, chicago), 1, 30, "2026-11-01 01:30 CDT"},
		{time.Date(2026, 3, 2, 7, 59, 0, 0, chicago), 8, 0, "2026-03-02 08:00 CST"},
		{time.Date(2026, 3, 2, 8, 0, 0, 0, chicago), 8, 0, "2026-03-03 08:00 CST"},
	}
	for _, c := range cases {
		got := NextLocal(c.now, chicago, c.hour, c.min).In(chicago).Format("2006-01-02 15:04 MST")
		if got != c.want {
			t.Errorf("NextLocal(%v, %02d:%02d) = %s, want %s", c.now, c.hour, c.min, got, c.want)
		}
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	q, err := ParseQuietHours("08:00-21:00")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, ny) }
	for _, c := range []struct {
		t     time.Time
		allow bool
		open  time.Time
	}{
		{at(7, 59), false, at(8, 0)},
		{at(8, 0), true, at(8, 0)},
		{at(20, 59), true, at(20, 59)},
		{at(21, 0), false, at(8, 0).AddDate(0, 0, 1)},
		{at(23, 30), false, at(8, 0).AddDate(0, 0, 1)},
	} {
		if q.Allowed(c.t, ny) != c.allow || !q.NextOpen(c.t, ny).Equal(c.open) {
			t.Errorf("%v: allowed %v next %v, want %v %v", c.t, q.Allowed(c.t, ny), q.NextOpen(c.t, ny), c.allow, c.open)
		}
	}
	for _, bad := range []string{"", "8-21", "21:00-08:00", "08:00"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q): no error", bad)
		}
	}
	if q, err := ParseQuietHours("off"); err != nil || !q.Allowed(at(3, 0), ny) {
		t.Error("off does not allow 03:00")
	}
}

func newTestRunner(t *testing.T, now time.Time) (*Runner, *ManualClock, store.Store) {
	t.Helper()
	clock := NewManualClock(now)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "t.db"), embedded.Options{NoSync: true, MaxBatchDelay: time.Microsecond, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := testEngine(t)
	return &Runner{Store: st, Engine: e, Clock: clock.Now, Quiet: DefaultQuietHours, Render: &Renderer{Pack: e.Pack, HelpContact: "x"}}, clock, st
}

// TestDailyReminderAcrossDST runs the scheduler for ten days across the
// spring-forward change: the reminder starts at 08:00 local every day.
func TestDailyReminderAcrossDST(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	ctx := context.Background()
	enrollAt(t, r, "08:00")
	var starts []string
	for range 10 * 24 * 4 { // every 15 minutes for 10 days
		clock.Add(15 * time.Minute)
		r.FireDue(ctx, 1)
	}
	events, err := st.Timeline(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type == "message.out" && e.Flow == "med-reminder" && e.Status == "queued" && len(e.Text) > 0 && e.Text[:4] == "Time" {
			starts = append(starts, e.At.In(chicago).Format("01-02 15:04 MST"))
		}
	}
	want := []string{"03-04 08:00 CST", "03-05 08:00 CST", "03-06 08:00 CST", "03-07 08:00 CST", "03-08 08:00 CDT",
		"03-09 08:00 CDT", "03-10 08:00 CDT", "03-11 08:00 CDT", "03-12 08:00 CDT", "03-13 08:00 CDT"}
	if len(starts) != len(want) {
		t.Fatalf("reminders at %v, want %v", starts, want)
	}
	for i := range want {
		if starts[i] != want[i] {
			t.Fatalf("reminders at %v, want %v", starts, want)
		}
	}
}

// TestScheduledStartWaitsForQuietHours: a 06:30 medication time starts its
// flow when sending is allowed, so its reply timeout counts from then.
func TestScheduledStartWaitsForQuietHours(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	ctx := context.Background()
	enrollAt(t, r, "06:30")
	clock.Set(time.Date(2026, 3, 4, 6, 30, 0, 0, chicago))
	r.FireDue(ctx, 1)
	timers, _ := st.Timers(ctx, "p1")
	for _, tm := range timers {
		if tm.Name == FlowTimer {
			t.Fatal("flow started in quiet hours")
		}
		local := tm.Due.In(chicago)
		if local.Day() != 4 || local.Hour() != 8 || local.Minute() >= 30 {
			t.Fatalf("reminder moved to %v, want 08:00-08:30 the same day", local)
		}
	}
	clock.Set(time.Date(2026, 3, 4, 8, 31, 0, 0, chicago))
	r.FireDue(ctx, 1)
	s := session(t, r, "p1")
	if s.Flow != "med-reminder" {
		t.Fatalf("after the window opened, active flow %q", s.Flow)
	}
}

func TestScheduleFromEnrollment(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	p := store.Patient{ID: "p1", Timezone: "America/Chicago", Programs: []string{"heart-failure", "hypertension"}, EnrolledAt: now,
		Medications:  []store.Medication{{ID: "m", Times: []string{"08:00", "20:00"}}},
		Refills:      []store.Refill{{Medication: "m", Date: "2026-03-20"}, {Medication: "m", Date: "2026-03-01"}},
		Appointments: []store.Appointment{{ID: "a1", At: "2026-03-10T09:15"}}}
	timers, err := Schedule(e.Pack, &p, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tm := range timers {
		got[tm.Name] = tm.Due.In(chicago).Format("01-02 15:04")
	}
	want := map[string]string{
		"med|med-reminder|m|08:00":                      "03-04 08:00",
		"med|med-reminder|m|20:00":                      "03-03 20:00",
		"refill|refill-reminder|m|2026-03-20":           "03-17 10:00",
		"appt|appointment-reminder|a1|2026-03-10T09:15": "03-09 17:00",
		"lesson|hf-daily-weight":                        "03-05 18:00",
	}
	if len(got) != len(want) {
		t.Fatalf("timers %v, want %v (a refill in the past gets none; two programs share one schedule)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s due %s, want %s", k, got[k], v)
		}
	}
	sc, ok := ParseTimer("appt|appointment-reminder|a1|2026-03-10T09:15")
	if !ok || sc.Flow != "appointment-reminder" || lookup(sc.Params, "time") != "09:15" || lookup(sc.Params, "date") != "2026-03-10" {
		t.Fatalf("ParseTimer = %+v", sc)
	}
}

// TestLateDailyReminderSkipped: after an outage a dose reminder hours late is
// skipped, and the next day's is kept.
func TestLateDailyReminderSkipped(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	ctx := context.Background()
	enrollAt(t, r, "09:00")
	clock.Set(time.Date(2026, 3, 4, 15, 0, 0, 0, chicago)) // six hours late
	r.FireDue(ctx, 1)
	s := session(t, r, "p1")
	if s.Flow != "" {
		t.Fatalf("a reminder six hours late started %s", s.Flow)
	}
	timers, _ := st.Timers(ctx, "p1")
	if len(timers) != 1 || !timers[0].Due.Equal(time.Date(2026, 3, 5, 9, 0, 0, 0, chicago)) {
		t.Fatalf("timers after the late one: %+v, want tomorrow 09:00", timers)
	}
}

// TestEveningReminderAfterOutage: a 20:00 reminder that could not go out
// before quiet hours is not sent the next morning.
func TestEveningReminderAfterOutage(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	ctx := context.Background()
	enrollAt(t, r, "20:00")
	clock.Set(time.Date(2026, 3, 3, 21, 30, 0, 0, chicago)) // back up at 21:30, in quiet hours
	r.FireDue(ctx, 1)
	clock.Set(time.Date(2026, 3, 4, 8, 45, 0, 0, chicago))
	r.FireDue(ctx, 1)
	s := session(t, r, "p1")
	if s.Flow != "" {
		t.Fatalf("last night's reminder started in the morning (%s)", s.Flow)
	}
	timers, _ := st.Timers(ctx, "p1")
	if len(timers) != 1 || !timers[0].Due.Equal(time.Date(2026, 3, 4, 20, 0, 0, 0, chicago)) {
		t.Fatalf("timers %+v, want tonight 20:00", timers)
	}
}

// TestMovedTimerNotFired: a timer read as due and then moved by a
// re-enrollment does not fire.
func TestMovedTimerNotFired(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 12, 0, 0, 0, chicago))
	ctx := context.Background()
	p := enrollAt(t, r, "13:00")
	clock.Set(time.Date(2026, 3, 3, 13, 0, 0, 0, chicago))
	due, _ := st.DueTimers(ctx, clock.Now(), 10)
	p.Medications[0].Times = []string{"14:00"}
	if _, err := r.Enroll(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, tm := range due {
		if err := r.Fire(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	s := session(t, r, "p1")
	timers, _ := st.Timers(ctx, "p1")
	if s.Flow != "" || len(timers) != 1 || timers[0].Name != "med|med-reminder|m|14:00" {
		t.Fatalf("flow %q, timers %+v; want no start and only the 14:00 timer", s.Flow, timers)
	}
}

// enrollAt enrolls patient p1 in Chicago with one medication at times.
func enrollAt(t *testing.T, r *Runner, times ...string) store.Patient {
	t.Helper()
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: times}}}
	if _, err := r.Enroll(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// session reads a patient's stored session.
func session(t *testing.T, r *Runner, id string) Session {
	t.Helper()
	_, ss, err := r.Store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var s Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
