package channels_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// The provider adapters have their own tests against fake providers; here a
// channel's Sender is a recorder that fails as a provider would, so the
// dispatcher's choices between channels can be checked one by one.
type recorder struct {
	mu    sync.Mutex
	sent  []store.OutboxEntry
	err   error
	tries int
}

func (r *recorder) Send(_ context.Context, e store.OutboxEntry) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.err != nil {
		return "", "", r.err
	}
	r.sent = append(r.sent, e)
	return "id-" + e.ID, "sent", nil
}

func (r *recorder) got() []store.OutboxEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.OutboxEntry(nil), r.sent...)
}

type env struct {
	t       *testing.T
	st      store.Store
	clock   *conversations.ManualClock
	runner  *runner.Runner
	disp    *channels.Dispatcher
	senders map[string]*recorder
}

// t0 is a Monday afternoon in Chicago: inside the sending window.
var t0 = time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)

var specs = channels.Specs{sms.Spec, whatsapp.Spec, telegram.Spec, voice.Spec}

func newEnv(t *testing.T) *env {
	t.Helper()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet, _ := conversations.ParseQuietHours("08:00-21:00")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{t: t, st: st, clock: conversations.NewManualClock(t0), senders: map[string]*recorder{}}
	e.runner = &runner.Runner{Store: st, Engine: engine, Clock: e.clock.Now, Quiet: quiet, Log: log, Channels: specs,
		Render: &conversations.Renderer{Pack: pack, HelpContact: "555-0100"}}
	senders := map[string]channels.Sender{}
	for _, ch := range []string{conversations.SMS, conversations.WhatsApp, conversations.Telegram, conversations.Voice} {
		e.senders[ch] = &recorder{}
		senders[ch] = e.senders[ch]
	}
	e.disp = &channels.Dispatcher{Outbox: st, Consent: e.runner, Clock: e.clock.Now, Quiet: quiet, Log: log, Senders: senders,
		Specs: specs}
	return e
}

func (e *env) enroll(id string, chain ...string) {
	e.t.Helper()
	_, err := e.runner.Enroll(e.t.Context(), store.Patient{ID: id, Phone: "+13125550100", Language: "en",
		Timezone: "America/Chicago", Channels: chain, Channel: chain[0], Programs: []string{"hypertension"},
		Medications: []store.Medication{{ID: "lisinopril", Times: []string{"08:00"}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// drain sends everything due now.
func (e *env) drain() {
	for e.disp.Step(e.t.Context()) > 0 {
	}
}

func (e *env) lastOut(id string) store.Event {
	e.t.Helper()
	evs, err := e.st.Timeline(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == "message.out" {
			return evs[i]
		}
	}
	e.t.Fatal("no message.out")
	return store.Event{}
}

// A WhatsApp patient who never wrote is outside the window: a message with
// no template goes on the next channel, and its event says where it went.
func TestWhatsAppOutsideWindowFallsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p1", conversations.WhatsApp, conversations.SMS)
	e.drain()
	if n := len(e.senders[conversations.WhatsApp].got()); n != 0 {
		t.Fatalf("%d WhatsApp sends outside the window without a template", n)
	}
	got := e.senders[conversations.SMS].got()
	if len(got) != 1 || got[0].Channel != conversations.SMS || got[0].To != "+13125550100" {
		t.Fatalf("SMS sends %+v", got)
	}
	if ev := e.lastOut("p1"); ev.Channel != conversations.SMS || ev.Status != "sent" {
		t.Fatalf("event %+v, want sent on sms", ev)
	}

	// Once the patient writes on WhatsApp, replies and reminders go there.
	if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.WhatsApp, Text: "hi", Dedupe: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.runner.StartFlow(t.Context(), "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	wa := e.senders[conversations.WhatsApp].got()
	if len(wa) == 0 || wa[len(wa)-1].Template != "" || len(wa[len(wa)-1].Labels) != 3 {
		t.Fatalf("WhatsApp sends inside the window %+v; want free text with 3 labels", wa)
	}
}

// A template is used outside the window when the pack maps one.
func TestWhatsAppTemplateOutsideWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runner.Render.Pack.WhatsApp.Templates = map[string]map[string]content.Template{
		"welcome.body": {"en": {Sid: "HX1", Variables: []string{"Program"}}}}
	e.enroll("p1", conversations.WhatsApp, conversations.SMS)
	e.drain()
	wa := e.senders[conversations.WhatsApp].got()
	if len(wa) != 1 || wa[0].Template != "HX1" || len(wa[0].Vars) != 1 || wa[0].Vars[0] == "" {
		t.Fatalf("WhatsApp sends %+v, want template HX1 with the program name", wa)
	}
}

// A blocked Telegram bot marks the channel unreachable and the message goes
// by SMS; later messages skip Telegram until the patient writes there.
func TestTelegramBlockedFallsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p1", conversations.Telegram, conversations.SMS)
	// Not linked yet: Telegram has no address, SMS carries the welcome.
	e.drain()
	if n := len(e.senders[conversations.SMS].got()); n != 1 {
		t.Fatalf("%d SMS sends before linking, want 1", n)
	}
	if err := e.runner.LinkAddress(t.Context(), "p1", conversations.Telegram, "777"); err != nil {
		t.Fatal(err)
	}
	e.senders[conversations.Telegram].err = &channels.SendError{Class: channels.ErrUnreachable, Code: 403, Err: errors.New("blocked")}
	e.drain()
	c, err := e.runner.Contact(t.Context(), "p1")
	if err != nil || !c.Unreachable.Has(conversations.Telegram) {
		t.Fatalf("contact %+v %v: telegram not unreachable", c, err)
	}
	if n := len(e.senders[conversations.SMS].got()); n != 2 {
		t.Fatalf("%d SMS sends, want the welcome again by SMS", n)
	}
	e.senders[conversations.Telegram].err = nil
	if err := e.runner.StartFlow(t.Context(), "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := len(e.senders[conversations.Telegram].got()); n != 0 {
		t.Fatalf("%d Telegram sends while unreachable", n)
	}
	// Writing on Telegram makes it reachable again.
	if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.Telegram, Text: "help", Dedupe: "t1"}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if got := e.senders[conversations.Telegram].got(); len(got) != 1 || got[0].To != "777" || got[0].MessageID != "keyword.help" {
		t.Fatalf("Telegram sends %+v", got)
	}
}

// A 429 with retry_after puts the message back no sooner than asked.
func TestRetryAfterHonored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.senders[conversations.SMS].err = &channels.SendError{Class: channels.ErrRetry, Code: 429, RetryAfter: 5 * time.Minute, Err: errors.New("slow down")}
	e.enroll("p1", conversations.SMS)
	e.drain()
	e.senders[conversations.SMS].err = nil
	e.clock.Add(4 * time.Minute)
	e.drain()
	if n := len(e.senders[conversations.SMS].got()); n != 0 {
		t.Fatalf("sent %d before retry_after", n)
	}
	e.clock.Add(2 * time.Minute)
	e.drain()
	if n := len(e.senders[conversations.SMS].got()); n != 1 {
		t.Fatalf("sent %d after retry_after, want 1", n)
	}
}

// Opting out of SMS leaves calls: a reminder goes by voice, and STOP's
// confirmation still goes by SMS, once.
func TestConsentPerChannel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p1", conversations.SMS, conversations.Voice)
	e.drain()
	if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.SMS, Text: "STOP", Dedupe: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.runner.StartFlow(t.Context(), "p1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	sms := e.senders[conversations.SMS].got()
	if len(sms) != 2 || sms[1].MessageID != "keyword.stop.confirm" {
		t.Fatalf("SMS sends %+v, want the welcome and the STOP confirmation", sms)
	}
	voice := e.senders[conversations.Voice].got()
	if len(voice) != 1 || len(voice[0].Labels) != 3 {
		t.Fatalf("voice sends %+v, want the reminder call", voice)
	}
}

// Quiet hours hold calls as they hold texts.
func TestQuietHoursHoldCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(time.Date(2026, 3, 3, 4, 0, 0, 0, time.UTC)) // 22:00 in Chicago
	e.enroll("p1", conversations.Voice)
	e.drain()
	if n := len(e.senders[conversations.Voice].got()); n != 0 {
		t.Fatalf("%d calls at 22:00", n)
	}
	e.clock.Set(time.Date(2026, 3, 3, 14, 31, 0, 0, time.UTC)) // 08:31
	e.drain()
	if n := len(e.senders[conversations.Voice].got()); n != 1 {
		t.Fatalf("%d calls after the window opened, want 1", n)
	}
}

// Per-recipient pacing: Telegram's one message a second per chat spaces a
// chat's messages; a wait longer than the dispatcher holds a worker for
// puts the message back, due when the limit allows.
func TestPacingPerRecipient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.disp.Limits = &channels.Limits{Recipient: map[string]channels.Rate{conversations.SMS: {PerSecond: 0.1, Burst: 1}}}
	e.enroll("p1", conversations.SMS)
	if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.SMS, Text: "help", Dedupe: "s1"}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := len(e.senders[conversations.SMS].got()); n != 1 {
		t.Fatalf("%d sends at once, want 1 (the second waits 10 s)", n)
	}
	e.clock.Add(11 * time.Second)
	e.drain()
	if n := len(e.senders[conversations.SMS].got()); n != 2 {
		t.Fatalf("%d sends after 11 s, want 2", n)
	}
}

// A long SMS counts all its segments: at one segment every 10 s, a
// 2-segment message waits 20 s after the message before it.
func TestPacingCountsSegments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.disp.Limits = &channels.Limits{Channel: map[string]channels.Rate{conversations.SMS: {PerSecond: 0.1, Burst: 1}}}
	e.enroll("p1", conversations.SMS)
	e.drain() // the welcome: 1 segment, at once
	for i, text := range []string{"español", "ayuda"} {
		if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.SMS, Text: text, Dedupe: fmt.Sprint("s", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The language confirmation (1 segment) goes at 10 s, the Spanish HELP
	// reply (2 segments) at 20 s, and it owes a segment: a third message
	// goes at 40 s, not 30.
	if _, err := e.runner.Receive(t.Context(), "p1", runner.Message{Channel: conversations.SMS, Text: "hola", Dedupe: "s3"}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at   time.Duration
		sent int
	}{{0, 1}, {11 * time.Second, 2}, {21 * time.Second, 3}, {31 * time.Second, 3}, {41 * time.Second, 4}} {
		e.clock.Set(t0.Add(step.at))
		e.drain()
		got := e.senders[conversations.SMS].got()
		if len(got) != step.sent {
			t.Fatalf("at %v: %d sends, want %d", step.at, len(got), step.sent)
		}
		if n, _ := locales.Segments(got[len(got)-1].Text); step.sent == 3 && n != 2 {
			t.Fatalf("the HELP reply has %d segments; the test needs 2", n)
		}
	}
}

func (r *recorder) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// A temporary failure is retried on its channel until the retry window
// ends, then the rest of the chain gets one try: a channel that takes it
// sends it; when none does, the message is a dead letter with the reason
// of the failure that lasted.
func TestRetryWindowEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		voice error
		dead  bool
	}{
		{"the next channel takes it", nil, false},
		{"no channel takes it", &channels.SendError{Code: 13224, Err: errors.New("invalid number")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.disp.RetryWindow = time.Hour
			var deadLetters []string
			e.disp.DeadLetter = func(channel, reason string) { deadLetters = append(deadLetters, channel+"/"+reason) }
			e.senders[conversations.SMS].fail(&channels.SendError{Class: channels.ErrRetry, Code: 20500, Err: errors.New("server error")})
			e.senders[conversations.Voice].fail(tc.voice)
			e.enroll("p1", conversations.SMS, conversations.Voice)
			for range 59 {
				e.drain()
				e.clock.Add(time.Minute)
			}
			e.drain()
			if ev := e.lastOut("p1"); ev.Status != "retrying" || ev.Channel != conversations.SMS || ev.Reason != channels.ReasonProviderError {
				t.Fatalf("inside the window: %+v, want retrying on sms for provider_error", ev)
			}
			if e.senders[conversations.Voice].attempts() != 0 {
				t.Fatal("fell back before the window ended")
			}
			tries := e.senders[conversations.SMS].attempts()
			if tries < 8 || tries > 20 {
				t.Errorf("%d SMS tries in an hour; want backoff from 2 s to 10 min", tries)
			}
			e.clock.Add(10 * time.Minute)
			e.drain()
			dead, err := e.st.DeadLetters(t.Context(), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			ev := e.lastOut("p1")
			if e.senders[conversations.Voice].attempts() != 1 {
				t.Errorf("voice tried %d times after the window, want 1", e.senders[conversations.Voice].attempts())
			}
			if !tc.dead {
				if ev.Status != "sent" || ev.Channel != conversations.Voice || len(dead) != 0 || len(deadLetters) != 0 {
					t.Fatalf("event %+v, dead letters %v %v; want sent by voice, no dead letter", ev, dead, deadLetters)
				}
				return
			}
			if ev.Status != "failed" || ev.Channel != conversations.SMS || ev.Reason != channels.ReasonProviderError || ev.ErrorCode != 20500 {
				t.Errorf("dead letter's event %+v, want failed on sms, provider_error 20500", ev)
			}
			if len(dead) != 1 || dead[0].LastError != channels.ReasonProviderError || dead[0].Channel != conversations.SMS || !dead[0].FailedAt.Equal(e.clock.Now()) {
				t.Errorf("dead letters %+v, want the welcome, provider_error on sms, failed now", dead)
			}
			if fmt.Sprint(deadLetters) != "[sms/provider_error]" {
				t.Errorf("DeadLetter heard %v", deadLetters)
			}
			if n := len(e.senders[conversations.SMS].got()) + len(e.senders[conversations.Voice].got()); n != 0 {
				t.Errorf("%d sent", n)
			}
		})
	}
}

// The reason of a dead letter comes from a fixed set: a transport error
// (no code) is the network, 429 is rate limiting, the rest the provider's.
func TestDeadLetterReasons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *channels.SendError
		want string
	}{
		{&channels.SendError{Class: channels.ErrRetry, Err: errors.New("dial tcp: connection refused")}, channels.ReasonNetwork},
		{&channels.SendError{Class: channels.ErrRetry, Code: 20429, Err: errors.New("too many")}, channels.ReasonRateLimited},
		{&channels.SendError{Class: channels.ErrRetry, Code: 429, RetryAfter: time.Second, Err: errors.New("retry after 1")}, channels.ReasonRateLimited},
		{&channels.SendError{Class: channels.ErrRetry, Code: 20003, Err: errors.New("authenticate")}, channels.ReasonProviderError},
	} {
		e := newEnv(t)
		e.disp.RetryWindow = time.Minute
		e.senders[conversations.SMS].fail(tc.err)
		e.enroll("p1", conversations.SMS)
		for range 12 {
			e.drain()
			e.clock.Add(10 * time.Second)
		}
		dead, err := e.st.DeadLetters(t.Context(), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].LastError != tc.want {
			t.Errorf("%v: dead letters %+v, want one with reason %s", tc.err, dead, tc.want)
		}
		if !slices.Contains(channels.DeadLetterReasons, tc.want) {
			t.Errorf("%s is not in DeadLetterReasons", tc.want)
		}
	}
}

// A message past its StaleAfter is cancelled with reason stale: while it
// is being retried, and at once when quiet hours would hold it past it.
func TestStaleCancelled(t *testing.T) {
	t.Parallel()
	commit := func(e *env, id string, stale time.Time) {
		t.Helper()
		now := e.clock.Now()
		err := e.st.Commit(t.Context(), store.Commit{PatientID: "p1", Version: e.version("p1"),
			Events: []store.Event{{ID: id, Type: "message.out", At: now, Channel: conversations.SMS, Text: "Time for lisinopril?", Status: "queued"}},
			Outbox: []store.OutboxEntry{{ID: id, PatientID: "p1", Channel: conversations.SMS, To: "+13125550100", Text: "Time for lisinopril?",
				Timezone: "America/Chicago", NotBefore: now, CreatedAt: now, StaleAfter: stale}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	event := func(e *env, id string) store.Event {
		t.Helper()
		evs, err := e.st.Timeline(t.Context(), "p1")
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.ID == id {
				return ev
			}
		}
		t.Fatalf("no event %s", id)
		return store.Event{}
	}
	t.Run("while retried", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.enroll("p1", conversations.SMS)
		e.drain() // the welcome
		e.senders[conversations.SMS].fail(&channels.SendError{Class: channels.ErrRetry, Code: 20500, Err: errors.New("server error")})
		commit(e, "r1", e.clock.Now().Add(2*time.Hour))
		tries := e.senders[conversations.SMS].attempts()
		for range 3 * 60 / 5 {
			e.drain()
			e.clock.Add(5 * time.Minute)
		}
		e.senders[conversations.SMS].fail(nil)
		e.drain()
		if ev := event(e, "r1"); ev.Status != "cancelled" || ev.Reason != channels.ReasonStale {
			t.Fatalf("stale reminder's event %+v, want cancelled, stale", ev)
		}
		if n := len(e.senders[conversations.SMS].got()); n != 1 {
			t.Fatalf("%d sent, want the welcome only", n)
		}
		if e.senders[conversations.SMS].attempts() == tries {
			t.Fatal("the reminder was never tried before it went stale")
		}
		if dead, _ := e.st.DeadLetters(t.Context(), "", 0); len(dead) != 0 {
			t.Fatalf("dead letters %+v", dead)
		}
	})
	t.Run("held for the night", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.enroll("p1", conversations.SMS)
		e.drain()
		e.clock.Set(time.Date(2026, 3, 3, 2, 30, 0, 0, time.UTC)) // 20:30 in Chicago
		commit(e, "r1", e.clock.Now().Add(2*time.Hour))
		e.clock.Add(45 * time.Minute) // 21:15: the window closed
		e.drain()
		if ev := event(e, "r1"); ev.Status != "cancelled" || ev.Reason != channels.ReasonStale {
			t.Fatalf("event %+v, want cancelled at once, stale", ev)
		}
		if d, _ := e.st.OutboxDepth(t.Context()); d != 0 {
			t.Fatalf("outbox depth %d", d)
		}
	})
}

func (e *env) version(id string) uint64 {
	e.t.Helper()
	_, ss, err := e.st.Load(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ss.Version
}
