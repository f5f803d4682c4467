package smstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// whatsappPrefix marks WhatsApp addresses in Twilio's To and From.
const whatsappPrefix = "whatsapp:"

// windowLength is WhatsApp's customer-service window.
const windowLength = 24 * time.Hour

// SetClock sets the clock WhatsApp windows are measured with (time.Now by
// default), so tests that move a manual clock see windows close.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// OpenWindow records that a WhatsApp number wrote now, opening its 24-hour
// window; PostWhatsApp does it for the number it posts from. number may be
// given with or without "whatsapp:".
func (s *Server) OpenWindow(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windows[waAddress(number)] = s.clock()
}

// ApproveTemplates marks content SIDs as approved WhatsApp templates, which
// may go to a number outside its window. Any other message to a WhatsApp
// number outside its window (free text, a quick reply) is accepted and then
// fails with 63016, as Twilio does: see Message.Outcome and Report.
func (s *Server) ApproveTemplates(sids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sid := range sids {
		s.templates[sid] = true
	}
}

func (s *Server) inWindowLocked(to string) bool {
	at, ok := s.windows[to]
	return ok && s.clock().Before(at.Add(windowLength))
}

func waAddress(number string) string {
	if strings.HasPrefix(number, whatsappPrefix) {
		return number
	}
	return whatsappPrefix + number
}

// validVariables reports whether ContentVariables is a JSON object of
// strings, as Twilio requires.
func validVariables(v string) bool {
	var m map[string]string
	return json.Unmarshal([]byte(v), &m) == nil
}

// Variables decodes the message's ContentVariables ({"1": ..., ...}); nil
// when it has none.
func (m Message) Variables() map[string]string {
	if m.ContentVariables == "" {
		return nil
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(m.ContentVariables), &vars); err != nil {
		return nil
	}
	return vars
}

// Report posts the delivery outcome the fake decided for m to its status
// callback: "delivered", or the failure in m.Outcome and m.ErrorCode (63016
// for free text outside a WhatsApp window). It returns Tend's HTTP status.
func (s *Server) Report(m Message) (int, error) {
	if m.Outcome == "" {
		return s.Callback(m, "delivered", 0)
	}
	return s.Callback(m, m.Outcome, m.ErrorCode)
}

// WhatsAppForm is the form Twilio posts for a WhatsApp message a patient
// typed; from is their E.164 number.
func WhatsAppForm(from, body, messageSid string) url.Values {
	return url.Values{
		"MessageSid":    {messageSid},
		"SmsMessageSid": {messageSid},
		"SmsSid":        {messageSid},
		"From":          {waAddress(from)},
		"WaId":          {strings.TrimPrefix(from, "+")},
		"ProfileName":   {"Patient"},
		"Body":          {body},
		"MessageType":   {"text"},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
}

// WhatsAppButtonForm is the form Twilio posts when a patient presses a
// button: ButtonText is its title (also the Body), ButtonPayload its id.
func WhatsAppButtonForm(from, text, payload, messageSid string) url.Values {
	f := WhatsAppForm(from, text, messageSid)
	f.Set("MessageType", "button")
	f.Set("ButtonText", text)
	f.Set("ButtonPayload", payload)
	return f
}

// PostWhatsApp posts a signed WhatsApp webhook form to target, signing
// against signedURL as Twilio would, and opens the sender's window (the
// patient wrote, whatever Tend answers). The response body is read into
// memory, so closing it is optional. A transport error fails the test.
func (s *Server) PostWhatsApp(t testing.TB, target, signedURL string, form url.Values) *http.Response {
	t.Helper()
	if from := form.Get("From"); from != "" {
		s.OpenWindow(from)
	}
	req, err := SignedRequest(target, signedURL, s.AuthToken, form)
	if err != nil {
		t.Fatalf("smstest: whatsapp request: %v", err)
	}
	c := &http.Client{Timeout: 15 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("smstest: posting whatsapp message: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("smstest: reading webhook answer: %v", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}
