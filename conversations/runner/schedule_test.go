package runner

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

func newTestRunner(t *testing.T, now time.Time) (*Runner, *conversations.ManualClock, store.Store) {
	t.Helper()
	clock := conversations.NewManualClock(now)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "t.db"), embedded.Options{NoSync: true, MaxBatchDelay: time.Microsecond, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := testEngine(t)
	return &Runner{Store: st, Engine: e, Clock: clock.Now, Channels: testChannels, Quiet: conversations.DefaultQuietHours(), Render: &conversations.Renderer{Pack: e.Pack, HelpContact: "x"}}, clock, st
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
	timers := medTimers(st, "p1")
	for _, tm := range timers {
		if tm.Name == conversations.FlowTimer {
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
	timers := medTimers(st, "p1")
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
	timers := medTimers(st, "p1")
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
	timers := medTimers(st, "p1")
	if s.Flow != "" || len(timers) != 1 || timers[0].Name != "med|med-reminder|m|14:00" {
		t.Fatalf("flow %q, timers %+v; want no start and only the 14:00 timer", s.Flow, timers)
	}
}

// medTimers lists a patient's dose-reminder timers: the program's lessons
// have timers of their own, which these tests are not about.
func medTimers(st store.Timers, patientID string) []store.Timer {
	all, _ := st.Timers(context.Background(), patientID)
	return slices.DeleteFunc(all, func(t store.Timer) bool { return !strings.HasPrefix(t.Name, "med|") })
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
func session(t *testing.T, r *Runner, id string) conversations.Session {
	t.Helper()
	_, ss, err := r.Store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
