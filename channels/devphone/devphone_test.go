package devphone_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/devphone"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/store"
)

const patientPhone = "+15551230001"

// syncBuffer is a log sink several goroutines write.
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

// env is the dev phone as cmd/tend wires it, on the real runner, engine
// and embedded store of channeltest: the SMS adapter's Receive takes the
// page's answers, the dispatcher sends SMS to the phone.
type env struct {
	*channeltest.Core
	t     *testing.T
	phone *devphone.Phone
	disp  *channels.Dispatcher
	srv   *httptest.Server
	logs  *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	e := &env{Core: channeltest.New(t, channeltest.Options{Log: log}), t: t, logs: logs}
	hooks := &sms.Webhooks{Turns: e.Runner, Log: log}
	e.phone = &devphone.Phone{Inbound: hooks, Receipts: e.Runner, Clock: e.Clock.Now, Log: log, Enroll: "curl enroll"}
	e.disp = &channels.Dispatcher{Outbox: e.Store, Consent: e.Runner, Clock: e.Clock.Now, Quiet: e.Quiet, Log: log,
		Senders: map[string]channels.Sender{sms.Channel: e.phone}, Specs: channels.Specs{sms.Spec}}
	e.srv = httptest.NewServer(e.phone.Handler()) // on 127.0.0.1
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) enroll(id, number string) {
	e.t.Helper()
	_, err := e.Runner.Enroll(e.t.Context(), store.Patient{ID: id, Phone: number, Language: "en",
		Timezone: "America/Chicago", Channel: sms.Channel, Programs: []string{"hypertension"}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// send drains the outbox into the phone.
func (e *env) send() {
	for e.disp.Step(e.t.Context()) > 0 {
	}
}

// answer posts the page's form as its script does and returns the status.
func (e *env) answer(from, text string, header http.Header) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+devphone.Path+"/send",
		strings.NewReader(url.Values{"from": {from}, "text": {text}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Dev-Phone", "page")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func texts(ms []devphone.Message) []string {
	var out []string
	for _, m := range ms {
		dir := "tend: "
		if m.In {
			dir = "patient: "
		}
		out = append(out, dir+m.Text)
	}
	return out
}

// A patient's conversation on the dev phone: the welcome arrives and is
// delivered; the operator's answers go through the SMS adapter into the
// runner, keywords and the safety net included, and the replies arrive.
func TestConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	e.send()
	got := e.phone.Messages(sms.Channel, patientPhone)
	if len(got) != 1 || got[0].In || !strings.Contains(got[0].Text, "Welcome") || got[0].Status != "delivered" {
		t.Fatalf("after enrolling: %q", texts(got))
	}
	out := channeltest.Of(e.Timeline("p-1"), "message.out")
	if len(out) != 1 || out[0].Status != "delivered" || !strings.HasPrefix(out[0].ProviderID, "DEV") {
		t.Fatalf("the welcome's event: %+v", out)
	}

	for _, step := range []struct{ text, reply string }{
		{"NURSE", "care team will contact you"},
		{"I have chest pain", "emergency"},
		{"STOP", "unsubscribed"},
	} {
		if code := e.answer(patientPhone, step.text, nil); code != http.StatusNoContent {
			t.Fatalf("answer %q: %d", step.text, code)
		}
		e.send()
		got = e.phone.Messages(sms.Channel, patientPhone)
		last := got[len(got)-1]
		if last.In || !strings.Contains(last.Text, step.reply) {
			t.Fatalf("after %q the phone shows %q", step.text, texts(got))
		}
	}
	evs := e.Timeline("p-1")
	if n := channeltest.Count(evs, "message.in"); n != 3 {
		t.Errorf("%d message.in events, want 3", n)
	}
	if n := channeltest.Count(evs, "escalation"); n < 2 {
		t.Errorf("%d escalations (NURSE and chest pain), want 2", n)
	}

	// The page shows the conversation; the log says "would send" and
	// never the number or a text.
	res, body := e.get(devphone.Path)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, patientPhone) || !strings.Contains(body, "patient p-1") ||
		!strings.Contains(body, "unsubscribed") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("page: %d %s", res.StatusCode, body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"dev phone: would send"`) {
		t.Errorf("no would-send line in the log:\n%s", logs)
	}
	for _, secret := range []string{patientPhone, "5551230001", "Welcome", "chest", "unsubscribed"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log carries %q:\n%s", secret, logs)
		}
	}
}

// A number no patient has gets the unknown-number reply, as a real text
// would, and a browser without the script is sent back to the page.
func TestUnknownNumberWithoutScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const stranger = "+15559990000"
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+devphone.Path+"/send",
		strings.NewReader(url.Values{"from": {"(555) 999-0000"}, "text": {"hello?"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != devphone.Path {
		t.Fatalf("form post without the script: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	e.send()
	got := e.phone.Messages(sms.Channel, stranger)
	if len(got) != 2 || !got[0].In || !strings.Contains(got[1].Text, "not enrolled") {
		t.Fatalf("the stranger's conversation: %q", texts(got))
	}
	if _, body := e.get(devphone.Path); !strings.Contains(body, "no patient has this number") {
		t.Fatalf("page: %s", body)
	}
}

// The page's refresh answers 204 while nothing changed, and the new list
// with its version once something did.
func TestRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, body := e.get(devphone.Path + "/conversations")
	v := res.Header.Get("X-Dev-Phone-Version")
	if res.StatusCode != http.StatusOK || v == "" || !strings.Contains(body, "curl enroll") {
		t.Fatalf("first list: %d %q %s", res.StatusCode, v, body)
	}
	if res, _ := e.get(devphone.Path + "/conversations?after=" + v); res.StatusCode != http.StatusNoContent {
		t.Fatalf("unchanged: %d", res.StatusCode)
	}
	e.enroll("p-1", patientPhone)
	e.send()
	res, body = e.get(devphone.Path + "/conversations?after=" + v)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Dev-Phone-Version") == v || !strings.Contains(body, "Welcome") {
		t.Fatalf("changed: %d %s", res.StatusCode, body)
	}
}

// What the page refuses: another machine, another site's form, a number
// that is not one, an empty text. None of them reaches the runner.
func TestRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll("p-1", patientPhone)
	for _, tc := range []struct {
		name   string
		from   string
		text   string
		header http.Header
		want   int
	}{
		{"another site", patientPhone, "STOP", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"not a number", "call me", "STOP", nil, http.StatusBadRequest},
		{"empty text", patientPhone, "  ", nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.answer(tc.from, tc.text, tc.header); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	for _, path := range []string{devphone.Path, devphone.Path + "/conversations", devphone.Path + "/static/devphone.js"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		e.phone.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s from another machine: %d", path, rec.Code)
		}
	}
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 0 {
		t.Errorf("%d messages reached the runner", n)
	}
}
