package voice_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

const (
	voiceFrom    = "+15550000000"
	nurseLine    = "+15550009999"
	callback     = channeltest.HelpContact
	patientPhone = "+15551230001"
	strangePhone = "+15557770000"
)

// env is the voice channel on the real runner and embedded store of
// channeltest and a real dispatcher, its webhooks served by httptest, and a
// fake Twilio Calls API behind the real SDK.
type env struct {
	*channeltest.Core
	t      *testing.T
	disp   *channels.Dispatcher
	sender *voice.Sender
	hooks  *voice.Webhooks
	fake   *voicetest.Server
	srv    *httptest.Server // Tend's webhooks; its URL is the public URL
}

type option func(*env)

// withNurse configures the nurse line.
func withNurse(e *env) { e.hooks.NurseLine = nurseLine }

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	e := setUp(&env{Core: channeltest.New(t, channeltest.Options{}), t: t, fake: voicetest.New(t)})
	for _, o := range opts {
		o(e)
	}
	return e
}

// setUp serves e's webhooks and builds its sender and dispatcher on e.Core.
func setUp(e *env) *env {
	t := e.t
	e.hooks = &voice.Webhooks{Turns: e.Runner, Pack: e.Pack, AuthToken: e.fake.AuthToken, Callback: callback, Log: e.Log}
	// Tend serves recordings beside the webhooks, as cmd/tend mounts them.
	mux := http.NewServeMux()
	mux.Handle("/", e.hooks.Handler())
	mux.HandleFunc("GET "+content.AudioPath, e.hooks.ServeAudio)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.hooks.PublicURL = e.srv.URL
	e.sender = &voice.Sender{Client: twilio.NewClient(e.fake.AccountSID, e.fake.AuthToken, e.fake.URL),
		From: voiceFrom, PublicURL: e.srv.URL, Clock: e.Clock.Now}
	e.hooks.Slots = e.sender
	e.disp = &channels.Dispatcher{Outbox: e.Store, Consent: e.Runner, Clock: e.Clock.Now, Quiet: e.Quiet, Log: e.Log,
		Senders: map[string]channels.Sender{voice.Channel: e.sender}, Specs: channels.Specs{voice.Spec}}
	return e
}

// patient is an enrollment whose calls come first and SMS second. The
// medicine may be named (PHIOK), so that a leak into a voicemail shows.
func patient(id, phone, lang string) store.Patient {
	return store.Patient{ID: id, Phone: phone, Language: lang, Timezone: "America/Chicago",
		Channel: voice.Channel, Channels: []string{voice.Channel, conversations.SMS}, Programs: []string{"hypertension"}, PHIOK: true,
		Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}}
}

// enroll enrolls a patient and settles the welcome message without a call.
func (e *env) enroll(p store.Patient) {
	e.t.Helper()
	if _, err := e.Runner.Enroll(e.t.Context(), p); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
}

// drain finishes every due outbox entry without sending it.
func (e *env) drain() {
	e.t.Helper()
	batch, err := e.Store.ClaimOutbox(e.t.Context(), e.Clock.Now(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range batch {
		if err := e.Store.Finish(e.t.Context(), en, store.Delivery{Done: true, Status: "sent"}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) start(patientID, flow string, params ...string) {
	e.t.Helper()
	var ps []conversations.Param
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		ps = append(ps, conversations.Param{Key: k, Value: v})
	}
	if err := e.Runner.StartFlow(e.t.Context(), patientID, flow, ps); err != nil {
		e.t.Fatal(err)
	}
}

// remind starts a med-reminder and dispatches its call.
func (e *env) remind(patientID string) voicetest.Call {
	e.t.Helper()
	before := len(e.fake.Calls())
	e.start(patientID, "med-reminder", "medication=lisinopril")
	return e.dispatch(before)
}

// dispatch runs the dispatcher once and returns the call it placed, the
// one after the first before calls.
func (e *env) dispatch(before int) voicetest.Call {
	e.t.Helper()
	e.disp.Step(e.t.Context())
	calls := e.fake.Calls()
	if len(calls) != before+1 {
		e.t.Fatalf("%d calls placed, want 1", len(calls)-before)
	}
	return calls[before]
}

func (e *env) event(patientID, id string) store.Event {
	e.t.Helper()
	for _, ev := range e.Timeline(patientID) {
		if ev.ID == id {
			return ev
		}
	}
	e.t.Fatalf("no event %s", id)
	return store.Event{}
}

func (e *env) escalations() []store.Escalation {
	e.t.Helper()
	es, err := e.Store.Escalations(e.t.Context(), "open")
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// text renders a catalog message in a language.
func (e *env) text(lang, id string, data map[string]any) string {
	e.t.Helper()
	s, err := e.Pack.Catalog.Text(lang, id, data, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// heard fails the test unless the caller heard want, in order, among
// everything said.
func heard(t *testing.T, c *voicetest.Caller, want ...string) {
	t.Helper()
	said := c.Said()
	i := 0
	for _, s := range said {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("did not hear %q (in order); heard:\n  %s", want[i], strings.Join(said, "\n  "))
	}
}
