package whatsapp_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

const (
	waFrom       = "+15550000001" // Tend's WhatsApp sender
	smsFrom      = "+15550000000"
	patientPhone = "+15551230001"
	patientWA    = "whatsapp:" + patientPhone
)

// quickReplies are the test's twilio/quick-reply contents, by button count.
var quickReplies = map[int]string{1: "HXquickreply1", 2: "HXquickreply2", 3: "HXquickreply3"}

// env is Tend's WhatsApp channel (and SMS, the next channel of the test
// patients' chain) on the real runner, embedded store and dispatcher, its
// webhooks served by httptest, and a fake Twilio behind the real SDK.
type env struct {
	*channeltest.Core
	t    *testing.T
	disp *channels.Dispatcher
	wa   *whatsapp.Sender
	fake *smstest.Server
	srv  *httptest.Server // Tend's webhooks; its URL is the public URL
	sids atomic.Int64
}

// newEnv builds an env on pack and logging to log; nil means the bundled
// pack and no logs.
func newEnv(t *testing.T, pack *content.Pack, log *slog.Logger) *env {
	t.Helper()
	e := &env{Core: channeltest.New(t, channeltest.Options{Pack: pack, Log: log}), t: t, fake: smstest.New(t)}
	e.fake.SetClock(e.Clock.Now)
	hooks := &whatsapp.Webhooks{Turns: e.Runner, AuthToken: e.fake.AuthToken, Log: e.Log}
	smsHooks := &sms.Webhooks{Turns: e.Runner, AuthToken: e.fake.AuthToken, Log: e.Log}
	mux := http.NewServeMux()
	for _, p := range whatsapp.Paths() {
		mux.Handle(p, hooks.Handler())
	}
	for _, p := range sms.Paths() {
		mux.Handle(p, smsHooks.Handler())
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	hooks.PublicURL, smsHooks.PublicURL = e.srv.URL, e.srv.URL // before any request
	client := twilio.NewClient(e.fake.AccountSID, e.fake.AuthToken, e.fake.URL)
	e.wa = &whatsapp.Sender{Client: client, From: waFrom, PublicURL: e.srv.URL, QuickReply: quickReplies}
	e.disp = &channels.Dispatcher{Outbox: e.Store, Consent: e.Runner, Clock: e.Clock.Now, Quiet: e.Quiet, Log: e.Log,
		Workers: 1, // one message at a time: transcripts keep their order
		Specs:   channels.Specs{whatsapp.Spec, sms.Spec},
		Senders: map[string]channels.Sender{
			whatsapp.Channel: e.wa,
			sms.Channel:      &sms.Sender{Client: client, From: smsFrom, PublicURL: e.srv.URL},
		}}
	return e
}

// enroll enrolls a patient whose chain is WhatsApp, then SMS.
func (e *env) enroll(id, number, lang string) {
	e.t.Helper()
	_, err := e.Runner.Enroll(e.t.Context(), store.Patient{ID: id, Phone: number, Language: lang,
		Timezone: "America/Chicago", Channel: whatsapp.Channel, Channels: []string{whatsapp.Channel, sms.Channel},
		Programs:    []string{"heart-failure"},
		Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) sid() string { return fmt.Sprintf("SM%032d", e.sids.Add(1)) }

// post sends a signed WhatsApp webhook form as Twilio would and returns
// Tend's status code; the fake opens the sender's window.
func (e *env) post(form url.Values) int {
	e.t.Helper()
	u := e.srv.URL + whatsapp.InboundPath
	res := e.fake.PostWhatsApp(e.t, u, u, form)
	return res.StatusCode
}

// write is the patient typing body on WhatsApp.
func (e *env) write(from, body string) int {
	e.t.Helper()
	return e.post(smstest.WhatsAppForm(from, body, e.sid()))
}

// press is the patient pressing a button titled text whose id is payload.
func (e *env) press(from, text, payload string) int {
	e.t.Helper()
	return e.post(smstest.WhatsAppButtonForm(from, text, payload, e.sid()))
}

// drain runs the dispatcher until the outbox has nothing due.
func (e *env) drain() {
	for e.disp.Step(e.t.Context()) > 0 {
	}
}

func (e *env) start(id, flow string, params ...conversations.Param) {
	e.t.Helper()
	if err := e.Runner.StartFlow(e.t.Context(), id, flow, params); err != nil {
		e.t.Fatal(err)
	}
}

func adherence(evs []store.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == "adherence" {
			out = append(out, ev.Status)
		}
	}
	return out
}

var medication = conversations.Param{Key: "medication", Value: "lisinopril"}

func TestInboundRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.enroll("p-1", patientPhone, "en")
	inboundURL := e.srv.URL + whatsapp.InboundPath
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
	good := smstest.WhatsAppForm(patientPhone, "1", "SM00000000000000000000000000000001")
	with := func(key, value string) url.Values {
		f := smstest.WhatsAppForm(patientPhone, "1", "SM00000000000000000000000000000002")
		if value == "" {
			f.Del(key)
		} else {
			f.Set(key, value)
		}
		return f
	}
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
		{"signed for the SMS path", signed(e.fake.AuthToken, e.srv.URL+sms.InboundPath, good), http.StatusForbidden},
		{"body changed after signing", tampered, http.StatusForbidden},
		{"malformed form", raw("From=%zz&Body=1&MessageSid=SM1", "x"), http.StatusBadRequest},
		{"body over 64 KiB", raw("Body="+strings.Repeat("a", 70<<10), "x"), http.StatusBadRequest},
		{"missing MessageSid", signed(e.fake.AuthToken, inboundURL, with("MessageSid", "")), http.StatusBadRequest},
		{"missing From", signed(e.fake.AuthToken, inboundURL, with("From", "")), http.StatusBadRequest},
		{"From without whatsapp:", signed(e.fake.AuthToken, inboundURL, with("From", patientPhone)), http.StatusBadRequest},
		{"From not a number", signed(e.fake.AuthToken, inboundURL, with("From", "whatsapp:not a number")), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.srv.Client().Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d", res.StatusCode, tc.want)
			}
			if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 0 {
				t.Errorf("%d message.in events after a rejected webhook", n)
			}
		})
	}

	// The same form, correctly signed, is accepted: the cases above failed
	// for the reason they name.
	if got := e.post(good); got != http.StatusOK {
		t.Fatalf("signed webhook: status %d", got)
	}
	evs := e.Timeline("p-1")
	if n := channeltest.Count(evs, "message.in"); n != 1 {
		t.Fatalf("%d message.in events after a good webhook", n)
	}
	for _, ev := range evs {
		if ev.Type == "message.in" && ev.Channel != whatsapp.Channel {
			t.Errorf("message.in on channel %q", ev.Channel)
		}
	}
}

// TestInboundDedupe: Twilio's retries of one MessageSid, one after another
// or racing, run one turn.
func TestInboundDedupe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.enroll("p-1", patientPhone, "en")
	e.drain()
	before := channeltest.Count(e.Timeline("p-1"), "message.out")
	form := smstest.WhatsAppForm(patientPhone, "HELP", "SM0000000000000000000000000000000a")
	for i := range 3 {
		if got := e.post(form); got != http.StatusOK {
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
	var wg sync.WaitGroup
	racing := smstest.WhatsAppForm(patientPhone, "hello", "SM0000000000000000000000000000000b")
	for range 5 {
		wg.Go(func() {
			req, _ := smstest.SignedRequest(e.srv.URL+whatsapp.InboundPath, e.srv.URL+whatsapp.InboundPath, e.fake.AuthToken, racing)
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
	// The HELP reply went on WhatsApp: the patient's message opened the
	// window, so it is free text.
	e.drain()
	var help []smstest.Message
	for _, m := range e.fake.MessagesTo(patientWA) {
		if strings.Contains(m.Body, "555-0100") {
			help = append(help, m)
		}
	}
	if len(help) != 1 || help[0].From != "whatsapp:"+waFrom || help[0].ContentSid != "" {
		t.Fatalf("HELP replies at Twilio: %+v", help)
	}
}

// TestTypedAnswer: a typed "1" answers the question, as on SMS.
func TestTypedAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.enroll("p-1", patientPhone, "en")
	e.write(patientPhone, "hello")
	e.start("p-1", "med-reminder", medication)
	if got := e.write(patientPhone, "1"); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if got := adherence(e.Timeline("p-1")); strings.Join(got, ",") != "taken" {
		t.Fatalf("adherence %v, want taken", got)
	}
}

// quickReply returns the last quick-reply message the fake got, and its
// variables.
func (e *env) quickReply() (smstest.Message, map[string]string) {
	e.t.Helper()
	msgs := e.fake.MessagesTo(patientWA)
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.HasPrefix(msgs[i].ContentSid, "HXquickreply") {
			return msgs[i], msgs[i].Variables()
		}
	}
	e.t.Fatalf("no quick reply among %+v", msgs)
	return smstest.Message{}, nil
}

// TestButtons: inside the window a question goes as quick-reply buttons;
// pressing one answers it; a button of an earlier question changes
// nothing; an approved template's button (a bare choice id) answers what
// waits.
func TestButtons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.enroll("p-1", patientPhone, "en")
	e.write(patientPhone, "hello")
	e.start("p-1", "med-reminder", medication)
	e.drain()
	m, vars := e.quickReply()
	if m.ContentSid != quickReplies[3] || m.Body != "" {
		t.Fatalf("question sent as %+v, want the 3-button quick reply", m)
	}
	first := vars["5"]
	choice, step := whatsapp.ParsePayload(first)
	if vars["1"] != "Time for your medicine. Did you take it?" || vars["2"] != "Yes, I took it" || vars["3"] != "Not yet" ||
		vars["4"] != "I have a problem" || choice != "taken" || step == 0 ||
		vars["6"] != whatsapp.Payload("not_yet", step) || vars["7"] != whatsapp.Payload("problem", step) || len(vars) != 7 {
		t.Fatalf("quick-reply variables %v", vars)
	}
	if got := e.press(patientPhone, vars["2"], first); got != http.StatusOK {
		t.Fatalf("press: status %d", got)
	}
	if got := adherence(e.Timeline("p-1")); strings.Join(got, ",") != "taken" {
		t.Fatalf("adherence %v after the button, want taken", got)
	}

	// The next reminder asks again, with a new step.
	e.start("p-1", "med-reminder", medication)
	e.drain()
	_, vars2 := e.quickReply()
	if _, step2 := whatsapp.ParsePayload(vars2["5"]); step2 == step {
		t.Fatalf("second question has the first one's step %d", step)
	}
	evs := e.Timeline("p-1")
	outBefore := channeltest.Count(evs, "message.out")
	// The first question's buttons are stale now: "Not yet" there changes
	// nothing, and is answered that the question closed.
	if got := e.press(patientPhone, vars["3"], vars["6"]); got != http.StatusOK {
		t.Fatalf("stale press: status %d", got)
	}
	evs = e.Timeline("p-1")
	if got := adherence(evs); strings.Join(got, ",") != "taken" {
		t.Fatalf("adherence %v after a stale button", got)
	}
	if n := channeltest.Count(evs, "message.out"); n != outBefore+1 {
		t.Fatalf("a stale button queued %d messages, want 1", n-outBefore)
	}
	if last := evs[len(evs)-1]; last.Type != "message.out" || last.Message != "answer.closed" {
		t.Fatalf("a stale button's answer %+v, want answer.closed", last)
	}
	// The question still waits: a template button (bare id, no step)
	// answers it.
	if got := e.press(patientPhone, "Not yet", "not_yet"); got != http.StatusOK {
		t.Fatalf("template button: status %d", got)
	}
	if got := adherence(e.Timeline("p-1")); strings.Join(got, ",") != "taken,not_yet" {
		t.Fatalf("adherence %v after a template button, want taken,not_yet", got)
	}
}

// TestUnknownNumber: a number nobody enrolled gets the not-enrolled reply,
// once a day, on WhatsApp.
func TestUnknownNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	const stranger = "+15557770000"
	for range 2 {
		if got := e.write(stranger, "hello"); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
	}
	e.Clock.Add(time.Hour)
	e.write(stranger, "anyone?")
	batch, err := e.Store.ClaimOutbox(t.Context(), e.Clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 1 || batch[0].Channel != whatsapp.Channel || batch[0].To != stranger || batch[0].PatientID != "" {
		t.Fatalf("outbox %+v, want one not-enrolled reply on whatsapp", batch)
	}
	// What Twilio gets for it: free text (the stranger just wrote) to the
	// whatsapp: address, with a callback that names no patient.
	if _, _, err := e.wa.Send(t.Context(), batch[0]); err != nil {
		t.Fatal(err)
	}
	got := e.fake.MessagesTo("whatsapp:" + stranger)
	if len(got) != 1 || !strings.Contains(got[0].Body, "not enrolled") || got[0].CallbackParam("p") != "" || got[0].Outcome != "" {
		t.Fatalf("replies %+v, want one not-enrolled reply", got)
	}
}

func TestSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.fake.OpenWindow(patientPhone)
	e.fake.ApproveTemplates("HXtemplate")
	labels := func(n int) []string { return []string{"One", "Two", "Three", "Four"}[:n] }
	choices := func(n int) []string { return []string{"a", "b", "c", "d"}[:n] }
	long := "Each morning, after the toilet, before eating" // over 20 characters
	for i, tc := range []struct {
		name    string
		entry   store.OutboxEntry
		qr      map[int]string
		content string
		vars    map[string]string
		body    string
	}{
		{name: "plain text", entry: store.OutboxEntry{Text: "Hello"}, body: "Hello"},
		{name: "one button", entry: store.OutboxEntry{Text: "Ask?", Labels: labels(1), Choices: choices(1), Step: 7},
			content: quickReplies[1], vars: map[string]string{"1": "Ask?", "2": "One", "3": "a:7"}},
		{name: "two buttons", entry: store.OutboxEntry{Text: "Ask?", Labels: labels(2), Choices: choices(2), Step: 7},
			content: quickReplies[2], vars: map[string]string{"1": "Ask?", "2": "One", "3": "Two", "4": "a:7", "5": "b:7"}},
		{name: "three buttons", entry: store.OutboxEntry{Text: `Say "hi"?`, Labels: labels(3), Choices: choices(3), Step: 12},
			content: quickReplies[3], vars: map[string]string{"1": `Say "hi"?`, "2": "One", "3": "Two", "4": "Three", "5": "a:12", "6": "b:12", "7": "c:12"}},
		{name: "four choices: numbered", entry: store.OutboxEntry{Text: "Ask?", Labels: labels(4), Choices: choices(4), Step: 7},
			body: "Ask?\n1 One\n2 Two\n3 Three\n4 Four"},
		{name: "no quick reply for the count: numbered", qr: map[int]string{3: "HXonly3"},
			entry: store.OutboxEntry{Text: "Ask?", Labels: labels(2), Choices: choices(2), Step: 7}, body: "Ask?\n1 One\n2 Two"},
		{name: "label too long for a button: numbered", entry: store.OutboxEntry{Text: "When?", Labels: []string{"Now", long}, Choices: choices(2), Step: 3},
			body: "When?\n1 Now\n2 " + long},
		{name: "template", entry: store.OutboxEntry{Text: "Time for x. Did you take it?", Labels: labels(3), Choices: choices(3),
			Template: "HXtemplate", Vars: []string{"your medicine", "Mar 4"}},
			content: "HXtemplate", vars: map[string]string{"1": "your medicine", "2": "Mar 4"}},
		{name: "template without variables", entry: store.OutboxEntry{Text: "Tip", Template: "HXtemplate"}, content: "HXtemplate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := *e.wa
			if tc.qr != nil {
				s.QuickReply = tc.qr
			}
			entry := tc.entry
			entry.ID, entry.PatientID, entry.Channel, entry.To = fmt.Sprintf("out-%d", i), "p-1", whatsapp.Channel, patientPhone
			sid, status, err := s.Send(t.Context(), entry)
			if err != nil || !strings.HasPrefix(sid, "SM") || status != "queued" {
				t.Fatalf("Send = %q %q %v", sid, status, err)
			}
			var m smstest.Message
			for _, have := range e.fake.Messages() {
				if have.SID == sid {
					m = have
				}
			}
			if m.To != patientWA || m.From != "whatsapp:"+waFrom || m.Outcome != "" {
				t.Fatalf("message %+v", m)
			}
			if want := e.srv.URL + whatsapp.StatusPath + "?o=" + entry.ID; m.StatusCallback != want { // no patient id
				t.Fatalf("StatusCallback %q, want %q", m.StatusCallback, want)
			}
			if m.Body != tc.body || m.ContentSid != tc.content {
				t.Fatalf("Body %q ContentSid %q, want %q %q", m.Body, m.ContentSid, tc.body, tc.content)
			}
			got := m.Variables()
			if len(got) != len(tc.vars) {
				t.Fatalf("ContentVariables %s, want %v", m.ContentVariables, tc.vars)
			}
			for k, v := range tc.vars {
				if got[k] != v {
					t.Fatalf("ContentVariables %s, want %v", m.ContentVariables, tc.vars)
				}
			}
		})
	}
	// A messaging service sends as itself.
	const service = "MG0123456789abcdef0123456789abcdef"
	s := *e.wa
	s.From = service
	sid, _, err := s.Send(t.Context(), store.OutboxEntry{ID: "svc", Channel: whatsapp.Channel, To: patientPhone, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range e.fake.Messages() {
		if m.SID == sid && (m.MessagingServiceSID != service || m.From != "" || m.To != patientWA) {
			t.Fatalf("message %+v", m)
		}
	}
}

func TestSenderClassifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	entry := store.OutboxEntry{ID: "0001", PatientID: "p-1", Channel: whatsapp.Channel, To: patientPhone, Text: "hi"}
	for _, tc := range []struct {
		fault smstest.Fault
		class error // nil: permanent
		code  int
	}{
		{smstest.OutsideWindow, channels.ErrFallback, 63016},
		{smstest.InvalidRecipient, nil, 63024},
		{smstest.RateLimited, channels.ErrRetry, 20429},
		{smstest.ServerError, channels.ErrRetry, 20500},
		{smstest.OptedOut, channels.ErrOptedOut, 21610},
		{smstest.InvalidTo, nil, 21211},
		{smstest.Drop, channels.ErrUnknownOutcome, 0},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			e.fake.FailNext(tc.fault, 1)
			_, _, err := e.wa.Send(t.Context(), entry)
			if err == nil {
				t.Fatal("no error")
			}
			for _, class := range []error{channels.ErrFallback, channels.ErrRetry, channels.ErrOptedOut, channels.ErrUnknownOutcome, channels.ErrUnreachable} {
				if errors.Is(err, class) != (class == tc.class) {
					t.Fatalf("err %v: errors.Is(%v) = %v", err, class, !(class == tc.class))
				}
			}
			var se *channels.SendError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err %#v, want a SendError with code %d", err, tc.code)
			}
		})
	}
	if n := len(e.fake.Messages()); n != 0 {
		t.Fatalf("%d messages accepted", n)
	}
}

// TestOutsideWindowFallsBack: 63016 sends the message on the patient's next
// channel, whether Twilio refuses the send outright or reports it in the
// status callback after accepting it.
func TestOutsideWindowFallsBack(t *testing.T) {
	t.Parallel()
	t.Run("refused at send", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		e.enroll("p-1", patientPhone, "en")
		e.drain()
		e.write(patientPhone, "hello")
		e.drain()
		before := len(e.fake.MessagesTo(patientPhone))
		e.start("p-1", "med-reminder", medication)
		e.fake.FailNext(smstest.OutsideWindow, 1)
		e.drain()
		got := e.fake.MessagesTo(patientPhone)[before:]
		if len(got) != 1 || !strings.HasPrefix(got[0].Body, "Time for your medicine") {
			t.Fatalf("SMS after 63016: %+v, want the reminder", got)
		}
		var refused []smstest.Attempt
		for _, a := range e.fake.Attempts() {
			if a.Fault == smstest.OutsideWindow {
				refused = append(refused, a)
			}
		}
		if len(refused) != 1 || refused[0].To != patientWA || refused[0].ContentSid != quickReplies[3] {
			t.Fatalf("refused attempts %+v, want the reminder's quick reply on WhatsApp", refused)
		}
		if ev, _ := channeltest.Event(e.Timeline("p-1"), got[0].CallbackParam("o")); ev.Channel != sms.Channel {
			t.Fatalf("the reminder's event %+v, want it on sms", ev)
		}
	})
	t.Run("reported in the callback", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		e.enroll("p-1", patientPhone, "en")
		e.drain()
		// Tend saw the patient write, Twilio's window did not open (the
		// message came some other way): Twilio takes the free text, then
		// fails it with 63016.
		if _, err := e.Runner.Receive(t.Context(), "p-1", runner.Message{Channel: whatsapp.Channel, Text: "hello", Dedupe: "x1"}); err != nil {
			t.Fatal(err)
		}
		e.drain()
		wa := e.fake.MessagesTo(patientWA)
		if len(wa) != 1 || wa[0].Outcome != "failed" || wa[0].ErrorCode != 63016 {
			t.Fatalf("WhatsApp messages %+v, want one the fake fails with 63016", wa)
		}
		m := wa[0]
		smsBefore := len(e.fake.MessagesTo(patientPhone))
		for range 2 { // Twilio repeats callbacks
			if code, err := e.fake.Report(m); err != nil || code != http.StatusNoContent {
				t.Fatalf("callback: %d %v", code, err)
			}
		}
		evs := e.Timeline("p-1")
		if ev, _ := channeltest.Event(evs, m.CallbackParam("o")); ev.Status != "failed" || ev.ErrorCode != 63016 {
			t.Fatalf("message event %+v, want failed 63016", ev)
		}
		batch, err := e.Store.ClaimOutbox(t.Context(), e.Clock.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) != 1 || batch[0].Channel != sms.Channel || batch[0].To != patientPhone || batch[0].Text != m.Body {
			t.Fatalf("outbox after 63016 %+v, want the message once on sms", batch)
		}
		if _, ok := channeltest.Event(e.Timeline("p-1"), batch[0].ID); !ok {
			t.Fatal("the fallback has no message.out event")
		}
		if n := len(e.fake.MessagesTo(patientPhone)); n != smsBefore {
			t.Fatalf("%d SMS sent before the dispatcher ran", n-smsBefore)
		}
	})
}

// TestStatusCallback: delivery reports, WhatsApp's "read" included, land
// on the message's event and never go backwards; a failure after delivery
// does not send the message again.
func TestStatusCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.enroll("p-1", patientPhone, "en")
	e.drain()
	e.write(patientPhone, "hello")
	e.drain()
	wa := e.fake.MessagesTo(patientWA)
	if len(wa) != 1 {
		t.Fatalf("WhatsApp messages %+v", wa)
	}
	m := wa[0]
	status := func() store.Event {
		ev, ok := channeltest.Event(e.Timeline("p-1"), m.CallbackParam("o"))
		if !ok {
			t.Fatalf("no event for o=%s", m.CallbackParam("o"))
		}
		return ev
	}
	if s := status().Status; s != "queued" {
		t.Fatalf("status after send %q", s)
	}
	for _, step := range []struct {
		send string
		code int
		want string
	}{
		{"sent", 0, "sent"},
		{"delivered", 0, "delivered"},
		{"read", 0, "read"},
		{"delivered", 0, "read"}, // late: must not overwrite
		{"failed", 63016, "read"},
	} {
		code, err := e.fake.Callback(m, step.send, step.code)
		if err != nil || code != http.StatusNoContent {
			t.Fatalf("callback %s: %d %v", step.send, code, err)
		}
		if s := status().Status; s != step.want {
			t.Fatalf("after callback %s: status %q, want %q", step.send, s, step.want)
		}
	}
	if n := e.Depth(); n != 0 {
		t.Fatalf("outbox depth %d: a read message fell back", n)
	}

	// A forged callback changes nothing; a malformed one is refused.
	forged, _ := smstest.SignedRequest(m.StatusCallback, m.StatusCallback, "0123456789abcdef0123456789abcdef",
		url.Values{"MessageSid": {m.SID}, "MessageStatus": {"failed"}, "ErrorCode": {"63016"}})
	noStatus, _ := smstest.SignedRequest(m.StatusCallback, m.StatusCallback, e.fake.AuthToken, url.Values{"MessageSid": {m.SID}})
	for req, want := range map[*http.Request]int{forged: http.StatusForbidden, noStatus: http.StatusBadRequest} {
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("status %d, want %d", res.StatusCode, want)
		}
	}
	if ev := status(); ev.Status != "read" || e.Depth() != 0 {
		t.Fatalf("after bad callbacks: %+v, depth %d", ev, e.Depth())
	}
}

// TestPayload: payloads round-trip, and a template's bare id has no step.
func TestPayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		payload string
		choice  string
		step    uint32
	}{
		{whatsapp.Payload("taken", 12), "taken", 12},
		{"not_yet", "not_yet", 0},
		{"a:b", "a:b", 0},
		{"x:99999999999", "x:99999999999", 0}, // over uint32: not a step
	} {
		if c, s := whatsapp.ParsePayload(tc.payload); c != tc.choice || s != tc.step {
			t.Errorf("ParsePayload(%q) = %q %d, want %q %d", tc.payload, c, s, tc.choice, tc.step)
		}
	}
	if got := whatsapp.Variables([]string{"a \"b\"", "ñ", "", "4", "5", "6", "7", "8", "9", "10"}); got != `{"1":"a \"b\"","2":"ñ","3":"","4":"4","5":"5","6":"6","7":"7","8":"8","9":"9","10":"10"}` {
		t.Errorf("Variables = %s", got)
	}
}
