package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
)

// capEvents lists a patient's capped events as "flow outcome rule".
func capEvents(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	events, err := st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Type == "capped" {
			out = append(out, e.Flow+" "+e.Status+" "+e.Reason)
		}
	}
	return out
}

// startsCounted is how many starts the session's tallies hold.
func startsCounted(s conversations.Session) int {
	n := 0
	for _, tl := range s.Tallies {
		if strings.HasPrefix(tl.Name, content.StartTally) {
			n += len(tl.Times)
		}
	}
	return n
}

// metricHook counts Runner.Capped calls as "outcome rule".
type metricHook struct {
	mu  sync.Mutex
	got []string
}

func (m *metricHook) capped(outcome, rule string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, outcome+" "+rule)
}

// TestDailyCapDropsDoseReminder: five dose times against the promised four
// a day. The first four start; the fifth is dropped (by tomorrow it would
// be stale), recorded on the timeline and in the metric, and tomorrow's
// reminder at that time stays scheduled.
func TestDailyCapDropsDoseReminder(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 7, 0, 0, 0, chicago))
	var m metricHook
	r.Capped = m.capped
	ctx := context.Background()
	enrollAt(t, r, "08:00", "10:00", "12:00", "14:00", "16:00")
	for clock.Now().Before(time.Date(2026, 3, 3, 20, 0, 0, 0, chicago)) {
		clock.Add(15 * time.Minute)
		r.FireDue(ctx, 1)
	}
	if got := capEvents(t, st, "p1"); len(got) != 1 || got[0] != "med-reminder dropped per_day" {
		t.Fatalf("capped events %q, want one med-reminder dropped per_day", got)
	}
	if len(m.got) != 1 || m.got[0] != "dropped per_day" {
		t.Fatalf("metric saw %q", m.got)
	}
	events, _ := st.Timeline(ctx, "p1")
	asked := 0
	for _, e := range events {
		if e.Type == "message.out" && e.Message == "med.ask" {
			asked++
		}
	}
	if asked != 4 {
		t.Fatalf("%d dose reminders asked, want 4", asked)
	}
	s := session(t, r, "p1")
	if s.Has("med-reminder", []conversations.Param{{Key: "medication", Value: "m"}, {Key: "dose", Value: "16:00"}}) {
		t.Fatal("the dropped reminder is in the session")
	}
	timers, _ := st.Timers(ctx, "p1")
	next := false
	for _, tm := range timers {
		if tm.Name == "med|med-reminder|m|16:00" && tm.Due.Equal(time.Date(2026, 3, 4, 16, 0, 0, 0, chicago)) {
			next = true
		}
		if strings.HasPrefix(tm.Name, "capped|") {
			t.Fatalf("a dropped reminder was deferred: %+v", tm)
		}
	}
	if !next {
		t.Fatalf("tomorrow's 16:00 reminder is not scheduled: %+v", timers)
	}
}

// TestCapDefersStartToNextDay: a clinic's fifth start of the day waits for
// the next local day, at the same local time, and is made then (counted on
// that day). A start already there is not counted again, and not capped.
func TestCapDefersStartToNextDay(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	ctx := context.Background()
	if _, err := r.Enroll(ctx, store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}}); err != nil {
		t.Fatal(err)
	}
	start := func(flow string, params ...conversations.Param) {
		t.Helper()
		if err := r.StartFlow(ctx, "p1", flow, params); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		start("refill-reminder", conversations.Param{Key: "medication", Value: m})
	}
	start("refill-reminder", conversations.Param{Key: "medication", Value: "b"}) // queued already
	if got := capEvents(t, st, "p1"); len(got) != 0 {
		t.Fatalf("capped within the cap: %q", got)
	}
	if n := startsCounted(session(t, r, "p1")); n != 4 {
		t.Fatalf("%d starts counted, want 4 (the welcome and a start already queued are not)", n)
	}
	appt := []conversations.Param{{Key: "appointment", Value: "a|1"}}
	start("appointment-reminder", appt...)
	if got := capEvents(t, st, "p1"); len(got) != 1 || got[0] != "appointment-reminder deferred per_day" {
		t.Fatalf("capped events %q, want appointment-reminder deferred per_day", got)
	}
	if s := session(t, r, "p1"); s.Has("appointment-reminder", appt) {
		t.Fatal("the capped start was made")
	}
	timers, _ := st.Timers(ctx, "p1")
	var deferred *store.Timer
	for i := range timers {
		if strings.HasPrefix(timers[i].Name, "capped|") {
			deferred = &timers[i]
		}
	}
	if deferred == nil || !deferred.Due.Equal(time.Date(2026, 3, 4, 9, 0, 0, 0, chicago)) {
		t.Fatalf("deferred timer %+v, want tomorrow 09:00 Chicago", deferred)
	}
	clock.Set(time.Date(2026, 3, 4, 9, 0, 0, 0, chicago))
	r.FireDue(ctx, 1)
	s := session(t, r, "p1")
	if !s.Has("appointment-reminder", appt) {
		t.Fatalf("the deferred start was not made the next day: flow %q queue %+v", s.Flow, s.Queue)
	}
	if got := capEvents(t, st, "p1"); len(got) != 1 {
		t.Fatalf("capped again the next day: %q", got)
	}
	today := 0
	for _, tl := range s.Tallies {
		for _, x := range tl.Times {
			if strings.HasPrefix(tl.Name, content.StartTally) && x >= clock.Now().Unix() {
				today++
			}
		}
	}
	if today != 1 {
		t.Fatalf("%d starts counted on the next day, want 1", today)
	}
}

// TestRepliesAreNotCounted: the patient's answers, HELP, STOP and START,
// an emergency's safety reply and a nurse's message are not starts. After
// all of them the day still has room for the four starts promised.
func TestRepliesAreNotCounted(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, _, st := newTestRunner(t, time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	ctx := context.Background()
	if _, err := r.Enroll(ctx, store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.StartFlow(ctx, "p1", "refill-reminder", []conversations.Param{{Key: "medication", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"1", "HELP", "STOP", "START", "I have chest pain right now", "HUMAN"} {
		if err := r.Inbound(ctx, "p1", "sms", text, fmt.Sprint("in-", i)); err != nil {
			t.Fatal(err)
		}
	}
	tickets, err := st.Escalations(ctx, "open")
	if err != nil || len(tickets) == 0 {
		t.Fatalf("tickets %v %v", tickets, err)
	}
	if _, err := r.Claim(ctx, tickets[0].ID, "nurse@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reply(ctx, tickets[0].ID, "nurse@clinic.org", "Calling you now.", "reply-1"); err != nil {
		t.Fatal(err)
	}
	events, _ := st.Timeline(ctx, "p1")
	out := 0
	for _, e := range events {
		if e.Type == "message.out" {
			out++
		}
	}
	if n := startsCounted(session(t, r, "p1")); n != 1 || out < 7 {
		t.Fatalf("%d starts counted after %d messages out, want 1", n, out)
	}
	if err := r.Resolve(ctx, tickets[0].ID, "nurse@clinic.org", ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"b", "c", "d"} {
		if err := r.StartFlow(ctx, "p1", "refill-reminder", []conversations.Param{{Key: "medication", Value: m}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := capEvents(t, st, "p1"); len(got) != 0 {
		t.Fatalf("replies used up the day: %q", got)
	}
}

// TestCapSharedByReplicas: two runners on one real redis-server count into
// the same session, so the cap holds across replicas.
func TestCapSharedByReplicas(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	chicago, _ := time.LoadLocation("America/Chicago")
	clock := conversations.NewManualClock(time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	e := testEngine(t)
	var runners [2]*Runner
	for i := range runners {
		st, err := redisstore.Open(context.Background(), redisstore.Options{URL: "redis://" + addr + "/0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		runners[i] = &Runner{Store: st, Engine: e, Clock: clock.Now, Channels: testChannels, Quiet: conversations.DefaultQuietHours(),
			Render: &conversations.Renderer{Pack: e.Pack, HelpContact: "x"}}
	}
	ctx := context.Background()
	if _, err := runners[0].Enroll(ctx, store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, m := range []string{"a", "b", "c", "d", "e", "f"} {
		wg.Go(func() {
			if err := runners[i%2].StartFlow(ctx, "p1", "refill-reminder", []conversations.Param{{Key: "medication", Value: m}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := capEvents(t, runners[1].Store, "p1")
	if len(got) != 2 || got[0] != "refill-reminder deferred per_day" || got[1] != got[0] {
		t.Fatalf("capped events %q, want two refill-reminder deferred per_day", got)
	}
	if n := startsCounted(session(t, runners[0], "p1")); n != 4 {
		t.Fatalf("%d starts counted, want 4", n)
	}
}

// TestCapDropsAppointmentReminderAfterTheAppointment: an appointment
// reminder over the cap the evening before would come after the
// appointment if deferred a day, so it is dropped, on the timeline.
func TestCapDropsAppointmentReminderAfterTheAppointment(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	ctx := context.Background()
	if _, err := r.Enroll(ctx, store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago", Channel: "sms",
		Programs: []string{"hypertension"}, Appointments: []store.Appointment{{ID: "v1", At: "2026-03-04T10:30"}}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		if err := r.StartFlow(ctx, "p1", "refill-reminder", []conversations.Param{{Key: "medication", Value: m}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(time.Date(2026, 3, 3, 17, 0, 0, 0, chicago))
	r.FireDue(ctx, 1)
	if got := capEvents(t, st, "p1"); len(got) != 1 || got[0] != "appointment-reminder dropped per_day" {
		t.Fatalf("capped events %q, want appointment-reminder dropped per_day", got)
	}
	timers, _ := st.Timers(ctx, "p1")
	for _, tm := range timers {
		if strings.HasPrefix(tm.Name, "capped|") || strings.HasPrefix(tm.Name, "appt|") {
			t.Fatalf("timer %s left after the dropped reminder", tm.Name)
		}
	}
}
