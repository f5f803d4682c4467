package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// deliveries stands in for the Runner: the store knows message m1 as
// p1's; "old" is a message queued before URLs lost the patient id, whose
// patient the store does not know.
type deliveries struct {
	got       []runner.Receipt
	next      string
	err       error
	lookupErr error
}

func (d *deliveries) Delivered(_ context.Context, patientID, messageID string, rc runner.Receipt) (string, error) {
	if patientID != "p1" || (messageID != "m1" && messageID != "old") {
		return "", errors.New("wrong ids " + patientID + " " + messageID)
	}
	d.got = append(d.got, rc)
	return d.next, d.err
}

func (d *deliveries) OutboxPatient(_ context.Context, id string) (string, error) {
	if d.lookupErr != nil {
		return "", d.lookupErr
	}
	if id == "m1" {
		return "p1", nil
	}
	return "", store.ErrNotFound
}

// post signs form for target (with the handler's public URL) unless sig is
// given, and serves it through Signed(h).
func post(t *testing.T, h http.Handler, target, sig string, form url.Values) (int, int) {
	t.Helper()
	refused := 0
	keys := func() Keys { return Keys{AuthToken: token, PublicURL: "https://tend.example"} }
	signed := Signed(keys, func() { refused++ })(h)
	if sig == "" {
		sig = Signature(token, "https://tend.example"+target, form)
	}
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	rec := httptest.NewRecorder()
	signed.ServeHTTP(rec, req)
	return rec.Code, refused
}

func TestSigned(t *testing.T) {
	t.Parallel()
	ran := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = r.PostForm.Get("Body") == "hi" })
	form := url.Values{"Body": {"hi"}}
	if code, refused := post(t, next, "/hook?x=1", "forged", form); code != http.StatusForbidden || refused != 1 || ran {
		t.Fatalf("forged: %d, refused %d, ran %v; want 403, 1, false", code, refused, ran)
	}
	if code, refused := post(t, next, "/hook?x=1", "", form); code != http.StatusOK || refused != 0 || !ran {
		t.Fatalf("signed: %d, refused %d, ran %v; want 200, 0, true", code, refused, ran)
	}
}

func TestStatusHandler(t *testing.T) {
	t.Parallel()
	sms := Fallback{Codes: []int{CodeUnknownHandset, CodeLandline}}
	wa := Fallback{Statuses: []string{"failed", "undelivered"}}
	for _, c := range []struct {
		name     string
		fallback Fallback
		target   string
		form     url.Values
		err      error
		code     int
		want     *runner.Receipt
	}{
		{"delivered", sms, "/s?o=m1", url.Values{"MessageStatus": {"delivered"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "delivered"}},
		{"landline falls back on sms", sms, "/s?o=m1", url.Values{"MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "undelivered", Code: 30006, Undeliverable: true}},
		{"other sms failure does not", sms, "/s?o=m1", url.Values{"MessageStatus": {"failed"}, "ErrorCode": {"30003"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "failed", Code: 30003}},
		{"any whatsapp failure falls back", wa, "/s?o=m1", url.Values{"MessageStatus": {"failed"}, "ErrorCode": {"63016"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "failed", Code: 63016, Undeliverable: true}},
		{"carrier opt-out", sms, "/s?o=m1", url.Values{"MessageStatus": {"failed"}, "ErrorCode": {"21610"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "failed", Code: 21610, OptOut: true}},
		{"reply to an unknown number", sms, "/s?o=m9", url.Values{"MessageStatus": {"sent"}}, nil, 204, nil},
		{"old URL with the patient", sms, "/s?o=old&p=p1", url.Values{"MessageStatus": {"delivered"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "delivered"}},
		{"the store's patient before the URL's", sms, "/s?o=m1&p=p9", url.Values{"MessageStatus": {"delivered"}}, nil, 204,
			&runner.Receipt{Channel: "x", Status: "delivered"}},
		{"no status", sms, "/s?o=m1&p=p1", url.Values{}, nil, 400, nil},
		{"no message", sms, "/s?p=p1", url.Values{"MessageStatus": {"sent"}}, nil, 400, nil},
		{"store down: Twilio calls again", sms, "/s?o=m1", url.Values{"MessageStatus": {"sent"}}, errors.New("down"), 503,
			&runner.Receipt{Channel: "x", Status: "sent"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &deliveries{err: c.err}
			h := &StatusHandler{Channel: "x", Fallback: c.fallback, Turns: d}
			code, _ := post(t, h, c.target, "", c.form)
			if code != c.code {
				t.Fatalf("status %d, want %d", code, c.code)
			}
			switch {
			case c.want == nil && len(d.got) != 0:
				t.Fatalf("Delivered called with %+v", d.got)
			case c.want != nil && (len(d.got) != 1 || d.got[0] != *c.want):
				t.Fatalf("Delivered got %+v, want %+v", d.got, *c.want)
			}
		})
	}
}

// TestStatusHandlerLookupDown: when the store cannot say whose message it
// is, Twilio is asked to call again (503), unless an old URL names the
// patient.
func TestStatusHandlerLookupDown(t *testing.T) {
	t.Parallel()
	form := url.Values{"MessageStatus": {"sent"}}
	for target, want := range map[string]int{"/s?o=m1": 503, "/s?o=old&p=p1": 204} {
		d := &deliveries{lookupErr: errors.New("down")}
		h := &StatusHandler{Channel: "x", Turns: d}
		if code, _ := post(t, h, target, "", form); code != want || (want == 204) != (len(d.got) == 1) {
			t.Errorf("%s with the lookup down: %d, recorded %+v; want %d", target, code, d.got, want)
		}
	}
}
