package voice_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

func TestReminderCallAnsweredAndTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	call := e.remind("p-1")

	if call.To != patientPhone || call.From != voiceFrom {
		t.Errorf("call from %s to %s", call.From, call.To)
	}
	if call.MachineDetection != "Enable" || call.Timeout != voice.DefaultRingTimeout {
		t.Errorf("MachineDetection %q, Timeout %d", call.MachineDetection, call.Timeout)
	}
	if !slices.Equal(call.StatusCallbackEvents, []string{"initiated", "ringing", "answered", "completed"}) {
		t.Errorf("StatusCallbackEvent %v", call.StatusCallbackEvents)
	}
	if !strings.HasPrefix(call.URL, e.srv.URL+voice.AnswerPath+"?") || !strings.HasPrefix(call.StatusCallback, e.srv.URL+voice.StatusPath+"?") {
		t.Errorf("Url %s, StatusCallback %s", call.URL, call.StatusCallback)
	}
	if call.Param("p") != "" || call.Param("a") != "0" || call.Param("o") == "" {
		t.Errorf("answer URL %s: want a=0 and the outbox id, no patient", call.URL)
	}
	// Neither URL Twilio keeps names the patient: the webhooks find the
	// patient from the outbox id (the rest of this test answers the call).
	for _, u := range []string{call.URL, call.StatusCallback} {
		if strings.Contains(u, "p-1") || strings.Contains(u, "p=") {
			t.Errorf("call URL %s names the patient", u)
		}
	}
	reminder := call.Param("o")
	if ev := e.event("p-1", reminder); ev.Status != "queued" || ev.ProviderID != call.SID {
		t.Errorf("reminder event after the call was placed: status %q, provider id %q", ev.Status, ev.ProviderID)
	}
	if n := e.sender.Active(); n != 1 {
		t.Errorf("%d active calls, want 1", n)
	}

	c := e.fake.Answer(t, call, voicetest.Human)
	ask := e.text("en", "med.ask", map[string]any{"Medication": e.text("en", "med.generic", nil)})
	heard(t, c, ask,
		e.text("en", "voice.press", map[string]any{"Digit": 1, "Label": e.text("en", "med.choice.taken", nil)}),
		e.text("en", "voice.press", map[string]any{"Digit": 2, "Label": e.text("en", "med.choice.not_yet", nil)}),
		e.text("en", "voice.press", map[string]any{"Digit": 3, "Label": e.text("en", "med.choice.problem", nil)}),
		e.text("en", "voice.repeat", nil), e.text("en", "voice.nurse", nil), e.text("en", "voice.stop", nil))
	g := c.Gather()
	if g == nil {
		t.Fatal("no <Gather> after the question")
	}
	for attr, want := range map[string]string{"input": "dtmf", "numDigits": "1", "timeout": "6"} {
		if got := g.Attr(attr); got != want {
			t.Errorf("Gather %s=%q, want %q", attr, got, want)
		}
	}
	action, err := url.Parse(g.Attr("action"))
	if err != nil || action.Path != voice.GatherPath || action.Query().Get("k") != "1" || action.Query().Get("n") != "0" ||
		action.Query().Has("p") || strings.Contains(g.Attr("action"), "p-1") {
		t.Errorf("Gather action %q: want a known patient's (k=1), not naming the patient", g.Attr("action"))
	}
	if ev := e.event("p-1", reminder); ev.Status != "delivered" {
		t.Errorf("reminder event after the call was answered: %q, want delivered", ev.Status)
	}

	c.Press("1")
	heard(t, c, e.text("en", "med.thanks", nil), e.text("en", "voice.goodbye", nil))
	if !c.Ended() {
		t.Fatalf("call still waiting for %s after the flow ended", c.Waiting())
	}
	evs := e.Timeline("p-1")
	if ad := channeltest.Of(evs, "adherence"); len(ad) != 1 || ad[0].Status != "taken" {
		t.Errorf("adherence events %+v, want one taken", ad)
	}
	if in := channeltest.Of(evs, "message.in"); len(in) != 1 || in[0].Channel != voice.Channel || in[0].Text != "1" {
		t.Errorf("message.in events %+v", in)
	}
	if n := e.sender.Active(); n != 0 {
		t.Errorf("%d active calls after the call completed", n)
	}
	if n, _ := e.Store.OutboxDepth(t.Context()); n != 0 {
		t.Errorf("outbox depth %d: a call's replies are spoken, not queued", n)
	}
}

func TestRepeatThenAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	ask := e.text("en", "med.ask", map[string]any{"Medication": e.text("en", "med.generic", nil)})
	c.Press("9")
	if n := strings.Count(strings.Join(c.Said(), "\n"), ask); n != 2 {
		t.Fatalf("heard the question %d times after pressing 9, want 2", n)
	}
	c.Press("2")
	heard(t, c, e.text("en", "med.later", nil), e.text("en", "voice.goodbye", nil))
	if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 1 || ad[0].Status != "not_yet" {
		t.Errorf("adherence %+v, want one not_yet", ad)
	}
}

func TestSilenceTwiceRunsTheTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	c.Silence()
	heard(t, c, e.text("en", "voice.no_input", nil), e.text("en", "med.ask", map[string]any{"Medication": e.text("en", "med.generic", nil)}))
	if c.Gather() == nil {
		t.Fatal("no <Gather> after the first silence")
	}
	if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 0 {
		t.Fatalf("adherence recorded after one silence: %+v", ad)
	}
	c.Silence()
	heard(t, c, e.text("en", "med.no_reply.voice", map[string]any{"Medication": e.text("en", "med.generic", nil)}), e.text("en", "voice.goodbye", nil))
	if !c.Ended() {
		t.Fatal("call goes on after two silences")
	}
	// The call reached them: silence is no answer, not a missed dose.
	if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 1 || ad[0].Status != "no_answer" {
		t.Errorf("adherence %+v, want one no_answer", ad)
	}
	timers, err := e.Store.Timers(t.Context(), "p-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range timers {
		if tm.Name == conversations.FlowTimer {
			t.Errorf("the question's timer is still set after its timeout ran: %+v", tm)
		}
	}
}

func TestNurseLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		dialStatus string
		escalated  bool
	}{
		{"answered", "completed", false},
		{"no answer", "no-answer", true},
		{"busy", "busy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withNurse)
			e.enroll(patient("p-1", patientPhone, "en"))
			c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
			c.Press("0")
			heard(t, c, e.text("en", "voice.connecting", nil))
			d := c.Dialing()
			if d == nil {
				t.Fatalf("no <Dial> after pressing 0 (waiting for %q)", c.Waiting())
			}
			if strings.TrimSpace(d.Text) != nurseLine || d.Attr("timeout") != "20" || !strings.Contains(d.Attr("action"), voice.DialPath) {
				t.Errorf("Dial %q timeout=%s action=%s", d.Text, d.Attr("timeout"), d.Attr("action"))
			}
			c.DialResult(tc.dialStatus)
			if !c.Ended() {
				t.Error("call goes on after the transfer")
			}
			es := e.escalations()
			if !tc.escalated {
				if len(es) != 0 {
					t.Errorf("escalations %+v after the nurse answered", es)
				}
				return
			}
			heard(t, c, e.text("en", "voice.callback", nil))
			if len(es) != 1 || es[0].PatientID != "p-1" || es[0].Priority != "medium" || es[0].Reason != voice.ReasonNoNurse {
				t.Errorf("escalations %+v, want one medium callback", es)
			}
		})
	}
}

func TestNurseWithoutLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	c.Press("0")
	heard(t, c, e.text("en", "voice.callback", nil))
	if !c.Ended() {
		t.Fatal("call goes on after the callback promise")
	}
	es := e.escalations()
	if len(es) != 1 || es[0].Priority != "medium" || es[0].Reason != voice.ReasonAskedNurse {
		t.Errorf("escalations %+v, want one medium", es)
	}
}

func TestVoicemailCarriesNoPHI(t *testing.T) {
	t.Parallel()
	for _, by := range []string{voicetest.Machine, "machine_end_beep", voicetest.Fax} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.enroll(patient("p-1", patientPhone, "en"))
			call := e.remind("p-1")
			c := e.fake.Answer(t, call, by)
			if !c.Ended() {
				t.Fatalf("a machine is waited on (%s)", c.Waiting())
			}
			want := e.text("en", "voice.voicemail", map[string]any{"HelpContact": "5 5 5, 0 1 0 0"})
			if said := c.Said(); len(said) != 1 || said[0] != want {
				t.Fatalf("machine heard %q, want only %q", said, want)
			}
			all := strings.ToLower(strings.Join(c.Said(), " "))
			for _, phi := range []string{"lisinopril", "10 mg", strings.ToLower(e.text("en", "program.name", nil)), "tend", "blood", "pressure", "medic"} {
				if strings.Contains(all, phi) {
					t.Errorf("voicemail says %q: %s", phi, all)
				}
			}
			if ev := e.event("p-1", call.Param("o")); ev.Status != voice.StatusVoicemail {
				t.Errorf("reminder event %q, want voicemail", ev.Status)
			}
			if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 0 {
				t.Errorf("adherence recorded for a voicemail: %+v", ad)
			}
			if n := e.sender.Active(); n != 0 {
				t.Errorf("%d active calls after the voicemail", n)
			}
		})
	}
}

func TestInboundCall(t *testing.T) {
	t.Parallel()
	inbound := func(e *env) string { return e.srv.URL + voice.InboundPath }

	t.Run("unknown caller, nurse line", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withNurse)
		c := e.fake.Dial(t, inbound(e), strangePhone, voiceFrom)
		heard(t, c, e.text("en", "voice.unknown", nil), e.text("en", "voice.nurse", nil))
		c.Press("0")
		if d := c.Dialing(); d == nil || strings.TrimSpace(d.Text) != nurseLine {
			t.Fatalf("no <Dial> to the nurse line after pressing 0")
		}
		c.DialResult("no-answer")
		if !c.Ended() || len(e.escalations()) != 0 {
			t.Errorf("ended %v, escalations %+v", c.Ended(), e.escalations())
		}
	})
	t.Run("unknown caller, silence", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withNurse)
		c := e.fake.Dial(t, inbound(e), strangePhone, voiceFrom)
		c.Silence()
		heard(t, c, e.text("en", "voice.unknown", nil), e.text("en", "voice.goodbye", nil))
		if !c.Ended() {
			t.Error("call goes on")
		}
	})
	t.Run("unknown caller, no nurse line", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.fake.Dial(t, inbound(e), strangePhone, voiceFrom)
		if said := c.Said(); !slices.Equal(said, []string{e.text("en", "voice.unknown", nil), e.text("en", "voice.goodbye", nil)}) {
			t.Errorf("heard %q", said)
		}
		if !c.Ended() {
			t.Error("call goes on")
		}
	})
	t.Run("withheld number", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.fake.Dial(t, inbound(e), "anonymous", voiceFrom)
		heard(t, c, e.text("en", "voice.unknown", nil))
	})
	t.Run("enrolled, question waiting", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.enroll(patient("p-1", patientPhone, "es"))
		e.start("p-1", "refill-reminder", "medication=lisinopril", "date=2026-03-05")
		e.drain() // the call was not answered; the patient calls back
		c := e.fake.Dial(t, inbound(e), patientPhone, voiceFrom)
		heard(t, c, e.text("es", "voice.press", map[string]any{"Digit": 1, "Label": e.text("es", "refill.choice.ordered", nil)}))
		for _, s := range c.Heard {
			if v := e.Pack.Voice["es"]; s.Language != v.Language || s.Voice != v.Voice {
				t.Errorf("%q said by %q in %q, want the pack's Spanish voice %+v", s.Text, s.Voice, s.Language, v)
			}
		}
		c.Press("1")
		heard(t, c, e.text("es", "refill.thanks", nil), e.text("es", "voice.goodbye", nil))
		if !c.Ended() {
			t.Error("call goes on after the flow ended")
		}
	})
	t.Run("enrolled, nothing waiting", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.enroll(patient("p-1", patientPhone, "en"))
		c := e.fake.Dial(t, inbound(e), patientPhone, voiceFrom)
		heard(t, c, e.text("en", "voice.nothing", nil), e.text("en", "voice.nurse", nil))
		c.Press("0")
		heard(t, c, e.text("en", "voice.callback", nil))
		if len(e.escalations()) != 1 {
			t.Errorf("escalations %+v", e.escalations())
		}
	})
}

// TestUnansweredCallsRetryThenFallBack: a busy or unanswered reminder call
// is placed again after the program's spacing, up to its retry limit, and
// then the message goes to the next channel of the chain.
func TestUnansweredCallsRetryThenFallBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	first := e.remind("p-1")
	const spacing = 15 * time.Minute // conversations' default call policy
	const retries = 2

	calls := []voicetest.Call{first}
	outcomes := []string{voicetest.Busy, voicetest.NoAnswer, voicetest.NoAnswer}
	for i, outcome := range outcomes {
		call := calls[i]
		if got := call.Param("a"); got != strconv.Itoa(i) {
			t.Fatalf("call %d: attempt %s", i+1, got)
		}
		if code, err := e.fake.Unanswered(call, outcome); err != nil || code != http.StatusNoContent {
			t.Fatalf("call %d %s callback: %d %v", i+1, outcome, code, err)
		}
		// Twilio delivers a callback twice now and then: no second retry.
		if code, err := e.fake.Status(call, outcome, ""); err != nil || code != http.StatusNoContent {
			t.Fatalf("repeated callback: %d %v", code, err)
		}
		if ev := e.event("p-1", call.Param("o")); ev.Status != outcome {
			t.Errorf("call %d event status %q, want %q", i+1, ev.Status, outcome)
		}
		if n := e.sender.Active(); n != 0 {
			t.Errorf("%d active calls after the call ended", n)
		}
		if i == retries {
			break
		}
		// Nothing is due before the spacing has passed...
		e.Clock.Add(spacing - time.Second)
		if n := e.disp.Step(t.Context()); n != 0 {
			t.Fatalf("after call %d: %d entries due before the spacing passed", i+1, n)
		}
		// ...then exactly one call.
		e.Clock.Add(time.Second)
		calls = append(calls, e.dispatch(len(e.fake.Calls())))
	}
	if n := len(e.fake.Calls()); n != 1+retries {
		t.Fatalf("%d calls, want %d", n, 1+retries)
	}
	// After the last retry the message falls back to SMS, at once.
	batch, err := e.Store.ClaimOutbox(t.Context(), e.Clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 1 || batch[0].Channel != conversations.SMS || batch[0].To != patientPhone {
		t.Fatalf("outbox after the last retry: %+v, want one SMS", batch)
	}
	if want := e.event("p-1", first.Param("o")).Text; batch[0].Text != want {
		t.Errorf("fallback SMS %q, want the reminder's text %q", batch[0].Text, want)
	}
}

func TestStopOptsOutOfVoiceOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	c.Press("8")
	if said := c.Said(); said[len(said)-1] != e.text("en", "voice.stopped", nil) {
		t.Errorf("last heard %q", said[len(said)-1])
	}
	if !c.Ended() {
		t.Fatal("call goes on after 8")
	}
	ct, err := e.Runner.Contact(t.Context(), "p-1")
	if err != nil {
		t.Fatal(err)
	}
	if !ct.OptedOut.Has(voice.Channel) || ct.OptedOut.Has(conversations.SMS) {
		t.Errorf("opted out of %08b: want voice only", ct.OptedOut)
	}
	if ct.Blocked(conversations.SMS) != "" {
		t.Errorf("SMS blocked: %s", ct.Blocked(conversations.SMS))
	}
	cons := channeltest.Of(e.Timeline("p-1"), "consent")
	if len(cons) != 1 || cons[0].Channel != voice.Channel || cons[0].Status != "opted_out" {
		t.Errorf("consent events %+v", cons)
	}

	// Calling in does not start calls again by itself: the caller is
	// offered it, and 1 does it and goes on with the waiting question.
	in := e.fake.Dial(t, e.srv.URL+voice.InboundPath, patientPhone, voiceFrom)
	heard(t, in, e.text("en", "voice.resume", nil))
	if ct, _ := e.Runner.Contact(t.Context(), "p-1"); !ct.OptedOut.Has(voice.Channel) {
		t.Fatal("calling in opted back in")
	}
	e.start("p-1", "med-reminder", "medication=lisinopril")
	in.Press("1")
	heard(t, in, e.text("en", "keyword.start.confirm.voice", nil), e.text("en", "med.ask", map[string]any{"Medication": e.text("en", "med.generic", nil)}))
	if ct, _ := e.Runner.Contact(t.Context(), "p-1"); ct.OptedOut.Has(voice.Channel) {
		t.Fatal("pressing 1 did not start calls again")
	}
}

// TestStaleKey: a key pressed after the question closed (its timeout ran
// while the caller listened) does not answer anything.
func TestStaleKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	e.Clock.Add(2 * time.Hour)
	due, err := e.Store.DueTimers(t.Context(), e.Clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range due {
		if err := e.Runner.Fire(t.Context(), tm); err != nil {
			t.Fatal(err)
		}
	}
	c.Press("1")
	heard(t, c, e.text("en", "voice.goodbye", nil))
	ad := channeltest.Of(e.Timeline("p-1"), "adherence")
	if len(ad) != 1 || ad[0].Status != "no_answer" {
		t.Errorf("adherence %+v: want only the timeout's no_answer", ad)
	}
}

// TestRetriedKeyPress: Twilio retrying a key press whose turn committed
// runs nothing twice and asks what waits now.
func TestRetriedKeyPress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	call := e.remind("p-1")
	c := e.fake.Answer(t, call, voicetest.Human)
	action := c.Gather().Attr("action")
	form := url.Values{"CallSid": {call.SID}, "AccountSid": {e.fake.AccountSID}, "From": {voiceFrom}, "To": {patientPhone}, "Digits": {"2"}}
	var bodies []string
	for range 2 {
		req, err := voicetest.SignedRequest(action, e.fake.AuthToken, form)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		bodies = append(bodies, string(b))
	}
	if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 1 {
		t.Errorf("%d adherence events for one key press sent twice", len(ad))
	}
	if in := channeltest.Of(e.Timeline("p-1"), "message.in"); len(in) != 1 {
		t.Errorf("%d message.in events for one key press sent twice", len(in))
	}
	doc, err := voicetest.Parse([]byte(bodies[1]))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find("Hangup") == nil {
		t.Errorf("retry answered %s; nothing waits, want a goodbye", bodies[1])
	}
}

func TestWebhooksRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	call := e.remind("p-1")
	form := url.Values{"CallSid": {call.SID}, "AccountSid": {e.fake.AccountSID}, "From": {patientPhone}, "To": {voiceFrom},
		"CallStatus": {"in-progress"}, "Digits": {"1"}, "DialCallStatus": {"no-answer"}}
	q := url.Values{"p": {"p-1"}, "o": {call.Param("o")}, "a": {"0"}, "s": {"1"}, "t": {"1"}, "n": {"0"}}.Encode()
	routes := []string{voice.InboundPath, voice.AnswerPath + "?" + q, voice.GatherPath + "?" + q, voice.DialPath + "?" + q, voice.StatusPath + "?" + q,
		voice.PageAnswerPath + "?" + q, voice.PageKeyPath + "?" + q, voice.PageStatusPath + "?" + q}
	post := func(req *http.Request) int {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, route := range routes {
		target := e.srv.URL + route
		forged, _ := voicetest.SignedRequest(target, "0123456789abcdef0123456789abcdef", form)
		elsewhere, _ := voicetest.SignedRequest(target, e.fake.AuthToken, form)
		elsewhere.Header.Set("X-Twilio-Signature", voicetest.Sign(e.fake.AuthToken, "https://evil.example"+route, form))
		unsigned, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
		unsigned.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		malformed, _ := http.NewRequest(http.MethodPost, target, strings.NewReader("CallSid=%zz"))
		malformed.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		malformed.Header.Set("X-Twilio-Signature", "x")
		noSid := url.Values{}
		for k, v := range form {
			if k != "CallSid" {
				noSid[k] = v
			}
		}
		missing, _ := voicetest.SignedRequest(target, e.fake.AuthToken, noSid)
		for _, tc := range []struct {
			name string
			req  *http.Request
			want int
		}{
			{"forged", forged, http.StatusForbidden},
			{"signed for another URL", elsewhere, http.StatusForbidden},
			{"unsigned", unsigned, http.StatusForbidden},
			{"malformed form", malformed, http.StatusBadRequest},
			{"no CallSid", missing, http.StatusBadRequest},
		} {
			if got := post(tc.req); got != tc.want {
				t.Errorf("%s %s: status %d, want %d", route, tc.name, got, tc.want)
			}
		}
	}
	// Bad state in the URL is malformed too, even correctly signed.
	for _, route := range []string{voice.GatherPath + "?p=p-1&s=x&t=1&n=0", voice.AnswerPath + "?p=p-1", voice.StatusPath + "?p=p-1&o=x&a=-1"} {
		req, _ := voicetest.SignedRequest(e.srv.URL+route, e.fake.AuthToken, form)
		if got := post(req); got != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", route, got)
		}
	}
	if ev := e.event("p-1", call.Param("o")); ev.Status != "queued" {
		t.Errorf("a rejected webhook changed the reminder's status to %q", ev.Status)
	}
	if n := len(channeltest.Of(e.Timeline("p-1"), "message.in")) + len(channeltest.Of(e.Timeline("p-1"), "adherence")); n != 0 {
		t.Errorf("%d events after rejected webhooks", n)
	}
}

// TestConcurrentCallsPerNumber: a number carries MaxCalls calls; the next
// waits (and is retried) until one ends, or until MaxCallLength frees a
// slot whose end this replica never heard of.
func TestConcurrentCallsPerNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sender.MaxCalls = 1
	e.enroll(patient("p-1", patientPhone, "en"))
	e.enroll(patient("p-2", "+15551230002", "en"))
	e.enroll(patient("p-3", "+15551230003", "en"))
	e.start("p-1", "med-reminder", "medication=lisinopril")
	e.start("p-2", "med-reminder", "medication=lisinopril")
	e.disp.Step(t.Context())
	calls := e.fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls with MaxCalls 1", len(calls))
	}
	// A call's URLs name no patient: its number says whose it is.
	waiting, waitingPhone := "p-2", "+15551230002"
	if calls[0].To == waitingPhone {
		waiting, waitingPhone = "p-1", patientPhone
	}
	out := channeltest.Of(e.Timeline(waiting), "message.out")
	// It waits without counting as an attempt: its call retries are for
	// calls nobody answered, not for a busy line of ours.
	if st := out[len(out)-1].Status; st != "queued" {
		t.Errorf("the second reminder is %q, want queued", st)
	}
	// The first call ends: its slot frees, and the second goes when due.
	e.fake.Answer(t, calls[0], voicetest.Human).Press("1")
	e.Clock.Add(10 * time.Second)
	second := e.dispatch(1)
	if second.To != waitingPhone {
		t.Fatalf("second call to %s, want %s's", second.To, waiting)
	}
	// No callback for the second call ever reaches this replica: after
	// MaxCallLength its slot frees anyway.
	e.start("p-3", "med-reminder", "medication=lisinopril")
	e.disp.Step(t.Context())
	if n := len(e.fake.Calls()); n != 2 {
		t.Fatalf("%d calls while the line is taken", n)
	}
	e.Clock.Add(voice.DefaultMaxCallLength)
	e.dispatch(2)
}

func TestSenderClassifiesErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entry := store.OutboxEntry{ID: "o-1", PatientID: "p-1", Channel: voice.Channel, To: patientPhone}
	for _, tc := range []struct {
		fault voicetest.Fault
		class error
		code  int
	}{
		{voicetest.RateLimited, channels.ErrRetry, 20429},
		{voicetest.ServerError, channels.ErrRetry, 20500},
		{voicetest.InvalidTo, nil, 21211},
		{voicetest.Drop, channels.ErrUnknownOutcome, 0},
	} {
		e.fake.FailNext(tc.fault, 1)
		_, _, err := e.sender.Send(t.Context(), entry)
		var se *channels.SendError
		if !errors.As(err, &se) {
			t.Fatalf("fault %d: error %v is not a SendError", tc.fault, err)
		}
		if se.Class != tc.class || se.Code != tc.code {
			t.Errorf("fault %d: class %v code %d, want %v %d", tc.fault, se.Class, se.Code, tc.class, tc.code)
		}
		e.sender.Release(entry.ID) // an unknown outcome keeps its slot
	}
	sid, status, err := e.sender.Send(t.Context(), entry)
	if err != nil || !strings.HasPrefix(sid, "CA") || status != "queued" {
		t.Errorf("Send: %q %q %v", sid, status, err)
	}
	if _, _, err := e.sender.Send(t.Context(), store.OutboxEntry{ID: "o-2", Channel: voice.Channel, To: patientPhone}); err == nil {
		t.Error("a call without a patient was placed")
	}
}

// TestSlowSpeech: a patient who asked for slower speech hears every
// sentence at 85% through SSML, with the language's configured voice.
func TestSlowSpeech(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	voiced := *e.Pack
	voiced.Voice = map[string]content.Voice{"en": {Voice: "Polly.Joanna-Neural", Language: "en-US"}}
	e.hooks.Pack = &voiced
	p := patient("p-1", patientPhone, "en")
	p.SlowSpeech = true
	e.enroll(p)
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	if len(c.Heard) == 0 {
		t.Fatal("nothing said")
	}
	for _, s := range c.Heard {
		if s.Voice != "Polly.Joanna-Neural" || s.Language != "en-US" || s.Rate != "85%" {
			t.Errorf("%q said by %q in %q at rate %q", s.Text, s.Voice, s.Language, s.Rate)
		}
	}
	// Without an SSML voice the rate is left alone (basic voices reject
	// SSML), and without any voice Twilio's default speaks the language.
	bare := *e.Pack
	bare.Voice = nil
	e.hooks.Pack = &bare
	c = e.fake.Dial(t, e.srv.URL+voice.InboundPath, patientPhone, voiceFrom)
	for _, s := range c.Heard {
		if s.Rate != "" || s.Language != "en" || s.Voice != "" {
			t.Errorf("%q by %q in %q at rate %q, want Twilio's default voice in en", s.Text, s.Voice, s.Language, s.Rate)
		}
	}
}

// withSpeech lets callers speak as well as press keys.
func withSpeech(e *env) { e.hooks.Speech = true }

// TestSpeech: with Speech on, what a caller says goes through the engine
// like a text: an emergency said aloud gets the spoken safety reply with
// the emergency number and opens an acute ticket; a worded concern gets the
// safety question, and a spoken yes is the emergency; a spoken answer
// answers a question. Keys keep working.
func TestSpeech(t *testing.T) {
	t.Parallel()
	inbound := func(e *env) string { return e.srv.URL + voice.InboundPath }
	numbers := map[string]any{"Emergency": "911"}
	acute := func(e *env) store.Escalation {
		t.Helper()
		for _, es := range e.escalations() {
			if es.Priority == "acute" {
				return es
			}
		}
		t.Fatalf("no acute escalation among %+v", e.escalations())
		return store.Escalation{}
	}

	t.Run("emergency said at the nurse prompt", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withSpeech)
		e.enroll(patient("p-1", patientPhone, "en"))
		c := e.fake.Dial(t, inbound(e), patientPhone, voiceFrom)
		heard(t, c, e.text("en", "voice.nothing", nil), e.text("en", "voice.nurse", nil))
		if g := c.Gather(); g == nil || g.Attr("input") != "dtmf speech" || g.Attr("language") != e.Pack.Voice["en"].Language {
			t.Fatalf("nurse prompt gather %+v: want input=dtmf speech in the pack's language", g)
		}
		c.Speak("I can't breathe")
		heard(t, c, e.text("en", "keyword.emergency.voice", numbers))
		if es := acute(e); !strings.HasPrefix(es.Reason, "emergency: ") {
			t.Errorf("acute escalation reason %q", es.Reason)
		}
	})
	t.Run("concern asked, yes said", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withSpeech)
		e.enroll(patient("p-1", patientPhone, "es"))
		c := e.fake.Dial(t, inbound(e), patientPhone, voiceFrom)
		c.Speak("no tengo dolor de pecho hoy")
		heard(t, c, e.text("es", "safety.ask.chest_pain.voice", numbers))
		if len(e.escalations()) != 0 {
			t.Fatalf("escalations %+v before the answer", e.escalations())
		}
		c.Speak("Sí.")
		heard(t, c, e.text("es", "keyword.emergency.voice", numbers))
		acute(e)
	})
	t.Run("answer said to a question", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withSpeech)
		e.enroll(patient("p-1", patientPhone, "en"))
		c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
		c.Speak(e.text("en", "med.choice.taken", nil))
		heard(t, c, e.text("en", "med.thanks", nil))
		if ad := channeltest.Of(e.Timeline("p-1"), "adherence"); len(ad) != 1 || ad[0].Status != "taken" {
			t.Errorf("adherence %+v, want one taken", ad)
		}
	})
	t.Run("keys still work, 0 is a nurse", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withSpeech)
		e.enroll(patient("p-1", patientPhone, "en"))
		c := e.fake.Dial(t, inbound(e), patientPhone, voiceFrom)
		c.Press("0")
		heard(t, c, e.text("en", "voice.callback", nil))
		if len(e.escalations()) != 1 {
			t.Errorf("escalations %+v", e.escalations())
		}
	})
}

// TestCallURLsAfterUpgrade: a keypress on a URL built before the URLs lost
// the patient id (p) still answers the patient's question, and a status
// report on an outbox entry the store does not know is a 204 that changes
// nothing.
func TestCallURLsAfterUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p-1", patientPhone, "en"))
	call := e.remind("p-1")
	e.fake.Answer(t, call, voicetest.Human) // the question is asked
	post := func(route string, form url.Values) int {
		t.Helper()
		req, _ := voicetest.SignedRequest(e.srv.URL+route, e.fake.AuthToken, form)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// No number in the form: only p can say whose call it is.
	old := voice.GatherPath + "?" + url.Values{"p": {"p-1"}, "s": {"1"}, "t": {"1"}, "n": {"0"}}.Encode()
	if code := post(old, url.Values{"CallSid": {call.SID}, "Digits": {"1"}}); code != http.StatusOK {
		t.Fatalf("keypress on an old gather URL: %d", code)
	}
	if n := len(channeltest.Of(e.Timeline("p-1"), "adherence")); n != 1 {
		t.Errorf("%d adherence events after a keypress on an old URL, want 1", n)
	}
	before := len(e.Timeline("p-1"))
	unknown := voice.StatusPath + "?" + url.Values{"o": {"nosuchentry"}, "a": {"0"}}.Encode()
	if code := post(unknown, url.Values{"CallSid": {call.SID}, "CallStatus": {"no-answer"}}); code != http.StatusNoContent {
		t.Errorf("status of an unknown entry: %d, want 204", code)
	}
	if after := len(e.Timeline("p-1")); after != before {
		t.Errorf("a status report on an unknown entry changed the timeline: %d events, then %d", before, after)
	}
}
