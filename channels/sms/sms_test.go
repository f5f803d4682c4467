package sms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

const (
	smsFrom      = "+15550000000"
	patientPhone = "+15551230001"
)

// env is Tend's SMS channel on the real runner and embedded store of
// channeltest, its webhooks served by httptest, and a fake Twilio behind
// the real SDK.
type env struct {
	*channeltest.Core
	t    *testing.T
	disp *channels.Dispatcher
	fake *smstest.Server
	srv  *httptest.Server // Tend's webhooks; its URL is the public URL
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Core: channeltest.New(t, channeltest.Options{}), t: t, fake: smstest.New(t)}
	hooks := &sms.Webhooks{Turns: e.Runner, AuthToken: e.fake.AuthToken, Log: e.Log}
	e.srv = httptest.NewServer(hooks.Handler())
	t.Cleanup(e.srv.Close)
	hooks.PublicURL = e.srv.URL // before any request
	e.disp = &channels.Dispatcher{Outbox: e.Store, Consent: e.Runner, Clock: e.Clock.Now, Quiet: e.Quiet, Log: e.Log,
		Senders: map[string]channels.Sender{sms.Channel: e.sender(smsFrom)}, Specs: channels.Specs{sms.Spec}}
	return e
}

func (e *env) sender(from string) *sms.Sender {
	return &sms.Sender{Client: twilio.NewClient(e.fake.AccountSID, e.fake.AuthToken, e.fake.URL), From: from, PublicURL: e.srv.URL}
}

func (e *env) enroll(id, number string) {
	e.t.Helper()
	_, err := e.Runner.Enroll(e.t.Context(), store.Patient{ID: id, Phone: number, Language: "en",
		Timezone: "America/Chicago", Channel: sms.Channel, Programs: []string{"hypertension"},
		Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// post sends a webhook request and returns the status code.
func (e *env) post(req *http.Request) int {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (e *env) inbound(from, body, sid string) int {
	e.t.Helper()
	res := smstest.PostInbound(e.t, e.srv.URL, e.srv.URL, e.fake.AuthToken, from, body, sid)
	res.Body.Close()
	return res.StatusCode
}

// step runs the dispatcher once and returns how many entries it claimed.
func (e *env) step() int { return e.disp.Step(e.t.Context()) }

func TestInboundRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	inboundURL := e.srv.URL + sms.InboundPath
	signed := func(token, signedURL string, form url.Values) *http.Request {
		req, err := smstest.SignedRequest(inboundURL, signedURL, token, form)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	raw := func(body, sig string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, inboundURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		return req
	}
	good := smstest.InboundForm(patientPhone, "1", "SM00000000000000000000000000000001")
	without := func(key string) url.Values {
		f := smstest.InboundForm(patientPhone, "1", "SM00000000000000000000000000000002")
		f.Del(key)
		return f
	}
	badFrom := smstest.InboundForm("not a patientPhone", "1", "SM00000000000000000000000000000003")
	tampered := signed(e.fake.AuthToken, inboundURL, good)
	tampered.Body = io.NopCloser(strings.NewReader(strings.Replace(good.Encode(), "Body=1", "Body=STOP", 1)))
	tampered.ContentLength = -1

	for _, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"forged: signed with another token", signed("0123456789abcdef0123456789abcdef", inboundURL, good), http.StatusForbidden},
		{"unsigned", raw(good.Encode(), ""), http.StatusForbidden},
		{"signed for another URL", signed(e.fake.AuthToken, "https://evil.example/webhooks/twilio/sms", good), http.StatusForbidden},
		{"body changed after signing", tampered, http.StatusForbidden},
		{"malformed form", raw("From=%zz&Body=1&MessageSid=SM1", "x"), http.StatusBadRequest},
		{"body over 64 KiB", raw("Body="+strings.Repeat("a", 70<<10), "x"), http.StatusBadRequest},
		{"missing MessageSid", signed(e.fake.AuthToken, inboundURL, without("MessageSid")), http.StatusBadRequest},
		{"missing From", signed(e.fake.AuthToken, inboundURL, without("From")), http.StatusBadRequest},
		{"bad From", signed(e.fake.AuthToken, inboundURL, badFrom), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.post(tc.req); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 0 {
				t.Errorf("%d message.in events after a rejected webhook", n)
			}
			if n := e.Depth(); n != 1 { // the welcome message only
				t.Errorf("outbox depth %d, want 1", n)
			}
		})
	}

	// The same form, correctly signed, is accepted: the cases above failed
	// for the reason they name.
	if got := e.post(signed(e.fake.AuthToken, inboundURL, good)); got != http.StatusOK {
		t.Fatalf("signed webhook: status %d", got)
	}
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 1 {
		t.Fatalf("%d message.in events after a good webhook", n)
	}

	// A field Twilio sends twice (media URLs, say) is signed with all its
	// values, sorted; a validator that read the first value only refused it.
	twice := smstest.InboundForm(patientPhone, "2", "SM00000000000000000000000000000004")
	twice["MediaUrl0"] = []string{"https://api.twilio.com/b", "https://api.twilio.com/a"}
	if got := e.post(signed(e.fake.AuthToken, inboundURL, twice)); got != http.StatusOK {
		t.Fatalf("webhook with a repeated field: status %d", got)
	}
	// Signed as if Twilio kept only the first value: refused.
	one := url.Values{}
	for k, v := range twice {
		one[k] = v[:1]
	}
	firstOnly := raw(twice.Encode(), smstest.Sign(e.fake.AuthToken, inboundURL, one))
	if got := e.post(firstOnly); got != http.StatusForbidden {
		t.Fatalf("webhook signed with one value of a repeated field: status %d, want 403", got)
	}
}

func TestInboundDedupe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	before := channeltest.Count(e.Timeline("p-1"), "message.out")
	for i := range 3 {
		if got := e.inbound(patientPhone, "HELP", "SM0000000000000000000000000000000a"); got != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i+1, got)
		}
	}
	evs := e.Timeline("p-1")
	if n := channeltest.Count(evs, "message.in"); n != 1 {
		t.Errorf("%d message.in events for one MessageSid sent 3 times", n)
	}
	if n := channeltest.Count(evs, "message.out") - before; n != 1 {
		t.Errorf("%d HELP replies for one MessageSid sent 3 times", n)
	}

	// Retries racing each other are deduplicated too.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			req, _ := smstest.InboundRequest(e.srv.URL, e.srv.URL, e.fake.AuthToken,
				smstest.InboundForm(patientPhone, "hello", "SM0000000000000000000000000000000b"))
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("concurrent retry: status %d", res.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 2 {
		t.Errorf("%d message.in events after 5 concurrent deliveries of a second MessageSid, want 2", n)
	}
}

func TestUnknownNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const stranger = "+15557770000"
	replies := func() []smstest.Message {
		for e.step() > 0 {
		}
		return e.fake.MessagesTo(stranger)
	}
	if got := e.inbound("(555) 777-0000", "hello", "SMu1"); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	got := replies()
	if len(got) != 1 || !strings.Contains(got[0].Body, "not enrolled") {
		t.Fatalf("first message: replies %+v, want one not-enrolled reply", got)
	}
	if got[0].CallbackParam("p") != "" {
		t.Errorf("reply to an unknown number names a patient: %s", got[0].StatusCallback)
	}
	e.Clock.Add(time.Hour)
	e.inbound(stranger, "hello?", "SMu2")
	e.inbound(stranger, "hello", "SMu1") // a retry of the first
	e.Clock.Add(22 * time.Hour)
	e.inbound(stranger, "anyone?", "SMu3")
	if got := replies(); len(got) != 1 {
		t.Fatalf("same day: %d replies, want 1", len(got))
	}
	e.Clock.Add(2 * time.Hour) // 25 h after the first reply
	e.inbound(stranger, "hello again", "SMu4")
	if got := replies(); len(got) != 2 {
		t.Fatalf("next day: %d replies, want 2", len(got))
	}
}

func TestStatusCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	if n := e.step(); n != 1 {
		t.Fatalf("dispatcher claimed %d, want the welcome message", n)
	}
	msgs := e.fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake got %d messages", len(msgs))
	}
	m := msgs[0]
	id := m.CallbackParam("o")
	status := func() string {
		ev, ok := channeltest.Event(e.Timeline("p-1"), id)
		if !ok {
			t.Fatalf("no event %s for the message's o=%s", id, id)
		}
		return ev.Status
	}
	if s := status(); s != "queued" {
		t.Fatalf("status after send %q, want Twilio's first status queued", s)
	}
	for _, step := range []struct{ send, want string }{
		{"sent", "sent"},
		{"delivered", "delivered"},
		{"sent", "delivered"}, // late: must not overwrite
		{"queued", "delivered"},
	} {
		code, err := e.fake.Callback(m, step.send, 0)
		if err != nil || code != http.StatusNoContent {
			t.Fatalf("callback %s: %d %v", step.send, code, err)
		}
		if s := status(); s != step.want {
			t.Fatalf("after callback %s: status %q, want %q", step.send, s, step.want)
		}
	}

	// A forged callback changes nothing.
	forged := url.Values{"MessageSid": {m.SID}, "MessageStatus": {"read"}}
	req, _ := smstest.SignedRequest(m.StatusCallback, m.StatusCallback, "0123456789abcdef0123456789abcdef", forged)
	if code := e.post(req); code != http.StatusForbidden {
		t.Fatalf("forged callback: status %d", code)
	}
	if s := status(); s != "delivered" {
		t.Fatalf("after a forged callback: %q", s)
	}
}

// TestStatusCallbackNoPatientID: the status callback URL Tend gives
// Twilio names the outbox entry and no patient, and a "delivered" on it
// still lands on its own patient's timeline, not another's; a report on
// an entry the store does not know is answered 204 and records nothing.
func TestStatusCallbackNoPatientID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	patients := map[string]string{"p-1": patientPhone, "p-2": "+15551230002"}
	for id, phone := range patients {
		e.enroll(id, phone)
	}
	if n := e.step(); n != 2 {
		t.Fatalf("dispatcher claimed %d, want the two welcome messages", n)
	}
	msgs := e.fake.Messages()
	if len(msgs) != 2 {
		t.Fatalf("fake got %d messages", len(msgs))
	}
	for _, m := range msgs {
		u, err := url.Parse(m.StatusCallback)
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query(); len(q) != 1 || q.Get("o") == "" {
			t.Errorf("StatusCallback %q: want the outbox entry alone", m.StatusCallback)
		}
		for id := range patients {
			if strings.Contains(m.StatusCallback, id) {
				t.Errorf("StatusCallback %q names patient %s", m.StatusCallback, id)
			}
		}
	}
	m := msgs[0]
	var owner, other string
	for id, phone := range patients {
		if phone == m.To {
			owner = id
		} else {
			other = id
		}
	}
	if code, err := e.fake.Callback(m, "delivered", 0); err != nil || code != http.StatusNoContent {
		t.Fatalf("callback: %d %v", code, err)
	}
	if ev, ok := channeltest.Event(e.Timeline(owner), m.CallbackParam("o")); !ok || ev.Status != "delivered" {
		t.Errorf("%s's message after a delivered callback: %+v (found %v)", owner, ev, ok)
	}
	for _, ev := range e.Timeline(other) {
		if ev.Type == "message.out" && ev.Status != "queued" {
			t.Errorf("%s's message changed by the other's callback: %+v", other, ev)
		}
	}

	unknown := m
	unknown.StatusCallback = strings.Replace(m.StatusCallback, "o="+m.CallbackParam("o"), "o=nosuchentry", 1)
	before := e.Timeline(owner)
	if code, err := e.fake.Callback(unknown, "failed", 30003); err != nil || code != http.StatusNoContent {
		t.Fatalf("callback on an unknown entry: %d %v, want 204", code, err)
	}
	if after := e.Timeline(owner); len(after) != len(before) {
		t.Errorf("a callback on an unknown entry changed the timeline: %d events, then %d", len(before), len(after))
	}
}

// TestStatusCallbackOptOut: a callback carrying error 21610 records an
// opt-out.
func TestStatusCallbackOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	e.step()
	m := e.fake.Messages()[0]
	if code, err := e.fake.Callback(m, "failed", 21610); err != nil || code != http.StatusNoContent {
		t.Fatalf("callback: %d %v", code, err)
	}
	evs := e.Timeline("p-1")
	if ev, _ := channeltest.Event(evs, m.CallbackParam("o")); ev.Status != "failed" || ev.ErrorCode != 21610 {
		t.Errorf("message event %+v", ev)
	}
	if !hasConsent(evs, "opted_out") {
		t.Errorf("no opted_out consent event in %+v", evs)
	}
}

func hasConsent(evs []store.Event, status string) bool {
	for _, ev := range evs {
		if ev.Type == "consent" && ev.Status == status {
			return true
		}
	}
	return false
}

func TestSenderClassifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entry := store.OutboxEntry{ID: "0001", PatientID: "p-1", Channel: sms.Channel, To: patientPhone, Text: "hi"}
	type class int
	const (
		ok class = iota
		retry
		optedOut
		permanent
		unknown
		auth
	)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name   string
		fault  smstest.Fault
		sender *sms.Sender
		want   class
		code   int
	}{
		{"created", smstest.OK, nil, ok, 0},
		{"429 rate limited", smstest.RateLimited, nil, retry, 20429},
		{"500", smstest.ServerError, nil, retry, 20500},
		{"connection dropped mid-request", smstest.Drop, nil, unknown, 0},
		{"connection refused", smstest.OK, &sms.Sender{Client: twilio.NewClient(e.fake.AccountSID, e.fake.AuthToken, closed.URL), From: smsFrom}, retry, 0},
		{"401 wrong credentials", smstest.OK, &sms.Sender{Client: twilio.NewClient(e.fake.AccountSID, "wrongtoken", e.fake.URL), From: smsFrom}, auth, 20003},
		{"401 account suspended", smstest.Unauthenticated, nil, auth, 20003},
		{"21610 opted out", smstest.OptedOut, nil, optedOut, 21610},
		{"21211 invalid number", smstest.InvalidTo, nil, permanent, 21211},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sender
			if s == nil {
				s = e.sender(smsFrom)
			}
			if tc.fault != smstest.OK {
				e.fake.FailNext(tc.fault, 1)
			}
			sid, status, err := s.Send(t.Context(), entry)
			var se *channels.SendError
			switch tc.want {
			case ok:
				if err != nil || !strings.HasPrefix(sid, "SM") || len(sid) != 34 || status != "queued" {
					t.Fatalf("Send = %q %q %v", sid, status, err)
				}
				return
			case retry:
				if !errors.Is(err, channels.ErrRetry) || errors.Is(err, channels.ErrOptedOut) {
					t.Fatalf("err %v, want ErrRetry", err)
				}
			case optedOut:
				if !errors.Is(err, channels.ErrOptedOut) || errors.Is(err, channels.ErrRetry) {
					t.Fatalf("err %v, want ErrOptedOut", err)
				}
			case permanent:
				if err == nil || errors.Is(err, channels.ErrRetry) || errors.Is(err, channels.ErrOptedOut) || errors.Is(err, channels.ErrUnknownOutcome) {
					t.Fatalf("err %v, want a permanent failure", err)
				}
			case auth:
				if !errors.Is(err, channels.ErrAuth) || errors.Is(err, channels.ErrRetry) {
					t.Fatalf("err %v, want ErrAuth (the channel pauses)", err)
				}
			case unknown:
				if !errors.Is(err, channels.ErrUnknownOutcome) || errors.Is(err, channels.ErrRetry) {
					t.Fatalf("err %v, want ErrUnknownOutcome (never resent)", err)
				}
			}
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err %#v, want a SendError with code %d", err, tc.code)
			}
		})
	}
	// What reached Twilio: the recipient, the text, the sender and a status
	// callback naming the outbox entry alone (no patient id).
	msgs := e.fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To != patientPhone || m.Body != "hi" || m.From != smsFrom || m.MessagingServiceSID != "" ||
		m.StatusCallback != e.srv.URL+sms.StatusPath+"?o=0001" {
		t.Fatalf("message %+v", m)
	}
}

func TestSenderMessagingService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const service = "MG0123456789abcdef0123456789abcdef"
	_, _, err := e.sender(service).Send(t.Context(), store.OutboxEntry{ID: "0002", Channel: sms.Channel, To: patientPhone, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	m := e.fake.Messages()[0]
	if m.MessagingServiceSID != service || m.From != "" || m.CallbackParam("p") != "" || m.CallbackParam("o") != "0002" {
		t.Fatalf("message %+v", m)
	}
}

// TestDispatcherRetries: a temporary failure is retried after its backoff
// and then sent once.
func TestDispatcherRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault smstest.Fault
		code  int
	}{
		{smstest.RateLimited, 20429},
		{smstest.ServerError, 20500},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.enroll("p-1", patientPhone)
			e.fake.FailNext(tc.fault, 1)
			if n := e.step(); n != 1 {
				t.Fatalf("first step claimed %d", n)
			}
			if a := e.fake.Attempts(); len(a) != 1 || a[0].Fault != tc.fault {
				t.Fatalf("attempts %+v", a)
			}
			out := func() store.Event {
				for _, ev := range e.Timeline("p-1") {
					if ev.Type == "message.out" {
						return ev
					}
				}
				t.Fatal("no message.out event")
				return store.Event{}
			}
			if ev := out(); ev.Status != "retrying" || ev.ErrorCode != tc.code {
				t.Fatalf("after the failure: %+v", ev)
			}
			if n := e.step(); n != 0 {
				t.Fatalf("retried before its backoff: claimed %d", n)
			}
			e.Clock.Add(time.Minute) // past the first backoff (at most 2 s)
			if n := e.step(); n != 1 {
				t.Fatalf("retry step claimed %d", n)
			}
			if msgs := e.fake.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Body, "Welcome") {
				t.Fatalf("messages %+v", msgs)
			}
			if ev := out(); ev.Status != "queued" || ev.ErrorCode != 0 {
				t.Fatalf("after the retry: %+v", ev)
			}
			if d := e.Depth(); d != 0 {
				t.Fatalf("outbox depth %d after the send", d)
			}
		})
	}
}

// TestWrongCredentialsPause: while Twilio refuses our credentials (401,
// 20003) no message fails or spends an attempt: the channel pauses, one
// send a minute tries again, the others wait without reaching Twilio, and
// once Twilio takes the credentials every message goes out once.
func TestWrongCredentialsPause(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	var changes []bool
	e := newEnv(t)
	e.disp.Log = slog.New(slog.NewTextHandler(&logs, nil))
	e.disp.Workers = 1
	e.disp.PauseChanged = func(ch string, paused bool) {
		mu.Lock()
		defer mu.Unlock()
		if ch == sms.Channel {
			changes = append(changes, paused)
		}
	}
	e.enroll("p-1", patientPhone)
	e.enroll("p-2", "+15551230002")
	e.fake.FailNext(smstest.Unauthenticated, 2)

	drain := func() (n int) {
		for k := e.step(); k > 0; k = e.step() {
			n += k
		}
		return n
	}
	if n := drain(); n != 2 {
		t.Fatalf("first steps claimed %d", n)
	}
	if a := e.fake.Attempts(); len(a) != 1 {
		t.Fatalf("%d attempts reached Twilio, want 1 (the channel paused after it)", len(a))
	}
	if p := e.disp.Paused(); !slices.Equal(p, []string{sms.Channel}) {
		t.Fatalf("paused %v", p)
	}
	e.Clock.Add(30 * time.Second)
	if n := drain(); n != 0 {
		t.Fatalf("claimed %d within the minute", n)
	}
	e.Clock.Add(31 * time.Second)
	drain() // one probe, refused again
	if a := e.fake.Attempts(); len(a) != 2 {
		t.Fatalf("%d attempts after a minute, want 2", len(a))
	}
	for _, id := range []string{"p-1", "p-2"} {
		for _, ev := range e.Timeline(id) {
			if ev.Type == "message.out" && (ev.Status == "failed" || ev.Status == "retrying") {
				t.Fatalf("%s: %+v while paused", id, ev)
			}
		}
	}
	e.Clock.Add(61 * time.Second)
	drain() // the credentials work again
	msgs := e.fake.Messages()
	if len(msgs) != 2 || msgs[0].To == msgs[1].To {
		t.Fatalf("sent %+v, want each patient's welcome once", msgs)
	}
	if p := e.disp.Paused(); len(p) != 0 {
		t.Fatalf("still paused: %v", p)
	}
	if d := e.Depth(); d != 0 {
		t.Fatalf("outbox depth %d", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(changes, []bool{true, false}) {
		t.Errorf("pause changes %v, want paused once, resumed once", changes)
	}
	if n := strings.Count(logs.String(), "channel paused"); n != 1 {
		t.Errorf("%d pause log lines, want 1:\n%s", n, logs.String())
	}
	for _, phi := range []string{patientPhone, "+15551230002", "Welcome"} {
		if strings.Contains(logs.String(), phi) {
			t.Errorf("the log has %q", phi)
		}
	}
}

// TestDispatcherUnknownOutcome: a connection lost mid-request may have
// created the message at Twilio, so it is recorded "unknown" and never resent.
func TestDispatcherUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	e.fake.FailNext(smstest.Drop, 1)
	if n := e.step(); n != 1 {
		t.Fatalf("first step claimed %d", n)
	}
	e.Clock.Add(time.Hour)
	if n := e.step(); n != 0 {
		t.Fatalf("a send of unknown outcome was claimed again (%d)", n)
	}
	if a := e.fake.Attempts(); len(a) != 1 {
		t.Fatalf("attempts %+v, want exactly one", a)
	}
	for _, ev := range e.Timeline("p-1") {
		if ev.Type == "message.out" && ev.Status != "unknown" {
			t.Fatalf("message.out status %q, want unknown", ev.Status)
		}
	}
}

// TestDispatcherGivesUp: a temporary failure that lasts is retried until
// the retry window ends, then the message is a dead letter: failed, with
// its reason and code, kept out of the queue.
func TestDispatcherGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.disp.RetryWindow = 30 * time.Minute
	e.fake.FailTo(patientPhone, smstest.ServerError)
	e.enroll("p-1", patientPhone)
	for range 35 {
		e.step()
		e.Clock.Add(time.Minute)
	}
	if a := e.fake.Attempts(); len(a) < 5 || len(a) > 15 {
		t.Fatalf("%d attempts in 30 minutes, want backoff from 2 s up to 10 min", len(a))
	}
	if d := e.Depth(); d != 0 {
		t.Fatalf("outbox depth %d", d)
	}
	for _, ev := range e.Timeline("p-1") {
		if ev.Type == "message.out" && (ev.Status != "failed" || ev.ErrorCode != 20500 || ev.Reason != channels.ReasonProviderError) {
			t.Fatalf("message event %+v, want failed 20500 provider_error", ev)
		}
	}
	dead, err := e.Store.DeadLetters(t.Context(), "", 0)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters %+v, %v; want the welcome", dead, err)
	}
}

// TestDispatcherProviderOptOut: Twilio's 21610 records an opt-out, and the
// next message for the patient is suppressed without reaching Twilio.
func TestDispatcherProviderOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.FailTo(patientPhone, smstest.OptedOut)
	e.enroll("p-1", patientPhone)
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	if n := e.step(); n != 2 {
		t.Fatalf("claimed %d, want the welcome and the reminder", n)
	}
	if a := e.fake.Attempts(); len(a) != 1 || a[0].Fault != smstest.OptedOut {
		t.Fatalf("attempts %+v, want one refused with 21610", a)
	}
	evs := e.Timeline("p-1")
	if !hasConsent(evs, "opted_out") {
		t.Fatalf("no opted_out consent event in %+v", evs)
	}
	var statuses []string
	for _, ev := range evs {
		if ev.Type == "message.out" {
			statuses = append(statuses, ev.Status)
		}
	}
	if strings.Join(statuses, ",") != "failed,suppressed" {
		t.Fatalf("message statuses %v, want failed,suppressed", statuses)
	}
	if out, err := e.optedOut("p-1"); err != nil || !out {
		t.Fatalf("OptedOut = %v %v", out, err)
	}

	// Nothing more goes to the number, even when Twilio would take it.
	e.fake.FailTo(patientPhone, smstest.OK)
	if err := e.Runner.StartFlow(context.WithoutCancel(t.Context()), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.inbound(patientPhone, "1", "SMo1")
	for e.step() > 0 {
	}
	if a := e.fake.Attempts(); len(a) != 1 {
		t.Fatalf("%d attempts after the opt-out, want 1", len(a))
	}
}

func (e *env) optedOut(id string) (bool, error) {
	c, err := e.Runner.Contact(context.Background(), id)
	return c.OptedOut.Has(conversations.SMS), err
}

// TestHeldMessageGoesToCurrentNumber: a message held for quiet hours goes to
// the number on the enrollment when it is sent, not the one it was queued
// with, so a corrected typo never sends a patient's messages to a stranger.
func TestHeldMessageGoesToCurrentNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc, _ := time.LoadLocation("America/Chicago")
	e.Clock.Set(time.Date(2026, 3, 2, 22, 0, 0, 0, loc)) // quiet hours
	e.enroll("p-1", "+15551239999")                      // a typo
	if n := e.step(); n != 1 || len(e.fake.Messages()) != 0 {
		t.Fatalf("welcome at 22:00: claimed %d, sent %d; want it held", n, len(e.fake.Messages()))
	}
	e.enroll("p-1", patientPhone) // the clinic corrects the number
	e.Clock.Set(time.Date(2026, 3, 3, 9, 0, 0, 0, loc))
	for e.step() > 0 {
	}
	msgs := e.fake.Messages()
	if len(msgs) != 1 || msgs[0].To != patientPhone {
		t.Fatalf("messages %+v, want the welcome to %s only", msgs, patientPhone)
	}
}

// TestRejectedWebhookLogged: Twilio signs for the URL it was given; when
// TEND_PUBLIC_URL differs, every webhook is refused, and one warning says
// why and which URL the signature was checked against (no body, no
// number), however many arrive.
func TestRejectedWebhookLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	core := channeltest.New(t, channeltest.Options{})
	fake := smstest.New(t)
	hooks := &sms.Webhooks{Turns: core.Runner, AuthToken: fake.AuthToken, PublicURL: "https://wrong.example.org/",
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	srv := httptest.NewServer(hooks.Handler())
	t.Cleanup(srv.Close)
	for i := range 5 {
		res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, patientPhone, "my secret words", "SM"+strings.Repeat("0", 31)+strconv.Itoa(i))
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
	}
	out := logs.String()
	if strings.Count(out, "webhook rejected") != 1 || !strings.Contains(out, "reason=bad_signature") ||
		!strings.Contains(out, "checked_url=https://wrong.example.org"+sms.InboundPath) {
		t.Errorf("log:\n%s", out)
	}
	for _, phi := range []string{patientPhone, strings.TrimPrefix(patientPhone, "+"), "secret words"} {
		if strings.Contains(out, phi) {
			t.Errorf("the log has %q", phi)
		}
	}
}
