package sms_test

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Outages of the provider, on the manual clock: Tend's real runner,
// dispatcher and store, the real SMS sender and twilio-go, and the fake
// Twilio failing with 5xx or not reachable at all.

// syncBuffer is a log sink the dispatcher's workers may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLoggedEnv is newEnv with the runner's and dispatcher's logs kept.
func newLoggedEnv(t *testing.T) (*env, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	e := newEnv(t)
	log := slog.New(slog.NewTextHandler(logs, nil))
	e.Runner.Log, e.disp.Log = log, log
	return e, logs
}

// unreachable returns an SMS sender whose Twilio is at an address nobody
// listens on: every send fails to connect.
func (e *env) unreachable() *sms.Sender {
	e.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	return &sms.Sender{Client: twilio.NewClient(e.fake.AccountSID, e.fake.AuthToken, down), From: smsFrom, PublicURL: e.srv.URL}
}

// run steps the dispatcher every step for d of manual clock.
func (e *env) run(d, step time.Duration) {
	for end := e.Clock.Now().Add(d); e.Clock.Now().Before(end); e.Clock.Add(step) {
		e.step()
	}
	e.step()
}

// queued returns the ids of the patient's messages meant for the outbox.
func (e *env) queued(id string) []string {
	var ids []string
	for _, ev := range channeltest.Of(e.Timeline(id), "message.out") {
		ids = append(ids, ev.ID)
	}
	return ids
}

// checkEachOnce fails unless the fake accepted each of ids exactly once
// and nothing else.
func (e *env) checkEachOnce(ids []string) {
	e.t.Helper()
	seen := map[string]int{}
	for _, m := range e.fake.Messages() {
		seen[m.CallbackParam("o")]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			e.t.Errorf("message %s accepted %d times, want once", id, seen[id])
		}
		delete(seen, id)
	}
	if len(seen) > 0 {
		e.t.Errorf("messages accepted that were not queued: %v", seen)
	}
}

// checkNoPHI fails when the logs carry the patient's number or a
// message's text.
func checkNoPHI(t *testing.T, logs string, texts ...string) {
	t.Helper()
	for _, s := range append(texts, patientPhone, strings.TrimPrefix(patientPhone, "+")) {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs carry %q", s)
		}
	}
}

// TestOutageOfAnHour: Twilio down for an hour (5xx, or no connection at
// all): the messages are retried, with backoff, and each is sent once
// when it is back; none is lost, none goes twice, none is a dead letter.
func TestOutageOfAnHour(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		down   func(*env)
		up     func(*env)
		reason string
	}{
		{"5xx", func(e *env) { e.fake.FailTo(patientPhone, smstest.ServerError) },
			func(e *env) { e.fake.FailTo(patientPhone, smstest.OK) }, channels.ReasonProviderError},
		{"network", func(e *env) { e.disp.Senders[sms.Channel] = e.unreachable() },
			func(e *env) { e.disp.Senders[sms.Channel] = e.sender(smsFrom) }, channels.ReasonNetwork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, logs := newLoggedEnv(t)
			tc.down(e)
			e.enroll("p-1", patientPhone)
			ids := e.queued("p-1")
			if len(ids) == 0 {
				t.Fatal("enrolling queued no welcome")
			}
			e.run(time.Hour, time.Minute)
			if n := len(e.fake.Messages()); n != 0 {
				t.Fatalf("%d messages accepted while down", n)
			}
			for _, ev := range channeltest.Of(e.Timeline("p-1"), "message.out") {
				if ev.Status != "retrying" || ev.Reason != tc.reason {
					t.Errorf("during the outage: %+v, want retrying for %s", ev, tc.reason)
				}
			}
			if tc.name == "5xx" {
				if a := len(e.fake.Attempts()); a < 8 || a > 30 {
					t.Errorf("%d attempts in an hour; want backoff from 2 s, at most every 10 min", a)
				}
			}
			if d := e.Depth(); d != len(ids) {
				t.Fatalf("outbox depth %d during the outage, want %d", d, len(ids))
			}

			tc.up(e)
			e.run(11*time.Minute, time.Minute) // the longest backoff is 10 minutes
			e.run(time.Hour, 5*time.Minute)    // and nothing more goes out
			e.checkEachOnce(ids)
			if d := e.Depth(); d != 0 {
				t.Errorf("outbox depth %d after the outage", d)
			}
			if dead, err := e.Store.DeadLetters(t.Context(), "", 0); err != nil || len(dead) != 0 {
				t.Errorf("dead letters %+v, %v", dead, err)
			}
			for _, ev := range channeltest.Of(e.Timeline("p-1"), "message.out") {
				if ev.Status == "retrying" || ev.Status == "failed" || ev.Reason != "" {
					t.Errorf("after the outage: %+v", ev)
				}
			}
			checkNoPHI(t, logs.String(), e.fake.Messages()[0].Body)
		})
	}
}

// TestOutageLongerThanTheWindow: Twilio down for more than the retry
// window (24 h): the message becomes a dead letter (failed, with its
// reason, a log line, out of the queue); resent once Twilio is back, it
// is delivered once.
func TestOutageLongerThanTheWindow(t *testing.T) {
	t.Parallel()
	e, logs := newLoggedEnv(t)
	var deadLetters []string
	e.disp.DeadLetter = func(channel, reason string) { deadLetters = append(deadLetters, channel+"/"+reason) }
	e.fake.FailTo(patientPhone, smstest.ServerError)
	e.enroll("p-1", patientPhone)
	ids := e.queued("p-1")
	e.run(23*time.Hour, 10*time.Minute)
	if dead, _ := e.Store.DeadLetters(t.Context(), "", 0); len(dead) != 0 {
		t.Fatalf("dead letters before the window ended: %+v", dead)
	}
	e.run(90*time.Minute, 10*time.Minute)

	dead, err := e.Runner.DeadLetters(t.Context(), runner.Actor{Staff: "ops"}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != len(ids) {
		t.Fatalf("dead letters %+v, want %d", dead, len(ids))
	}
	for _, d := range dead {
		if d.LastError != channels.ReasonProviderError || d.ErrorCode != 20500 || d.FailedAt.IsZero() || d.FailedAt.Sub(channeltest.T0) < 24*time.Hour {
			t.Errorf("dead letter %+v: want provider_error 20500, failed after 24 h", d)
		}
	}
	for _, ev := range channeltest.Of(e.Timeline("p-1"), "message.out") {
		if ev.Status != "failed" || ev.Reason != channels.ReasonProviderError {
			t.Errorf("dead letter's event %+v, want failed, provider_error", ev)
		}
	}
	if d := e.Depth(); d != 0 {
		t.Errorf("outbox depth %d with only dead letters", d)
	}
	if len(deadLetters) != len(ids) || deadLetters[0] != "sms/provider_error" {
		t.Errorf("dead letters counted %v", deadLetters)
	}
	if n := strings.Count(logs.String(), "dead letter: message not sent"); n != len(ids) {
		t.Errorf("%d dead-letter log lines, want %d", n, len(ids))
	}

	e.fake.FailTo(patientPhone, smstest.OK)
	for _, d := range dead {
		if _, err := e.Runner.ResendDeadLetter(t.Context(), runner.Actor{Staff: "ops"}, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range channeltest.Of(e.Timeline("p-1"), "message.out") {
		if ev.Status != "queued" {
			t.Errorf("event after the resend: %+v, want queued", ev)
		}
	}
	e.run(time.Hour, 5*time.Minute)
	e.checkEachOnce(ids)
	if d := e.Depth(); d != 0 {
		t.Errorf("outbox depth %d after the resend", d)
	}
	checkNoPHI(t, logs.String(), e.fake.Messages()[0].Body)
}

// TestStaleDoseReminderCancelled: a dose reminder that waits through an
// outage past its time + 2 h is cancelled with reason stale, never sent
// late, and is not a dead letter.
func TestStaleDoseReminderCancelled(t *testing.T) {
	t.Parallel()
	e, logs := newLoggedEnv(t)
	e.enroll("p-1", patientPhone) // lisinopril at 08:00 in Chicago
	e.step()                      // the welcome goes
	welcome := len(e.fake.Messages())
	e.fake.FailTo(patientPhone, smstest.ServerError)
	e.Clock.Set(channeltest.T0.Add(22 * time.Hour)) // Tuesday 08:00 in Chicago
	e.Runner.FireDue(t.Context(), 1)
	var reminder store.Event
	for _, ev := range channeltest.Of(e.Timeline("p-1"), "message.out") {
		if ev.At.Equal(e.Clock.Now()) {
			reminder = ev
		}
	}
	if reminder.ID == "" {
		t.Fatal("no dose reminder queued at 08:00")
	}
	tries := len(e.fake.Attempts())
	e.run(150*time.Minute, 5*time.Minute) // to 10:30
	e.fake.FailTo(patientPhone, smstest.OK)
	e.run(time.Hour, 5*time.Minute)

	if len(e.fake.Attempts()) == tries {
		t.Fatal("the reminder was never tried")
	}
	if n := len(e.fake.Messages()); n != welcome {
		t.Fatalf("%d messages accepted after the welcome: the stale reminder went out late", n-welcome)
	}
	got, _ := channeltest.Event(e.Timeline("p-1"), reminder.ID)
	if got.Status != "cancelled" || got.Reason != channels.ReasonStale {
		t.Fatalf("reminder event %+v, want cancelled, stale", got)
	}
	if dead, _ := e.Store.DeadLetters(t.Context(), "", 0); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
	if d := e.Depth(); d != 0 {
		t.Fatalf("outbox depth %d", d)
	}
	if !strings.Contains(logs.String(), "reason=stale") {
		t.Error("no log line for the stale reminder")
	}
	checkNoPHI(t, logs.String(), reminder.Text)
}
