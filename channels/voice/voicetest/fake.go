package voicetest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// Fault is a way a request to the Calls API fails.
type Fault int

const (
	// OK: the call is created.
	OK Fault = iota
	// RateLimited answers HTTP 429 with Twilio error 20429.
	RateLimited
	// ServerError answers HTTP 500 with Twilio error 20500.
	ServerError
	// InvalidTo answers HTTP 400 with Twilio error 21211.
	InvalidTo
	// Drop closes the connection without an answer.
	Drop
)

func (f Fault) twilioError() (int, map[string]any) {
	e := func(status, code int, msg string) (int, map[string]any) {
		return status, map[string]any{"code": code, "message": msg, "status": status,
			"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)}
	}
	switch f {
	case RateLimited:
		return e(http.StatusTooManyRequests, 20429, "Too Many Requests")
	case InvalidTo:
		return e(http.StatusBadRequest, 21211, "Invalid 'To' Phone Number")
	}
	return e(http.StatusInternalServerError, 20500, "An internal server error has occurred")
}

// Call is a call the fake accepted.
type Call struct {
	SID                  string
	To                   string
	From                 string
	URL                  string // the answer webhook
	Method               string
	StatusCallback       string
	StatusCallbackEvents []string
	MachineDetection     string
	Timeout              int // ring timeout, seconds
	At                   time.Time
}

// Param returns a query parameter of the call's answer URL; Tend puts the
// outbox entry in "o" and the attempt in "a" (and, before issue 13, the
// patient in "p").
func (c Call) Param(key string) string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return ""
	}
	return u.Query().Get(key)
}

// Server is the fake Calls API. Create it with New.
type Server struct {
	// URL is the base URL to give twilio.NewClient.
	URL        string
	AccountSID string
	AuthToken  string
	// Client posts webhooks; nil means a client with a 10 s timeout.
	Client *http.Client

	srv *httptest.Server

	mu      sync.Mutex
	calls   []Call
	faults  []Fault
	seq     map[string]int // callback sequence numbers per call
	changed chan struct{}
}

// New starts a fake on a loopback port with fresh credentials and closes
// it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer("AC"+randomHex(16), randomHex(16))
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake accepting the given credentials; the caller
// closes it.
func NewServer(accountSID, authToken string) *Server {
	s := &Server{AccountSID: accountSID, AuthToken: authToken, seq: map[string]int{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Calls.json", s.createCall)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 20404, "status": 404,
			"message": "The requested resource " + r.URL.Path + " was not found"})
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// FailNext makes the next n create-call requests fail with f.
func (s *Server) FailNext(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Calls returns every call accepted so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// WaitFor waits until at least n calls were accepted or timeout passes and
// returns the calls accepted by then.
func (s *Server) WaitFor(n int, timeout time.Duration) []Call {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		calls, changed := slices.Clone(s.calls), s.changed
		s.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		select {
		case <-changed:
		case <-deadline.C:
			return calls
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.AccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.AuthToken)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 20003, "message": "Authenticate", "status": 401})
		return
	}
	if r.PathValue("AccountSid") != s.AccountSID {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 20404, "status": 404, "message": "not found"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 20001, "status": 400, "message": err.Error()})
		return
	}
	s.mu.Lock()
	fault := OK
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch fault {
	case OK:
	case Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	default:
		status, body := fault.twilioError()
		writeJSON(w, status, body)
		return
	}
	f := r.PostForm
	invalid := func(code int, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": code, "message": msg, "status": 400})
	}
	switch {
	case f.Get("To") == "":
		invalid(21201, "No 'To' number is specified")
		return
	case f.Get("From") == "":
		invalid(21213, "No 'From' number is specified")
		return
	case f.Get("Url") == "" && f.Get("Twiml") == "" && f.Get("ApplicationSid") == "":
		invalid(21205, "Url parameter is required")
		return
	}
	timeout, _ := strconv.Atoi(f.Get("Timeout"))
	c := Call{SID: "CA" + randomHex(16), To: f.Get("To"), From: f.Get("From"), URL: f.Get("Url"), Method: f.Get("Method"),
		StatusCallback: f.Get("StatusCallback"), StatusCallbackEvents: f["StatusCallbackEvent"],
		MachineDetection: f.Get("MachineDetection"), Timeout: timeout, At: time.Now()}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	date := c.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls/" + c.SID
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid": c.SID, "account_sid": s.AccountSID, "api_version": "2010-04-01",
		"to": c.To, "to_formatted": c.To, "from": c.From, "from_formatted": c.From,
		"status": "queued", "direction": "outbound-api", "date_created": date, "date_updated": date,
		"start_time": nil, "end_time": nil, "duration": nil, "price": nil, "price_unit": "USD",
		"answered_by": nil, "uri": uri + ".json",
	})
}

// subscribed reports whether a call asked for callbacks of an event; a
// call without StatusCallbackEvent gets only "completed", as on Twilio.
func (c Call) subscribed(event string) bool {
	if len(c.StatusCallbackEvents) == 0 {
		return event == "completed"
	}
	return slices.Contains(c.StatusCallbackEvents, event)
}

// eventOf is the StatusCallbackEvent a call status belongs to.
func eventOf(callStatus string) string {
	switch callStatus {
	case "initiated", "queued":
		return "initiated"
	case "ringing":
		return "ringing"
	case "in-progress":
		return "answered"
	}
	return "completed" // completed, busy, no-answer, failed, canceled
}

// Status posts a status callback for c, signed as Twilio signs it, when
// the call subscribed to the status's event; answeredBy is AMD's verdict
// ("" for none). It returns Tend's HTTP status (0 when not subscribed).
func (s *Server) Status(c Call, callStatus, answeredBy string) (int, error) {
	if c.StatusCallback == "" || !c.subscribed(eventOf(callStatus)) {
		return 0, nil
	}
	s.mu.Lock()
	n := s.seq[c.SID]
	s.seq[c.SID] = n + 1
	s.mu.Unlock()
	form := url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {c.SID},
		"CallStatus": {callStatus}, "Direction": {"outbound-api"}, "From": {c.From}, "To": {c.To},
		"CallbackSource": {"call-progress-events"}, "SequenceNumber": {strconv.Itoa(n)},
		"Timestamp": {time.Now().UTC().Format(time.RFC1123Z)},
	}
	if answeredBy != "" {
		form.Set("AnsweredBy", answeredBy)
	}
	if eventOf(callStatus) == "completed" {
		form.Set("CallDuration", "0")
	}
	res, err := s.post(c.StatusCallback, form)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// Outcomes of a call that nobody answered.
const (
	Busy     = "busy"
	NoAnswer = "no-answer"
	Failed   = "failed"
)

// Unanswered plays a call that nobody picked up: initiated, then (except
// for a failed call) ringing, then outcome (Busy, NoAnswer or Failed). It
// returns Tend's HTTP status for the final callback.
func (s *Server) Unanswered(c Call, outcome string) (int, error) {
	seq := []string{"initiated", "ringing", outcome}
	if outcome == Failed || outcome == Busy {
		seq = []string{"initiated", outcome}
	}
	var code int
	for _, st := range seq {
		var err error
		if code, err = s.Status(c, st, ""); err != nil {
			return code, err
		}
		if code >= 300 {
			return code, nil
		}
	}
	return code, nil
}

// AMD verdicts Twilio puts in AnsweredBy with MachineDetection=Enable.
const (
	Human   = "human"
	Machine = "machine_start"
	Fax     = "fax"
	Unknown = "unknown"
)

// Answer plays a call picked up by answeredBy (Human, Machine, ...): the
// ringing and answered callbacks, then the answer webhook; the returned
// Caller has run the answer's TwiML up to its first <Gather>, <Dial> or the
// end. When the call ends the fake posts its "completed" callback.
func (s *Server) Answer(t testing.TB, c Call, answeredBy string) *Caller {
	t.Helper()
	for _, st := range []string{"initiated", "ringing"} {
		if code, err := s.Status(c, st, ""); err != nil || code >= 300 {
			t.Fatalf("voicetest: %s callback: status %d, %v", st, code, err)
		}
	}
	if code, err := s.Status(c, "in-progress", answeredBy); err != nil || code >= 300 {
		t.Fatalf("voicetest: answered callback: status %d, %v", code, err)
	}
	params := url.Values{"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {c.SID},
		"CallStatus": {"in-progress"}, "Direction": {"outbound-api"}, "From": {c.From}, "To": {c.To}}
	if answeredBy != "" {
		params.Set("AnsweredBy", answeredBy)
	}
	caller := &Caller{t: t, client: s.client(), token: s.AuthToken, params: params}
	caller.onEnd = func() {
		if code, err := s.Status(c, "completed", answeredBy); err != nil || code >= 300 {
			t.Errorf("voicetest: completed callback: status %d, %v", code, err)
		}
	}
	caller.start("answer", c.URL)
	return caller
}

// Dial places a call from a phone to a Tend number whose inbound webhook
// is webhookURL, as Twilio does when someone calls the number.
func (s *Server) Dial(t testing.TB, webhookURL, from, to string) *Caller {
	t.Helper()
	params := url.Values{"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {"CA" + randomHex(16)},
		"CallStatus": {"ringing"}, "Direction": {"inbound"}, "From": {from}, "To": {to}}
	caller := &Caller{t: t, client: s.client(), token: s.AuthToken, params: params}
	caller.start("call", webhookURL)
	return caller
}

func (s *Server) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (s *Server) post(target string, form url.Values) (*http.Response, error) {
	req, err := SignedRequest(target, s.AuthToken, form)
	if err != nil {
		return nil, err
	}
	res, err := s.client().Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// Sign returns X-Twilio-Signature for a POST of form to fullURL, as
// Twilio signs voice webhooks: the same signature as its SMS webhooks, so
// it is smstest.Sign.
func Sign(authToken, fullURL string, form url.Values) string {
	return smstest.Sign(authToken, fullURL, form)
}

// SignedRequest builds a signed form POST to target (which is also the
// URL signed: tests serve Tend at its public URL).
func SignedRequest(target, authToken string, form url.Values) (*http.Request, error) {
	if target == "" {
		return nil, errors.New("voicetest: no URL to post to")
	}
	return smstest.SignedRequest(target, target, authToken, form)
}
