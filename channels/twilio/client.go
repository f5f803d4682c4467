package twilio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/store"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// NewClient builds a twilio-go REST client. apiURL other than Twilio's
// redirects every request there (tests point it at a fake server); the SDK
// has no base-URL option, so the redirect happens in the transport.
func NewClient(accountSID, authToken, apiURL string) *twiliogo.RestClient {
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
	return twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: c})
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

// Create sends a message through Twilio's Messages API, with a status
// callback to statusURL that names the outbox entry, so delivery reports
// find their message even after a crash. The entry's id is all the URL
// carries: Twilio keeps callback URLs in its logs, and a patient id there
// would link a message to a patient outside Tend; StatusHandler finds the
// patient from the id. The SDK takes no context: when
// ctx ends first the request may still reach Twilio, so the outcome is
// unknown and the message is not retried blindly. classify sorts the
// channel's errors (Classify, or a channel's own codes first).
func Create(ctx context.Context, c *twiliogo.RestClient, p *openapi.CreateMessageParams, statusURL string, e store.OutboxEntry, classify func(error) error) (string, string, error) {
	p.SetStatusCallback(statusURL + "?" + url.Values{"o": {e.ID}}.Encode())
	m, err := Do(ctx, func() (*openapi.ApiV2010Message, error) { return c.Api.CreateMessage(p) }, classify)
	if err != nil {
		return "", "", err
	}
	sid, status := "", "sent"
	if m.Sid != nil {
		sid = *m.Sid
	}
	if m.Status != nil && *m.Status != "" {
		status = *m.Status
	}
	return sid, status, nil
}

// Do runs req, a twilio-go request (the SDK takes no context), and returns
// its result with its error sorted by classify. When ctx ends first it
// returns an ErrUnknownOutcome *channels.SendError: the request may still
// reach Twilio, so it must not be repeated blindly.
func Do[T any](ctx context.Context, req func() (T, error), classify func(error) error) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := req()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.v, classify(r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		var zero T
		return zero, &channels.SendError{Class: channels.ErrUnknownOutcome, Err: ctx.Err()}
	}
}

// Twilio error codes (docs/architecture.md#messaging-rules).
const (
	CodeRateLimited    = 20429
	CodeOptedOut       = 21610
	CodeAuthenticate   = 20003 // "Authenticate": the account SID or auth token is wrong
	CodeUnknownHandset = 30005
	CodeLandline       = 30006
)

// Classify sorts a twilio-go error into the dispatcher's classes: 429, 5xx,
// failed connections are temporary, 401 and 20003 (our credentials) pause the channel (ErrAuth),
// 21610 is an opt-out, other API errors
// (21211 invalid number, 21614 not mobile, 21408, ...) are permanent.
//
// A transport error is retried only when the request cannot have reached
// Twilio (the connection was never made); a timeout or a connection lost
// mid-request may have created the message, and sending again could deliver
// it twice.
func Classify(err error) error {
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
	case te.Code == CodeOptedOut:
		return &channels.SendError{Class: channels.ErrOptedOut, Code: te.Code, Err: err}
	case te.Status == http.StatusTooManyRequests || te.Code == CodeRateLimited || te.Status >= 500:
		return &channels.SendError{Class: channels.ErrRetry, Code: te.Code, Err: err}
	case te.Status == http.StatusUnauthorized || te.Code == CodeAuthenticate:
		// Our credentials are wrong or being rotated: the message is fine,
		// so the channel pauses rather than failing it for every patient.
		return &channels.SendError{Class: channels.ErrAuth, Code: te.Code, Err: err}
	}
	return &channels.SendError{Code: te.Code, Err: err}
}
