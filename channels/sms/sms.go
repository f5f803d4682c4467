package sms

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels"
	twiliosig "github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Channel is the name of this channel in sessions, outbox entries and metrics.
const Channel = "sms"

// Paths of the webhooks Twilio calls.
const (
	InboundPath = "/webhooks/twilio/sms"
	StatusPath  = "/webhooks/twilio/status"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// NewClient builds a twilio-go REST client. apiURL other than Twilio's
// redirects every request there (tests point it at a fake server); the SDK
// has no base-URL option, so the redirect happens in the transport.
func NewClient(accountSID, authToken, apiURL string) *twilio.RestClient {
	var rt http.RoundTripper = http.DefaultTransport
	if apiURL != "" && apiURL != DefaultAPIURL {
		if u, err := url.Parse(apiURL); err == nil {
			rt = redirect{to: u, next: http.DefaultTransport}
		}
	}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(accountSID, authToken),
		// The SDK takes no context and never retries: the timeout is here,
		// the retries are the dispatcher's.
		HTTPClient: &http.Client{Timeout: 15 * time.Second, Transport: rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	c.SetAccountSid(accountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

type redirect struct {
	to   *url.URL
	next http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	req.Host = r.to.Host
	return r.next.RoundTrip(req)
}

// Sender sends SMS through Twilio's Messages API.
type Sender struct {
	Client *twilio.RestClient
	// From is a sender number, or a messaging service SID (MG...).
	From      string
	PublicURL string
}

// Send creates the message with a status callback that names the outbox
// entry, so delivery reports find their message even after a crash.
func (s *Sender) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(e.To)
	p.SetBody(conversations.Numbered(e.Text, e.Labels))
	if strings.HasPrefix(s.From, "MG") {
		p.SetMessagingServiceSid(s.From)
	} else {
		p.SetFrom(s.From)
	}
	return Create(ctx, s.Client, p, strings.TrimSuffix(s.PublicURL, "/")+StatusPath, e, classify)
}

// Create sends a message through Twilio's Messages API, with a status
// callback to statusURL that names the outbox entry, so delivery reports
// find their message even after a crash. The SDK takes no context: when
// ctx ends first the request may still reach Twilio, so the outcome is
// unknown and the message is not retried blindly. classify sorts the
// channel's errors (Classify for SMS).
func Create(ctx context.Context, c *twilio.RestClient, p *openapi.CreateMessageParams, statusURL string, e store.OutboxEntry, classify func(error) error) (string, string, error) {
	q := url.Values{"o": {e.ID}}
	if e.PatientID != "" {
		q.Set("p", e.PatientID)
	}
	p.SetStatusCallback(statusURL + "?" + q.Encode())
	type result struct {
		m   *openapi.ApiV2010Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := c.Api.CreateMessage(p)
		done <- result{m, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return "", "", &channels.SendError{Class: channels.ErrUnknownOutcome, Err: ctx.Err()}
	}
	if r.err != nil {
		return "", "", classify(r.err)
	}
	sid, status := "", "sent"
	if r.m.Sid != nil {
		sid = *r.m.Sid
	}
	if r.m.Status != nil && *r.m.Status != "" {
		status = *r.m.Status
	}
	return sid, status, nil
}

// Twilio error codes (RULES.md).
const (
	codeRateLimited    = 20429
	codeOptedOut       = 21610
	codeUnknownHandset = 30005
	codeLandline       = 30006
)

// classify sorts a twilio-go error into the dispatcher's classes: 429, 5xx,
// 401 (credentials being fixed) and failed connections are temporary, 21610 is an opt-out, other API errors
// (21211 invalid number, 21614 not mobile, 21408, ...) are permanent.
//
// A transport error is retried only when the request cannot have reached
// Twilio (the connection was never made); a timeout or a connection lost
// mid-request may have created the message, and sending again could deliver
// it twice.
func classify(err error) error {
	var te *twclient.TwilioRestError
	if !errors.As(err, &te) {
		var op *net.OpError
		var dns *net.DNSError
		if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
			return &channels.SendError{Class: channels.ErrRetry, Err: err}
		}
		return &channels.SendError{Class: channels.ErrUnknownOutcome, Err: err}
	}
	switch {
	case te.Code == codeOptedOut:
		return &channels.SendError{Class: channels.ErrOptedOut, Code: te.Code, Err: err}
	case te.Status == http.StatusTooManyRequests || te.Code == codeRateLimited || te.Status >= 500:
		return &channels.SendError{Class: channels.ErrRetry, Code: te.Code, Err: err}
	case te.Status == http.StatusUnauthorized:
		// Our credentials are wrong or being rotated: the message is fine,
		// so it waits and retries rather than failing for every patient.
		return &channels.SendError{Class: channels.ErrRetry, Code: te.Code, Err: err}
	}
	return &channels.SendError{Code: te.Code, Err: err}
}

// Turns is what the webhooks need from the conversation runner.
type Turns interface {
	Inbound(ctx context.Context, patientID, channel, text, dedupe string) error
	NotEnrolled(ctx context.Context, channel, from, dedupe string) error
	Delivered(ctx context.Context, patientID, messageID string, rc runner.Receipt) (next string, err error)
	PatientByPhone(ctx context.Context, phone string) (store.Patient, error)
}

// Webhooks serves Twilio's inbound-message and status callbacks.
type Webhooks struct {
	Turns     Turns
	AuthToken string
	PublicURL string
	Log       *slog.Logger
	// Observe, when set, counts inbound messages by outcome (for metrics).
	Observe func(outcome string)
	// ObserveStatus, when set, counts provider status reports (for
	// metrics): the status and the provider's error code (0 for none).
	ObserveStatus func(status string, code int)
}

// maxForm bounds a webhook body; Twilio's are a few kilobytes.
const maxForm = 64 << 10

// Verify parses the form and checks X-Twilio-Signature against the public
// URL (not r.Host: behind a proxy the host differs). It writes the error
// response and returns false when the request must go no further.
func Verify(w http.ResponseWriter, r *http.Request, authToken, publicURL string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form: "+err.Error(), http.StatusBadRequest)
		return false
	}
	full := strings.TrimSuffix(publicURL, "/") + r.URL.RequestURI()
	if !twiliosig.ValidSignature(authToken, r.Header.Get("X-Twilio-Signature"), full, r.PostForm) {
		http.Error(w, "invalid signature", http.StatusForbidden)
		return false
	}
	return true
}

func (h *Webhooks) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Webhooks) observe(outcome string) {
	if h.Observe != nil {
		h.Observe(outcome)
	}
}

// Inbound handles POST /webhooks/twilio/sms. The reply goes out through the
// outbox, so the TwiML answer is empty. A 2xx means the turn is committed;
// on a store error Twilio gets a 5xx and retries with the same MessageSid.
func (h *Webhooks) Inbound(w http.ResponseWriter, r *http.Request) {
	if !Verify(w, r, h.AuthToken, h.PublicURL) {
		h.observe("rejected")
		return
	}
	sid, from := r.PostForm.Get("MessageSid"), r.PostForm.Get("From")
	if sid == "" || from == "" {
		h.observe("malformed")
		http.Error(w, "MessageSid and From are required", http.StatusBadRequest)
		return
	}
	phone, err := channels.E164(from)
	if err != nil {
		h.observe("malformed")
		http.Error(w, "From: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	dedupe := "twilio:" + sid
	p, err := h.Turns.PatientByPhone(ctx, phone)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = h.Turns.NotEnrolled(ctx, Channel, phone, dedupe)
		h.observe("unknown_number")
	case err == nil:
		err = h.Turns.Inbound(ctx, p.ID, Channel, r.PostForm.Get("Body"), dedupe)
		h.observe("accepted")
	}
	if err != nil {
		h.log().Error("inbound sms not committed", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	emptyTwiML(w)
}

func emptyTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

// Status handles POST /webhooks/twilio/status: it records the delivery
// status on the message's timeline event.
func (h *Webhooks) Status(w http.ResponseWriter, r *http.Request) {
	if !Verify(w, r, h.AuthToken, h.PublicURL) {
		return
	}
	status := r.PostForm.Get("MessageStatus")
	outboxID, patientID := r.URL.Query().Get("o"), r.URL.Query().Get("p")
	if status == "" || outboxID == "" {
		http.Error(w, "MessageStatus and the o query parameter are required", http.StatusBadRequest)
		return
	}
	code, _ := strconv.Atoi(r.PostForm.Get("ErrorCode"))
	if h.ObserveStatus != nil {
		h.ObserveStatus(status, code)
	}
	if patientID != "" {
		// 21610: the patient opted out with the carrier; 30005/30006: the
		// number cannot take texts (a landline, say), so the message goes
		// on the patient's next channel, a call perhaps.
		rc := runner.Receipt{Channel: Channel, Status: status, Code: code, OptOut: code == codeOptedOut,
			Undeliverable: code == codeUnknownHandset || code == codeLandline}
		next, err := h.Turns.Delivered(r.Context(), patientID, outboxID, rc)
		if err != nil {
			// Twilio retries the callback: nothing is lost.
			h.log().Error("recording delivery status", "message", outboxID, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if next != "" {
			h.log().Info("sms undeliverable; falling back", "message", outboxID, "code", code, "next", next)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
