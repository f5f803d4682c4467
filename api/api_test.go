package api_test

// The API against the real runner, engine, bundled content and embedded
// store, over HTTP. Nothing of Tend is mocked.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

const token = "t0k"

// checkinFlow is a flow only the tests have: one that declares an enum
// parameter, which no bundled flow does.
const checkinFlow = `id: checkin
priority: education
params:
  slot: {type: enum, values: [morning, evening]}
start: hello
states:
  hello:
    say: welcome.body
`

// withFlow serves the bundled pack with one more flow file.
type withFlow struct {
	fs.FS
	name string
	data []byte
}

func (w withFlow) Open(name string) (fs.File, error) {
	if name == w.name {
		return fstest.MapFS{name: {Data: w.data}}.Open(name)
	}
	return w.FS.Open(name)
}

func (w withFlow) Glob(pattern string) ([]string, error) {
	names, err := fs.Glob(w.FS, pattern)
	if ok, _ := path.Match(pattern, w.name); ok {
		names = append(names, w.name)
	}
	return names, err
}

// The bundled pack (with checkinFlow) and its engine are read-only: every
// test shares them.
var loadEngine = sync.OnceValues(func() (*conversations.Engine, error) {
	pack, _, err := content.Load(withFlow{content.Default(), "flows/checkin.yaml", []byte(checkinFlow)})
	if err != nil {
		return nil, err
	}
	return conversations.NewEngine(pack)
})

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one API server on its own store.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	st     *embedded.Store
	runner *runner.Runner
	engine *conversations.Engine
	clock  *clock
	// api is the server's API, for settings a test changes before its
	// first request (MaxBulk).
	api *api.API
}

// t0 is Monday 2 March 2026, 09:00 in Chicago.
var t0 = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the API changed by set before it serves.
func newEnvWith(t *testing.T, set func(*api.API)) *env {
	t.Helper()
	engine, err := loadEngine()
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: t0}
	runner := &runner.Runner{Store: st, Engine: engine, Clock: c.Now, Quiet: conversations.QuietHours{Off: true}, Channels: channeltest.Channels,
		Render: &conversations.Renderer{Pack: engine.Pack, HelpContact: "+1 555 010 0100"}}
	a := &api.API{Runner: runner, Tickets: runner, Audit: runner, Outbox: runner, Jobs: runner, Patients: runner, Adherence: runner, Engine: engine, Token: token, Channels: []string{"sms", "whatsapp", "voice"}, Clock: c.Now}
	if set != nil {
		set(a)
	}
	srv := httptest.NewServer(a.Routes())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, runner: runner, engine: engine, clock: c, api: a}
}

// call sends a request with the right token and returns the status and body.
func (e *env) call(method, path, body string) (int, []byte) {
	e.t.Helper()
	return e.callAuth(method, path, body, "Bearer "+token)
}

func (e *env) callAuth(method, path, body, auth string) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, b
}

// errorOf decodes a {"error": ...} body, failing the test on anything else.
func errorOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Error == nil || *v.Error == "" {
		t.Fatalf("want a JSON {\"error\": ...} body, got %q (%v)", body, err)
	}
	return *v.Error
}

// wantError checks status and that the error message contains each of want.
func wantError(t *testing.T, status int, body []byte, wantStatus int, want ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", status, wantStatus, body)
	}
	msg := errorOf(t, body)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}

// patient is a valid enrollment as JSON-ready data; mutate it per test.
func patient(id, phone string) map[string]any {
	return map[string]any{
		"id": id, "phone": phone, "language": "en", "timezone": "America/Chicago", "channel": "sms",
		"programs": []any{"hypertension"}, "phi_ok": false,
		"medications":  []any{map[string]any{"id": "lisinopril", "display": "lisinopril 10 mg", "times": []any{"08:00"}}},
		"refills":      []any{map[string]any{"medication": "lisinopril", "date": "2026-12-20"}},
		"appointments": []any{map[string]any{"id": "a1", "at": "2026-12-03T10:30"}},
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// enroll posts p and fails unless it was created.
func (e *env) enroll(p map[string]any) {
	e.t.Helper()
	if status, body := e.call("POST", "/patients", jsonOf(e.t, p)); status != http.StatusCreated {
		e.t.Fatalf("enroll %v: status %d, body %s", p["id"], status, body)
	}
}

func (e *env) timeline(id string) []store.Event {
	e.t.Helper()
	events, err := e.st.Timeline(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return events
}

func (e *env) session(id string) conversations.Session {
	e.t.Helper()
	_, ss, err := e.st.Load(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var s conversations.Session
	if err := e.engine.DecodeSession(ss.Data, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func outTexts(events []store.Event) []string {
	var out []string
	for _, ev := range events {
		if ev.Type == "message.out" {
			out = append(out, ev.Text)
		}
	}
	return out
}

func paramOf(ps []conversations.Param, k string) string {
	for _, p := range ps {
		if p.Key == k {
			return p.Value
		}
	}
	return ""
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	routes := []struct{ method, path, body string }{
		{"GET", "/patients/p1", ""},
		{"POST", "/patients", jsonOf(t, patient("p2", "+15551230002"))},
		{"DELETE", "/patients/p1", ""},
		{"GET", "/patients/p1/timeline", ""},
		{"POST", "/flow-starts", `{"flow":"med-reminder","patients":["p1"]}`},
		{"GET", "/escalations", ""},
	}
	auths := []struct{ name, header string }{
		{"none", ""},
		{"wrong token", "Bearer nope"},
		{"token without scheme", token},
		{"basic scheme", "Basic " + token},
		{"token prefix", "Bearer t0"},
		{"token suffix", "Bearer t0kk"},
	}
	for _, rt := range routes {
		for _, au := range auths {
			t.Run(rt.method+" "+rt.path+"/"+au.name, func(t *testing.T) {
				t.Parallel()
				status, body := e.callAuth(rt.method, rt.path, rt.body, au.header)
				wantError(t, status, body, http.StatusUnauthorized)
			})
		}
	}
	t.Cleanup(func() {
		// Nothing a refused request asked for happened.
		if _, _, err := e.st.Load(context.Background(), "p1"); err != nil {
			t.Errorf("p1 after refused requests: %v", err)
		}
		if _, _, err := e.st.Load(context.Background(), "p2"); err == nil {
			t.Errorf("p2 was enrolled by an unauthenticated request")
		}
		if s := e.session("p1"); s.Flow != "" {
			t.Errorf("an unauthenticated flow start ran: session flow %q", s.Flow)
		}
	})
}

func TestAuthHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/escalations", nil)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

func TestPutPatientCreateThenReplace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := patient("p-1001", "(555) 123-0001")
	status, body := e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusCreated {
		t.Fatalf("first POST: status %d, want 201; body %s", status, body)
	}
	var got store.Patient
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "p-1001" || got.Phone != "+15551230001" {
		t.Errorf("created patient id %q phone %q, want p-1001 +15551230001", got.ID, got.Phone)
	}
	if !got.EnrolledAt.Equal(t0) {
		t.Errorf("enrolled_at %v, want the clock's %v", got.EnrolledAt, t0)
	}

	e.clock.Advance(time.Hour)
	p["language"] = "es"
	p["phone"] = "+1 555-123-0001"
	status, body = e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusOK {
		t.Fatalf("second POST: status %d, want 200; body %s", status, body)
	}
	got = store.Patient{}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Language != "es" || got.Phone != "+15551230001" {
		t.Errorf("replaced patient language %q phone %q, want es +15551230001", got.Language, got.Phone)
	}
	if !got.EnrolledAt.Equal(t0) {
		t.Errorf("a replace moved enrolled_at to %v, want %v", got.EnrolledAt, t0)
	}

	status, body = e.call("GET", "/patients/p-1001", "")
	if status != http.StatusOK {
		t.Fatalf("GET: status %d; body %s", status, body)
	}
	got = store.Patient{}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Phone != "+15551230001" || got.Language != "es" || len(got.Medications) != 1 || len(got.Appointments) != 1 {
		t.Errorf("GET after replace: %+v", got)
	}
	// A replace does not welcome the patient a second time.
	if n := len(outTexts(e.timeline("p-1001"))); n != 1 {
		t.Errorf("%d message.out events after create+replace, want 1 (the welcome)", n)
	}
}

func TestPutPatientInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		raw    string // used as the body when set
		mutate func(p map[string]any)
		want   []string // substrings of the error; the first names the field
	}{
		{name: "malformed JSON", raw: `{"id": "p1", "phone":`, want: []string{"malformed JSON"}},
		{name: "not an object", raw: `["p1"]`, want: []string{"malformed JSON"}},
		{name: "missing id", mutate: func(p map[string]any) { delete(p, "id") }, want: []string{"id:"}},
		{name: "bad id chars", mutate: func(p map[string]any) { p["id"] = "p 1/../x" }, want: []string{"id:"}},
		{name: "id too long", mutate: func(p map[string]any) { p["id"] = strings.Repeat("a", 65) }, want: []string{"id:"}},
		{name: "missing phone", mutate: func(p map[string]any) { delete(p, "phone") }, want: []string{"phone:"}},
		{name: "bad phone", mutate: func(p map[string]any) { p["phone"] = "call me maybe" }, want: []string{"phone:"}},
		{name: "short phone", mutate: func(p map[string]any) { p["phone"] = "12" }, want: []string{"phone:"}},
		{name: "unknown language", mutate: func(p map[string]any) { p["language"] = "de" }, want: []string{"language:", `"de"`}},
		{name: "missing timezone", mutate: func(p map[string]any) { delete(p, "timezone") }, want: []string{"timezone:"}},
		{name: "bad timezone", mutate: func(p map[string]any) { p["timezone"] = "Mars/Base" }, want: []string{"timezone:", "Mars/Base"}},
		{name: "Local timezone", mutate: func(p map[string]any) { p["timezone"] = "Local" }, want: []string{"timezone:"}},
		{name: "unsupported channel", mutate: func(p map[string]any) { p["channel"] = "fax" }, want: []string{"channel:", `"fax"`}},
		{name: "unsupported channel in chain", mutate: func(p map[string]any) { p["channels"] = []any{"sms", "fax"} }, want: []string{"channels[1]:", `"fax"`}},
		{name: "channel twice in chain", mutate: func(p map[string]any) { p["channels"] = []any{"sms", "voice", "sms"} }, want: []string{"channels[2]:", "twice"}},
		{name: "channel not first of chain", mutate: func(p map[string]any) { p["channels"] = []any{"voice", "sms"} }, want: []string{"channel:", "first"}},
		{name: "no programs", mutate: func(p map[string]any) { p["programs"] = []any{} }, want: []string{"programs:"}},
		{name: "programs missing", mutate: func(p map[string]any) { delete(p, "programs") }, want: []string{"programs:"}},
		{name: "unknown program", mutate: func(p map[string]any) { p["programs"] = []any{"hypertension", "oncology"} }, want: []string{"programs:", `"oncology"`}},
		{name: "duplicate medication id", mutate: func(p map[string]any) {
			p["medications"] = []any{
				map[string]any{"id": "m1", "times": []any{"08:00"}},
				map[string]any{"id": "m1", "times": []any{"20:00"}},
			}
			delete(p, "refills")
		}, want: []string{"medications[1].id:", `"m1"`}},
		{name: "medication without id", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"times": []any{"08:00"}}}
			delete(p, "refills")
		}, want: []string{"medications[0].id:"}},
		{name: "bad time", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "times": []any{"20:00", "8am"}}}
		}, want: []string{"medications[0].times[1]:"}},
		{name: "refill for unknown medication", mutate: func(p map[string]any) {
			p["refills"] = []any{map[string]any{"medication": "metformin", "date": "2026-12-20"}}
		}, want: []string{"refills[0].medication:", `"metformin"`}},
		{name: "bad refill date", mutate: func(p map[string]any) {
			p["refills"] = []any{map[string]any{"medication": "lisinopril", "date": "12/20/2026"}}
		}, want: []string{"refills[0].date:", "12/20/2026"}},
		{name: "impossible refill date", mutate: func(p map[string]any) {
			p["refills"] = []any{map[string]any{"medication": "lisinopril", "date": "2026-02-30"}}
		}, want: []string{"refills[0].date:"}},
		{name: "bad appointment at", mutate: func(p map[string]any) {
			p["appointments"] = []any{map[string]any{"id": "a1", "at": "2026-12-03 10:30"}}
		}, want: []string{"appointments[0].at:", "2026-12-03 10:30"}},
		{name: "appointment without id", mutate: func(p map[string]any) {
			p["appointments"] = []any{map[string]any{"at": "2026-12-03T10:30"}}
		}, want: []string{"appointments[0].id:"}},
		{name: "unknown field", raw: `{"id":"p1","phone":"+15551230001","timezone":"America/Chicago","programs":["hypertension"],"phi":true}`, want: []string{"malformed JSON", `unknown field "phi"`}},
		{name: "unknown field in a medication", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "dose": "10 mg", "times": []any{"08:00"}}}
		}, want: []string{"malformed JSON", `unknown field "dose"`}},
		{name: "data after the object", raw: `{"id":"p1","phone":"+15551230001","timezone":"America/Chicago","programs":["hypertension"]} {"id":"p2"}`, want: []string{"malformed JSON", "data after the object"}},
		{name: "stray brace after the object", raw: `{"id":"p1","phone":"+15551230001","timezone":"America/Chicago","programs":["hypertension"]}}`, want: []string{"malformed JSON", "data after the object"}},
		{name: "program twice", mutate: func(p map[string]any) { p["programs"] = []any{"hypertension", "heart-failure", "hypertension"} }, want: []string{"programs[2]:", `"hypertension"`, "twice"}},
		{name: "time twice", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "times": []any{"08:00", "20:00", "08:00"}}}
		}, want: []string{"medications[0].times[2]:", `"08:00"`, "twice"}},
		{name: "appointment id twice", mutate: func(p map[string]any) {
			p["appointments"] = []any{map[string]any{"id": "a1", "at": "2026-12-03T10:30"}, map[string]any{"id": "a1", "at": "2026-12-10T10:30"}}
		}, want: []string{"appointments[1].id:", `"a1"`, "twice"}},
		{name: "appointment in the past", mutate: func(p map[string]any) {
			// t0 is 09:00 in Chicago: 08:59 that morning is gone.
			p["appointments"] = []any{map[string]any{"id": "a1", "at": "2026-03-02T08:59"}}
		}, want: []string{"appointments[0].at:", "in the past"}},
		{name: "display too long", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "display": strings.Repeat("a", 41), "times": []any{"08:00"}}}
		}, want: []string{"medications[0].display:", "at most 40"}},
		{name: "display with a link", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "display": "refill at https://x.example", "times": []any{"08:00"}}}
		}, want: []string{"medications[0].display:"}},
		{name: "display with a phone number", mutate: func(p map[string]any) {
			p["medications"] = []any{map[string]any{"id": "lisinopril", "display": "call 555 010 0100", "times": []any{"08:00"}}}
		}, want: []string{"medications[0].display:", "phone number"}},
	}
	e := newEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.raw
			if body == "" {
				p := patient("p1", "+15551230001")
				tc.mutate(p)
				body = jsonOf(t, p)
			}
			status, res := e.call("POST", "/patients", body)
			wantError(t, status, res, http.StatusBadRequest, tc.want...)
			if msg := errorOf(t, res); !strings.HasPrefix(msg, tc.want[0]) {
				t.Errorf("error %q does not start with the field %q", msg, tc.want[0])
			}
		})
	}
	t.Cleanup(func() {
		// No invalid enrollment was stored, scheduled or welcomed.
		if _, _, err := e.st.Load(context.Background(), "p1"); err == nil {
			t.Errorf("an invalid enrollment was stored")
		}
		if n, _ := e.st.OutboxDepth(context.Background()); n != 0 {
			t.Errorf("outbox depth %d after invalid enrollments, want 0", n)
		}
	})
}

// TestEnrollmentLimits enrolls up to the caps on medications and times
// per medication, and one past each: the defaults (20, 6) and settings.
func TestEnrollmentLimits(t *testing.T) {
	t.Parallel()
	meds := func(n, times int) []any {
		var out []any
		for i := range n {
			var ts []any
			for j := range times {
				ts = append(ts, fmt.Sprintf("%02d:%02d", 8+j, i%60))
			}
			out = append(out, map[string]any{"id": fmt.Sprintf("m%d", i), "times": ts})
		}
		return out
	}
	cases := []struct {
		name            string
		maxMeds, maxTms int // API settings; 0: the defaults
		meds, times     int
		want            []string // nil: accepted
	}{
		{name: "default medications", meds: 20, times: 1},
		{name: "default medications plus one", meds: 21, times: 1, want: []string{"medications:", "21 medications, at most 20", "TEND_MAX_MEDICATIONS"}},
		{name: "default times", meds: 1, times: 6},
		{name: "default times plus one", meds: 1, times: 7, want: []string{"medications[0].times:", "7 times, at most 6", "TEND_MAX_TIMES"}},
		{name: "set medications", maxMeds: 2, meds: 2, times: 1},
		{name: "set medications plus one", maxMeds: 2, meds: 3, times: 1, want: []string{"medications:", "at most 2"}},
		{name: "set times", maxTms: 8, meds: 1, times: 8},
		{name: "set times plus one", maxTms: 2, meds: 2, times: 3, want: []string{"medications[0].times:", "at most 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, func(a *api.API) { a.MaxMedications, a.MaxTimes = tc.maxMeds, tc.maxTms })
			p := patient("p1", "+15551230001")
			p["medications"] = meds(tc.meds, tc.times)
			delete(p, "refills")
			status, body := e.call("POST", "/patients", jsonOf(t, p))
			if tc.want == nil {
				if status != http.StatusCreated {
					t.Fatalf("status %d, want 201; body %s", status, body)
				}
				return
			}
			wantError(t, status, body, http.StatusBadRequest, tc.want...)
			if msg := errorOf(t, body); !strings.HasPrefix(msg, tc.want[0]) {
				t.Errorf("error %q does not start with the field %q", msg, tc.want[0])
			}
		})
	}
}

func TestPutPatientDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := patient("p1", "+15551230001")
	delete(p, "language")
	delete(p, "channel")
	status, body := e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusCreated {
		t.Fatalf("status %d; body %s", status, body)
	}
	var got store.Patient
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Language != e.engine.Pack.Languages[0] || got.Channel != "sms" {
		t.Errorf("defaults: language %q channel %q, want %q sms", got.Language, got.Channel, e.engine.Pack.Languages[0])
	}
}

func TestPhoneTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	// The same number written another way still belongs to p1.
	status, body := e.call("POST", "/patients", jsonOf(t, patient("p2", "(555) 123-0001")))
	wantError(t, status, body, http.StatusConflict, "phone")
	if _, _, err := e.st.Load(context.Background(), "p2"); err == nil {
		t.Errorf("p2 was stored despite the conflict")
	}
	// p1 keeps its number, and may re-enroll with it.
	if status, body := e.call("POST", "/patients", jsonOf(t, patient("p1", "+15551230001"))); status != http.StatusOK {
		t.Errorf("re-enrolling p1 with its own phone: status %d; body %s", status, body)
	}
	// Once p1 moves to another number, p2 may have the old one.
	e.call("POST", "/patients", jsonOf(t, patient("p1", "+15551230009")))
	if status, body := e.call("POST", "/patients", jsonOf(t, patient("p2", "+15551230001"))); status != http.StatusCreated {
		t.Errorf("p2 after p1 moved: status %d; body %s", status, body)
	}
}

func TestGetPatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	cases := []struct {
		id     string
		status int
	}{
		{"p1", http.StatusOK},
		{"nobody", http.StatusNotFound},
		{"p", http.StatusNotFound}, // a prefix of an enrolled id
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			status, body := e.call("GET", "/patients/"+tc.id, "")
			if tc.status != http.StatusOK {
				wantError(t, status, body, tc.status, `"`+tc.id+`"`)
				return
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			var got store.Patient
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.id || got.Timezone != "America/Chicago" || len(got.Programs) != 1 || got.Programs[0] != "hypertension" {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestDeletePatient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	e.enroll(patient("p2", "+15551230002"))
	timers, err := e.st.Timers(ctx, "p1")
	if err != nil || len(timers) == 0 {
		t.Fatalf("p1 has no timers after enrollment (%v)", err)
	}
	if n, _ := e.st.OutboxDepth(ctx); n != 2 {
		t.Fatalf("outbox depth %d after two enrollments, want 2 (the welcomes)", n)
	}

	status, body := e.call("DELETE", "/patients/p1", "")
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE: status %d body %q, want 204 and no body", status, body)
	}
	if timers, err := e.st.Timers(ctx, "p1"); err != nil || len(timers) != 0 {
		t.Errorf("p1's timers after DELETE: %v (%v), want none", timers, err)
	}
	if n, _ := e.st.OutboxDepth(ctx); n != 1 {
		t.Errorf("outbox depth %d after DELETE, want 1 (p2's welcome)", n)
	}
	status, body = e.call("GET", "/patients/p1", "")
	wantError(t, status, body, http.StatusNotFound, `"p1"`)
	status, body = e.call("DELETE", "/patients/p1", "")
	wantError(t, status, body, http.StatusNotFound, `"p1"`)

	// The timeline stays for the audit.
	status, body = e.call("GET", "/patients/p1/timeline", "")
	if status != http.StatusOK || !strings.Contains(string(body), "message.out") {
		t.Errorf("timeline after DELETE: status %d body %s, want 200 with the welcome", status, body)
	}
	if strings.Count(string(body), `"unenrolled"`) != 1 {
		t.Errorf("timeline after DELETE: %s, want one enrollment event that says unenrolled", body)
	}
	// Others are untouched, and p1's number is free again.
	if timers, _ := e.st.Timers(ctx, "p2"); len(timers) == 0 {
		t.Errorf("p2 lost its timers")
	}
	if status, body := e.call("POST", "/patients", jsonOf(t, patient("p3", "+15551230001"))); status != http.StatusCreated {
		t.Errorf("p3 with p1's old number: status %d; body %s", status, body)
	}

	status, body = e.call("DELETE", "/patients/p2", "")
	if status != http.StatusNoContent {
		t.Fatalf("DELETE p2: status %d; body %s", status, body)
	}
	status, body = e.call("DELETE", "/patients/p3", "")
	if status != http.StatusNoContent {
		t.Fatalf("DELETE p3: status %d; body %s", status, body)
	}
	if n, _ := e.st.OutboxDepth(ctx); n != 0 {
		t.Errorf("outbox depth %d after every patient was deleted, want 0", n)
	}
}

func TestFlowStarts(t *testing.T) {
	t.Parallel()
	two := func() map[string]any {
		p := patient("two", "+15551230002")
		p["medications"] = []any{
			map[string]any{"id": "m-a", "times": []any{"08:00"}},
			map[string]any{"id": "m-b", "times": []any{"20:00"}},
		}
		p["refills"] = []any{}
		return p
	}
	cases := []struct {
		name   string
		body   string
		status int
		want   []string // error substrings
		// check runs after a 202.
		check func(t *testing.T, e *env)
	}{
		{
			name:   "medication implied",
			body:   `{"flow":"med-reminder","patients":["one"]}`,
			status: http.StatusAccepted,
			check: func(t *testing.T, e *env) {
				s := e.session("one")
				if s.Flow != "med-reminder" || paramOf(s.Params, "medication") != "lisinopril" {
					t.Errorf("session flow %q params %v, want med-reminder with medication=lisinopril", s.Flow, s.Params)
				}
				texts := outTexts(e.timeline("one"))
				if len(texts) != 2 {
					t.Fatalf("message.out texts %q, want the welcome and the reminder", texts)
				}
				if strings.Contains(texts[1], "lisinopril") {
					t.Errorf("reminder %q names the medicine without phi_ok", texts[1])
				}
			},
		},
		{
			name:   "medication given",
			body:   `{"flow":"med-reminder","patients":["two"],"params":{"medication":"m-b"}}`,
			status: http.StatusAccepted,
			check: func(t *testing.T, e *env) {
				if s := e.session("two"); s.Flow != "med-reminder" || paramOf(s.Params, "medication") != "m-b" {
					t.Errorf("session flow %q params %v, want med-reminder with medication=m-b", s.Flow, s.Params)
				}
			},
		},
		{
			name:   "several patients",
			body:   `{"flow":"med-reminder","patients":["one","two"],"params":{"medication":"lisinopril"}}`,
			status: http.StatusBadRequest, // two has no lisinopril
			want:   []string{"params.medication:", `"two"`, `"lisinopril"`},
		},
		{
			name:   "medication ambiguous",
			body:   `{"flow":"med-reminder","patients":["two"]}`,
			status: http.StatusBadRequest,
			want:   []string{"params.medication:", `"two"`, "required"},
		},
		{
			name:   "medication not enrolled",
			body:   `{"flow":"med-reminder","patients":["one"],"params":{"medication":"warfarin"}}`,
			status: http.StatusBadRequest,
			want:   []string{"params.medication:", `"warfarin"`, "not enrolled"},
		},
		{
			name:   "unknown flow",
			body:   `{"flow":"nap-time","patients":["one"]}`,
			status: http.StatusBadRequest,
			want:   []string{"flow:", `"nap-time"`},
		},
		{
			name:   "no patients",
			body:   `{"flow":"med-reminder","patients":[]}`,
			status: http.StatusBadRequest,
			want:   []string{"patients:"},
		},
		{
			name:   "malformed JSON",
			body:   `{"flow":`,
			status: http.StatusBadRequest,
			want:   []string{"malformed JSON"},
		},
		{
			name:   "unknown patient",
			body:   `{"flow":"med-reminder","patients":["ghost"]}`,
			status: http.StatusNotFound,
			want:   []string{`"ghost"`},
		},
		{
			name:   "one good one unknown starts nothing",
			body:   `{"flow":"med-reminder","patients":["one","ghost"]}`,
			status: http.StatusNotFound,
			want:   []string{`"ghost"`},
		},
		{
			name:   "appointment fills date and time",
			body:   `{"flow":"appointment-reminder","patients":["one"],"params":{"appointment":"a1"}}`,
			status: http.StatusAccepted,
			check: func(t *testing.T, e *env) {
				s := e.session("one")
				if s.Flow != "appointment-reminder" || paramOf(s.Params, "date") != "2026-12-03" || paramOf(s.Params, "time") != "10:30" {
					t.Errorf("session flow %q params %v, want appointment-reminder with date and time", s.Flow, s.Params)
				}
				texts := outTexts(e.timeline("one"))
				last := texts[len(texts)-1]
				if !strings.Contains(last, "2026-12-03") || !strings.Contains(last, "10:30") {
					t.Errorf("appointment reminder %q lacks the date and time", last)
				}
			},
		},
		{
			name:   "appointment unknown",
			body:   `{"flow":"appointment-reminder","patients":["one"],"params":{"appointment":"a9"}}`,
			status: http.StatusBadRequest,
			want:   []string{"params.appointment:", `"a9"`},
		},
		{
			name:   "appointment missing",
			body:   `{"flow":"appointment-reminder","patients":["one"]}`,
			status: http.StatusBadRequest,
			want:   []string{"params.appointment:", "required"},
		},
		{
			// A parameter the flow does not declare never reaches a
			// message: {{.Date}} once printed whatever came.
			name:   "undeclared param",
			body:   `{"flow":"med-reminder","patients":["one"],"params":{"date":"call 555 0100 http://x.example"}}`,
			status: http.StatusBadRequest,
			want:   []string{"params.date:", "not a parameter", "medication"},
		},
		{
			name:   "bad date",
			body:   `{"flow":"refill-reminder","patients":["one"],"params":{"medication":"lisinopril","date":"2026-02-30"}}`,
			status: http.StatusBadRequest,
			want:   []string{"params.date:", `"2026-02-30"`, "YYYY-MM-DD"},
		},
		{
			name:   "refill date given",
			body:   `{"flow":"refill-reminder","patients":["one"],"params":{"date":"2026-12-20"}}`,
			status: http.StatusAccepted,
			check: func(t *testing.T, e *env) {
				texts := outTexts(e.timeline("one"))
				if last := texts[len(texts)-1]; !strings.Contains(last, "2026-12-20") {
					t.Errorf("refill reminder %q lacks the date", last)
				}
			},
		},
		{
			name:   "refill date missing",
			body:   `{"flow":"refill-reminder","patients":["one"]}`,
			status: http.StatusBadRequest,
			want:   []string{"params.date:", "required"},
		},
		{
			name:   "enum not in list",
			body:   `{"flow":"checkin","patients":["one"],"params":{"slot":"night"}}`,
			status: http.StatusBadRequest,
			want:   []string{"params.slot:", `"night"`, "morning, evening"},
		},
		{
			name:   "enum in list",
			body:   `{"flow":"checkin","patients":["one"],"params":{"slot":"evening"}}`,
			status: http.StatusAccepted,
			check: func(t *testing.T, e *env) {
				if texts := outTexts(e.timeline("one")); len(texts) != 2 {
					t.Errorf("message.out texts %q, want the welcome and the checkin", texts)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.enroll(patient("one", "+15551230001"))
			e.enroll(two())
			e.clock.Advance(time.Minute)
			status, body := e.call("POST", "/flow-starts", tc.body)
			if tc.status != http.StatusAccepted {
				wantError(t, status, body, tc.status, tc.want...)
				// A refused request starts nothing for anyone.
				for _, id := range []string{"one", "two"} {
					if texts := outTexts(e.timeline(id)); len(texts) != 1 {
						t.Errorf("%s: message.out %q after a refused start, want only the welcome", id, texts)
					}
					if s := e.session(id); s.Flow != "" || len(s.Queue) != 0 {
						t.Errorf("%s: session flow %q queue %v after a refused start", id, s.Flow, s.Queue)
					}
				}
				return
			}
			if status != http.StatusAccepted {
				t.Fatalf("status %d, want 202; body %s", status, body)
			}
			tc.check(t, e)
		})
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	e.clock.Advance(time.Minute)
	if status, body := e.call("POST", "/flow-starts", `{"flow":"med-reminder","patients":["p1"]}`); status != http.StatusAccepted {
		t.Fatalf("flow start: %d %s", status, body)
	}
	e.clock.Advance(time.Minute)
	if err := e.runner.Inbound(ctx, "p1", "sms", "1", "SM1"); err != nil {
		t.Fatal(err)
	}

	status, body := e.call("GET", "/patients/p1/timeline", "")
	if status != http.StatusOK {
		t.Fatalf("status %d; body %s", status, body)
	}
	var res struct {
		Events []store.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, ev := range res.Events {
		types = append(types, ev.Type)
		if i > 0 && ev.At.Before(res.Events[i-1].At) {
			t.Errorf("event %d (%s at %v) is older than the one before it (%v)", i, ev.Type, ev.At, res.Events[i-1].At)
		}
	}
	want := []string{"message.out", "message.out", "message.in", "adherence", "message.out"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("event types %v, want %v", types, want)
	}
	welcome, _ := e.engine.Pack.Catalog.Text("en", "welcome.body", map[string]any{"Program": "Tend care reminders", "PerDay": 4}, nil)
	if ev := res.Events[0]; ev.Text != welcome || ev.Channel != "sms" || ev.Status != "queued" || !ev.At.Equal(t0) {
		t.Errorf("first event %+v, want the queued welcome %q at %v", ev, welcome, t0)
	}
	if ev := res.Events[3]; ev.Status != "taken" || ev.Medication != "lisinopril" {
		t.Errorf("adherence event %+v, want taken lisinopril", ev)
	}
	if ev := res.Events[2]; ev.Text != "1" || !ev.At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("message.in event %+v, want text 1 at %v", ev, t0.Add(2*time.Minute))
	}

	for _, id := range []string{"ghost", "p"} {
		status, body = e.call("GET", "/patients/"+id+"/timeline", "")
		wantError(t, status, body, http.StatusNotFound, `"`+id+`"`)
	}

	// A patient without events yet answers an empty list, not null.
	if err := e.st.Commit(ctx, store.Commit{PatientID: "quiet", Patient: &store.Patient{ID: "quiet", Phone: "+15551230007",
		Language: "en", Timezone: "America/Chicago", Channel: "sms", Programs: []string{"hypertension"}}}); err != nil {
		t.Fatal(err)
	}
	status, body = e.call("GET", "/patients/quiet/timeline", "")
	if status != http.StatusOK || strings.TrimSpace(string(body)) != `{"events":[]}` {
		t.Errorf("empty timeline: status %d body %s, want 200 {\"events\":[]}", status, body)
	}
}

func TestEscalations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))

	list := func(query string) []store.Escalation {
		t.Helper()
		status, body := e.call("GET", "/escalations"+query, "")
		if status != http.StatusOK {
			t.Fatalf("GET /escalations%s: status %d; body %s", query, status, body)
		}
		var res struct {
			Escalations *[]store.Escalation `json:"escalations"`
		}
		if err := json.Unmarshal(body, &res); err != nil || res.Escalations == nil {
			t.Fatalf("GET /escalations%s: body %s (%v), want {\"escalations\": [...]}", query, body, err)
		}
		return *res.Escalations
	}
	if got := list("?status=open"); len(got) != 0 {
		t.Fatalf("open escalations before any: %+v", got)
	}

	e.clock.Advance(time.Minute)
	for range 2 { // a provider retry of SM1 opens nothing more
		if err := e.runner.Inbound(ctx, "p1", "sms", "NURSE", "SM1"); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		query string
		n     int
	}{
		{"?status=open", 1},
		{"", 1},
		{"?status=closed", 0},
	}
	for _, tc := range cases {
		got := list(tc.query)
		if len(got) != tc.n {
			t.Errorf("GET /escalations%s: %d escalations, want %d: %+v", tc.query, len(got), tc.n, got)
			continue
		}
		if tc.n == 0 {
			continue
		}
		es := got[0]
		opened := t0.Add(time.Minute)
		if es.PatientID != "p1" || es.Priority != escalation.Medium || es.Reason != "patient asked for a human" ||
			es.Status != "open" || !es.OpenedAt.Equal(opened) || !es.Due.Equal(opened.Add(escalation.Deadline(escalation.Medium))) {
			t.Errorf("GET /escalations%s: %+v, want p1 medium %q open, opened %v, due 4h later", tc.query, es, "patient asked for a human", opened)
		}
	}

	status, body := e.call("GET", "/escalations?status=bogus", "")
	wantError(t, status, body, http.StatusBadRequest, "status")
}

// A chain sets the first channel; the Telegram chat is the patient's to
// link, never the clinic's to set.
func TestChannelChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := patient("p1", "+15551230001")
	delete(p, "channel")
	p["channels"] = []any{"whatsapp", "sms", "voice"}
	p["telegram"] = "12345"
	status, body := e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusCreated {
		t.Fatalf("status %d; body %s", status, body)
	}
	var got api.Patient
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Channel != "whatsapp" || strings.Join(got.Channels, ",") != "whatsapp,sms,voice" || got.Telegram != "" {
		t.Errorf("stored channel %q chain %v telegram %q", got.Channel, got.Channels, got.Telegram)
	}
	// Without Telegram configured, links cannot be made.
	status, body = e.call("POST", "/patients/p1/telegram-link", "")
	wantError(t, status, body, http.StatusServiceUnavailable, "telegram")
}

// A BCP 47 tag enrolls the patient in the nearest bundled language and says
// so; a language nothing is near is refused naming the field; a draft
// translation is flagged to the clinic.
func TestEnrollLanguageMatch(t *testing.T) {
	e := newEnv(t)
	p := patient("p-lang", "+15551230077")
	p["language"] = "es-MX"
	status, body := e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusCreated {
		t.Fatalf("POST es-MX: status %d; body %s", status, body)
	}
	var got struct {
		Language string   `json:"language"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Language != "es" || len(got.Warnings) == 0 || !strings.Contains(got.Warnings[0], `"es-MX" is not bundled; the patient gets "es"`) {
		t.Errorf("es-MX enrolled as %q with warnings %q", got.Language, got.Warnings)
	}
	if !slices.ContainsFunc(got.Warnings, func(w string) bool { return strings.Contains(w, "es is a draft translation") }) {
		t.Errorf("no draft warning for es: %q", got.Warnings)
	}
	// Haitian Creole has no voice and the bundled pack no recordings of it.
	p["language"], p["channels"] = "ht", []any{"sms", "voice"}
	p["id"], p["phone"] = "p-lang-ht", "+15551230079"
	status, body = e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusCreated || !strings.Contains(string(body), "calls in ht have no voice or recordings") {
		t.Errorf("POST ht by voice: status %d body %s, want a warning that calls cannot speak it", status, body)
	}
	delete(p, "channels")
	p["language"] = "de"
	p["id"], p["phone"] = "p-lang2", "+15551230078"
	status, body = e.call("POST", "/patients", jsonOf(t, p))
	if status != http.StatusBadRequest || !strings.Contains(string(body), `language: \"de\" is not bundled`) {
		t.Errorf("POST de: status %d body %s, want 400 naming language", status, body)
	}
}
