package smstest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms"
)

// Fault is a way a request to the fake fails.
type Fault int

const (
	// OK: no fault; the message is created.
	OK Fault = iota
	// RateLimited answers HTTP 429 with Twilio error 20429.
	RateLimited
	// ServerError answers HTTP 500 with Twilio error 20500.
	ServerError
	// OptedOut answers HTTP 400 with Twilio error 21610 (the recipient
	// replied STOP to the carrier).
	OptedOut
	// InvalidTo answers HTTP 400 with Twilio error 21211 (invalid To).
	InvalidTo
	// Drop closes the connection without an answer.
	Drop
	// OutsideWindow answers HTTP 400 with Twilio error 63016 (WhatsApp
	// free text outside the 24-hour customer-service window).
	OutsideWindow
	// InvalidRecipient answers HTTP 400 with Twilio error 63024 (not a
	// valid WhatsApp recipient).
	InvalidRecipient
	// Unauthenticated answers HTTP 401 with Twilio error 20003, as Twilio
	// does for a wrong or rotated auth token or a suspended account.
	Unauthenticated
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case RateLimited:
		return "rate-limited"
	case ServerError:
		return "server-error"
	case OptedOut:
		return "opted-out"
	case InvalidTo:
		return "invalid-to"
	case Drop:
		return "drop"
	case OutsideWindow:
		return "outside-window"
	case InvalidRecipient:
		return "invalid-recipient"
	case Unauthenticated:
		return "unauthenticated"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// twilioError is Twilio's error body for a fault.
func (f Fault) twilioError() (status int, body map[string]any) {
	e := func(status, code int, msg string) (int, map[string]any) {
		return status, map[string]any{"code": code, "message": msg, "status": status,
			"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)}
	}
	switch f {
	case RateLimited:
		return e(http.StatusTooManyRequests, 20429, "Too Many Requests")
	case ServerError:
		return e(http.StatusInternalServerError, 20500, "An internal server error has occurred")
	case OptedOut:
		return e(http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
	case InvalidTo:
		return e(http.StatusBadRequest, 21211, "Invalid 'To' Phone Number")
	case OutsideWindow:
		return e(http.StatusBadRequest, 63016, "Failed to send freeform message because you are outside the allowed window.")
	case InvalidRecipient:
		return e(http.StatusBadRequest, 63024, "Invalid message recipient")
	case Unauthenticated:
		return e(http.StatusUnauthorized, 20003, "Authenticate")
	}
	return e(http.StatusInternalServerError, 20500, "unknown fault "+f.String())
}

// Message is a message the fake accepted (answered 201).
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	// ContentSid and ContentVariables are a content (WhatsApp template or
	// quick reply) and its variables' JSON, sent instead of Body.
	ContentSid       string
	ContentVariables string
	StatusCallback   string
	At               time.Time
	// Outcome is the delivery status the fake decided for the message
	// ("" means delivered) and ErrorCode its error: a WhatsApp message that
	// is not an approved template, to a number outside its window, fails
	// with 63016, which Twilio reports in the status callback. Report
	// posts it.
	Outcome   string
	ErrorCode int
}

// CallbackParam returns a query parameter of the message's StatusCallback
// URL; Tend puts the outbox entry id in "o" (and, before issue 13, the
// patient id in "p").
func (m Message) CallbackParam(key string) string {
	u, err := url.Parse(m.StatusCallback)
	if err != nil {
		return ""
	}
	return u.Query().Get(key)
}

// Attempt is one request that reached the Messages endpoint with valid
// credentials, whatever its outcome.
type Attempt struct {
	To         string
	Body       string
	ContentSid string
	Fault      Fault
	At         time.Time
}

// Server is the fake Twilio. Create it with New; its fields must not change
// after that, except Client before the first Callback.
type Server struct {
	// URL is the base URL to give twilio.NewClient (http://127.0.0.1:port).
	URL string
	// AccountSID ("AC" + 32 hex) and AuthToken (32 hex) are the credentials
	// the fake accepts and signs callbacks with.
	AccountSID string
	AuthToken  string
	// Client posts status callbacks. Nil means a client with a 10 s timeout.
	Client *http.Client

	srv *httptest.Server

	mu       sync.Mutex
	msgs     []Message
	attempts []Attempt
	next     []Fault
	to       map[string]Fault
	changed  chan struct{} // closed and replaced when msgs grows
	// WhatsApp: when each number last wrote (its window), the approved
	// templates, and the clock windows are measured with.
	windows   map[string]time.Time
	templates map[string]bool
	clock     func() time.Time
}

// New starts a fake Twilio on a loopback port with fresh credentials and
// closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer("AC"+randomHex(16), randomHex(16))
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake Twilio that accepts the given credentials. The
// caller closes it.
func NewServer(accountSID, authToken string) *Server {
	s := &Server{AccountSID: accountSID, AuthToken: authToken, to: map[string]Fault{}, changed: make(chan struct{}),
		windows: map[string]time.Time{}, templates: map[string]bool{}, clock: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", s.createMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 20404, "status": 404,
			"message":   "The requested resource " + r.URL.Path + " was not found",
			"more_info": "https://www.twilio.com/docs/errors/20404"})
	})
	s.srv = httptest.NewServer(mux) // binds 127.0.0.1
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

// FailNext makes the next n requests to the Messages endpoint fail with f,
// after any failures queued before.
func (s *Server) FailNext(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.next = append(s.next, f)
	}
}

// FailTo makes every request to the number to fail with f; OK clears it.
// Failures queued with FailNext come first.
func (s *Server) FailTo(to string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == OK {
		delete(s.to, to)
		return
	}
	s.to[to] = f
}

// Messages returns every message accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// MessagesTo returns the messages accepted for one number, in order.
func (s *Server) MessagesTo(to string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Attempts returns every authenticated request to the Messages endpoint,
// failed ones included, in order.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// WaitFor waits until at least n messages were accepted or timeout passes,
// and returns the messages accepted by then (fewer than n on timeout).
func (s *Server) WaitFor(n int, timeout time.Duration) []Message {
	return s.WaitUntil(timeout, func(ms []Message) bool { return len(ms) >= n })
}

// WaitUntil waits until done holds for the accepted messages or timeout
// passes, and returns the messages accepted by then.
func (s *Server) WaitUntil(timeout time.Duration, done func([]Message) bool) []Message {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs := append([]Message(nil), s.msgs...)
		changed := s.changed
		s.mu.Unlock()
		if done(msgs) {
			return msgs
		}
		select {
		case <-changed:
		case <-deadline.C:
			return msgs
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.AuthToken)) == 1
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 20003, "message": "Authenticate",
			"more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
		return
	}
	if r.PathValue("AccountSid") != s.AccountSID {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 20404, "status": 404,
			"message":   "The requested resource " + r.URL.Path + " was not found",
			"more_info": "https://www.twilio.com/docs/errors/20404"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 20001, "status": 400, "message": err.Error()})
		return
	}
	to, body := r.PostForm.Get("To"), r.PostForm.Get("Body")
	from, service := r.PostForm.Get("From"), r.PostForm.Get("MessagingServiceSid")
	contentSid, contentVars := r.PostForm.Get("ContentSid"), r.PostForm.Get("ContentVariables")
	now := time.Now()

	s.mu.Lock()
	fault := OK
	if len(s.next) > 0 {
		fault, s.next = s.next[0], s.next[1:]
	} else if f, ok := s.to[to]; ok {
		fault = f
	}
	s.attempts = append(s.attempts, Attempt{To: to, Body: body, ContentSid: contentSid, Fault: fault, At: now})
	outcome, errorCode := "", 0
	if strings.HasPrefix(to, whatsappPrefix) && !s.templates[contentSid] && !s.inWindowLocked(to) {
		outcome, errorCode = "failed", 63016
	}
	s.mu.Unlock()

	switch fault {
	case OK:
	case Drop:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("smstest: connection cannot be hijacked")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	default:
		status, e := fault.twilioError()
		writeJSON(w, status, e)
		return
	}

	invalid := func(code int, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": code, "message": msg, "status": 400,
			"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)})
	}
	switch {
	case to == "":
		invalid(21604, "A 'To' phone number is required.")
		return
	case from == "" && service == "":
		invalid(21603, "A 'From' phone number is required.")
		return
	case body == "" && contentSid == "":
		invalid(21602, "Message body is required.")
		return
	case contentVars != "" && !validVariables(contentVars):
		invalid(21656, "The ContentVariables Parameter is invalid.")
		return
	}

	m := Message{SID: "SM" + randomHex(16), AccountSID: s.AccountSID, To: to, From: from,
		MessagingServiceSID: service, Body: body, ContentSid: contentSid, ContentVariables: contentVars,
		StatusCallback: r.PostForm.Get("StatusCallback"), At: now, Outcome: outcome, ErrorCode: errorCode}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	date := now.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.SID
	res := map[string]any{
		"account_sid": s.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": date, "date_updated": date, "date_sent": nil,
		"direction": "outbound-api", "error_code": nil, "error_message": nil,
		"from": nilIfEmpty(from), "messaging_service_sid": nilIfEmpty(service),
		"num_media": "0", "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": m.SID, "status": "queued", "to": to, "uri": uri + ".json",
		"subresource_uris": map[string]any{"media": uri + "/Media.json"},
	}
	writeJSON(w, http.StatusCreated, res)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Callback posts a delivery-status callback for m to its StatusCallback
// URL, signed with the auth token as Twilio signs it. errorCode 0 sends no
// ErrorCode. It returns the HTTP status Tend answered.
func (s *Server) Callback(m Message, status string, errorCode int) (int, error) {
	if m.StatusCallback == "" {
		return 0, fmt.Errorf("smstest: message %s has no StatusCallback", m.SID)
	}
	form := url.Values{
		"AccountSid":    {s.AccountSID},
		"ApiVersion":    {"2010-04-01"},
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"To":            {m.To},
	}
	if m.From != "" {
		form.Set("From", m.From)
	}
	if m.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if errorCode != 0 {
		form.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	req, err := SignedRequest(m.StatusCallback, m.StatusCallback, s.AuthToken, form)
	if err != nil {
		return 0, err
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// Sign returns X-Twilio-Signature for a POST of form to url: base64 of the
// HMAC-SHA1, keyed with the auth token, of the full URL followed by every
// form key and its value, keys sorted (a repeated key contributes each of
// its values, sorted: twilio-python's vector for a repeated field says so).
func Sign(authToken, url string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(url)
	for _, k := range keys {
		vs := slices.Clone(form[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	h := hmac.New(sha1.New, []byte(authToken))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// SignedRequest builds a form POST to target carrying the signature of
// signedURL (the public URL the server believes it is reached at).
func SignedRequest(target, signedURL, authToken string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Sign(authToken, signedURL, form))
	return req, nil
}

// InboundForm is the form Twilio posts for an inbound SMS.
func InboundForm(from, body, messageSid string) url.Values {
	return url.Values{
		"MessageSid":    {messageSid},
		"SmsMessageSid": {messageSid},
		"SmsSid":        {messageSid},
		"From":          {from},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
}

// InboundRequest builds a signed inbound-SMS webhook request to a Tend
// server at baseURL whose configured public URL is publicURL.
func InboundRequest(baseURL, publicURL, authToken string, form url.Values) (*http.Request, error) {
	return SignedRequest(strings.TrimSuffix(baseURL, "/")+sms.InboundPath,
		strings.TrimSuffix(publicURL, "/")+sms.InboundPath, authToken, form)
}

// PostInbound posts a signed inbound SMS to the Tend server at baseURL,
// signing against publicURL+"/webhooks/twilio/sms" as Twilio would. The
// response body is read into memory, so closing it is optional. A transport
// error fails the test.
func PostInbound(t testing.TB, baseURL, publicURL, authToken, from, body, messageSid string) *http.Response {
	t.Helper()
	req, err := InboundRequest(baseURL, publicURL, authToken, InboundForm(from, body, messageSid))
	if err != nil {
		t.Fatalf("smstest: inbound request: %v", err)
	}
	c := &http.Client{Timeout: 15 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("smstest: posting inbound SMS: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("smstest: reading webhook answer: %v", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}
