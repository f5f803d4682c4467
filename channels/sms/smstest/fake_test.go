package smstest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/twilio"
)

// TestSignMatchesTwilioValidator checks Sign against the validator of the
// twilio-go SDK, which Tend's webhooks use.
func TestSignMatchesTwilioValidator(t *testing.T) {
	t.Parallel()
	const token = "12345678901234567890123456789012"
	for _, tc := range []struct {
		name string
		url  string
		form url.Values
	}{
		{"inbound", "https://tend.example.org/webhooks/twilio/sms",
			smstest.InboundForm("+15551230001", "1", "SM0123456789abcdef0123456789abcdef")},
		{"status with query and port", "http://127.0.0.1:8080/webhooks/twilio/status?o=0001&p=p-1",
			url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"delivered"}, "ErrorCode": {"30003"}}},
		{"unicode and symbols", "https://tend.example.org/webhooks/twilio/sms",
			url.Values{"Body": {"tengo dolor de pecho ❤ & más = 100%"}, "From": {"+34600000000"}, "a": {""}, "Z": {"upper first"}}},
		{"empty form", "https://tend.example.org/x", url.Values{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]string{}
			for k, v := range tc.form {
				params[k] = v[0]
			}
			sig := smstest.Sign(token, tc.url, tc.form)
			v := twclient.NewRequestValidator(token)
			if !v.Validate(tc.url, params, sig) {
				t.Fatalf("twilio-go rejects Sign's signature %q", sig)
			}
			if other := twclient.NewRequestValidator(token + "x"); other.Validate(tc.url, params, sig) {
				t.Error("a signature made with another token validates")
			}
			if v.Validate(tc.url+"/other", params, sig) {
				t.Error("the signature validates for another URL")
			}
			params["Extra"] = "1"
			if v.Validate(tc.url, params, sig) {
				t.Error("the signature validates with an added parameter")
			}
		})
	}
}

func client(f *smstest.Server, token string) *openapi.ApiService {
	return twilio.NewClient(f.AccountSID, token, f.URL).Api
}

func params(to, body string) *openapi.CreateMessageParams {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetFrom("+15550000000")
	p.SetBody(body)
	p.SetStatusCallback("http://127.0.0.1:1/webhooks/twilio/status?o=1")
	return p
}

var sidRE = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

// TestFakeThroughSDK drives the fake with the real twilio-go client.
func TestFakeThroughSDK(t *testing.T) {
	t.Parallel()
	f := smstest.New(t)
	if !regexp.MustCompile(`^AC[0-9a-f]{32}$`).MatchString(f.AccountSID) {
		t.Fatalf("AccountSID %q", f.AccountSID)
	}
	api := client(f, f.AuthToken)

	m, err := api.CreateMessage(params("+15551230001", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Sid == nil || !sidRE.MatchString(*m.Sid) || m.Status == nil || *m.Status != "queued" ||
		*m.To != "+15551230001" || *m.From != "+15550000000" || *m.Body != "hello" {
		t.Fatalf("answer %+v", m)
	}
	got := f.Messages()
	if len(got) != 1 || got[0].SID != *m.Sid || got[0].Body != "hello" || got[0].CallbackParam("o") != "1" {
		t.Fatalf("recorded %+v", got)
	}

	// Wrong credentials: 401 with Twilio's error, nothing recorded.
	_, err = client(f, "0000").CreateMessage(params("+15551230001", "x"))
	var te *twclient.TwilioRestError
	if !errors.As(err, &te) || te.Status != 401 || te.Code != 20003 {
		t.Fatalf("wrong token: %v", err)
	}

	// Missing body: Twilio's validation error.
	p := params("+15551230001", "")
	p.Body = nil
	if _, err := api.CreateMessage(p); !errors.As(err, &te) || te.Code != 21602 {
		t.Fatalf("missing body: %v", err)
	}

	// Injected faults, in order, then per number.
	f.FailNext(smstest.RateLimited, 1)
	f.FailNext(smstest.ServerError, 1)
	f.FailNext(smstest.OptedOut, 1)
	f.FailNext(smstest.InvalidTo, 1)
	for _, want := range []struct{ status, code int }{{429, 20429}, {500, 20500}, {400, 21610}, {400, 21211}} {
		_, err := api.CreateMessage(params("+15551230001", "x"))
		if !errors.As(err, &te) || te.Status != want.status || te.Code != want.code {
			t.Errorf("want %d/%d, got %v", want.status, want.code, err)
		}
	}
	f.FailNext(smstest.Drop, 1)
	if _, err := api.CreateMessage(params("+15551230001", "x")); err == nil || errors.As(err, &te) {
		t.Errorf("dropped connection: got %v, want a transport error", err)
	}
	f.FailTo("+15551230002", smstest.OptedOut)
	if _, err := api.CreateMessage(params("+15551230002", "x")); !errors.As(err, &te) || te.Code != 21610 {
		t.Errorf("FailTo: %v", err)
	}
	if _, err := api.CreateMessage(params("+15551230001", "other number")); err != nil {
		t.Errorf("another number fails: %v", err)
	}
	f.FailTo("+15551230002", smstest.OK)
	if _, err := api.CreateMessage(params("+15551230002", "cleared")); err != nil {
		t.Errorf("after clearing FailTo: %v", err)
	}
	if n := len(f.Messages()); n != 3 {
		t.Errorf("%d messages recorded, want 3", n)
	}
	// Authenticated requests: 1 + missing body + 4 faults + drop + 3.
	if n := len(f.Attempts()); n != 10 {
		t.Errorf("%d attempts recorded, want 10", n)
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	f := smstest.New(t)
	api := client(f, f.AuthToken)
	if got := f.WaitFor(1, 20*time.Millisecond); len(got) != 0 {
		t.Fatalf("WaitFor on an empty fake: %v", got)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := api.CreateMessage(params("+15551230001", "x")); err != nil {
				t.Error(err)
			}
		})
	}
	if got := f.WaitFor(3, 10*time.Second); len(got) != 3 {
		t.Fatalf("WaitFor(3) = %d messages", len(got))
	}
	wg.Wait()
}

// TestCallback checks that the status callback is signed so that twilio-go's
// validator accepts it at the StatusCallback URL.
func TestCallback(t *testing.T) {
	t.Parallel()
	f := smstest.New(t)
	type got struct {
		ok     bool
		status string
		code   string
		query  string
	}
	gotc := make(chan got, 1)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		v := twclient.NewRequestValidator(f.AuthToken)
		ok := v.Validate(srv.URL+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
		gotc <- got{ok, r.PostForm.Get("MessageStatus"), r.PostForm.Get("ErrorCode"), r.URL.RawQuery}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	p := params("+15551230001", "hi")
	p.SetStatusCallback(srv.URL + "/webhooks/twilio/status?o=abc&p=p-1")
	if _, err := client(f, f.AuthToken).CreateMessage(p); err != nil {
		t.Fatal(err)
	}
	m := f.Messages()[0]
	status, err := f.Callback(m, "undelivered", 30003)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Callback: %d %v", status, err)
	}
	g := <-gotc
	if !g.ok || g.status != "undelivered" || g.code != "30003" || g.query != "o=abc&p=p-1" {
		t.Fatalf("callback received %+v", g)
	}
}
