package twilio

import (
	"net/url"
	"strings"
	"testing"
)

// The vectors are the official ones of Twilio's validators: twilio-python
// (tests/unit/test_request_validator.py), twilio-go
// (client/request_validator_test.go) and twilio-node
// (spec/unit/webhooks/webhooks.spec.js).
const (
	token   = "12345"
	testURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

var pythonParams = url.Values{"CallSid": {"CA1234567890ABCDE"}, "Digits": {"1234"}, "From": {"+14158675309"},
	"To": {"+18005551212"}, "Caller": {"+14158675309"}}

var goParams = url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
	"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"}}

func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, url, sig string
		form           url.Values
		valid          bool
	}{
		{"python: signature", testURL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", pythonParams, true},
		{"python: a field sent twice, all values sorted", testURL, "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
			url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"}}, true},
		{"python: https port on the request, none signed", strings.Replace(testURL, ".com", ".com:1234", 1), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", pythonParams, true},
		{"python: http with a port, signed with it", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", pythonParams, true},
		{"python: signed with port 443, none on the request", testURL, "kvajT1Ptam85bY51eRf/AJRuM3w=", pythonParams, true},
		{"python: signed with port 80, none on the request", "http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4=", pythonParams, true},
		{"go: signature", testURL, "vOEb5UThFn24KEfnOFLQY2AE5FY=", goParams, true},
		{"go: wrong signature", testURL, "WRONG SIGNATURE", goParams, false},
		{"go: https port on the request, none signed", strings.Replace(testURL, ".com", ".com:1234", 1), "vOEb5UThFn24KEfnOFLQY2AE5FY=", goParams, true},
		{"go: http, no port", "http://mycompany.com/myapp.php?foo=1&bar=2", "n2xBNyzSW7rfYStDtOFiFMv7qNo=", goParams, true},
		{"go: http port on the request, none signed", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", "n2xBNyzSW7rfYStDtOFiFMv7qNo=", goParams, true},
		{"go: fields sorted wrong (ReasonConferenceEnded before Reason)", testURL, "95+Bu0JVPi0r/SsESZCVf0dWAjw=", goParams, false},
		{"go: no fields", "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", "y77kIzt2vzLz71DgmJGsen2scGs=", nil, true},
		{"empty signature", testURL, "", pythonParams, false},
	} {
		if got := ValidSignature(token, c.sig, c.url, c.form); got != c.valid {
			t.Errorf("%s: valid %v, want %v", c.name, got, c.valid)
		}
	}
	if got := Signature(token, testURL, pythonParams); got != "RSOYDt4T1cUTdK1PDd93/VVr8B8=" {
		t.Errorf("Signature %q", got)
	}
	if ValidSignature("", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", testURL, pythonParams) {
		t.Error("valid with an empty token")
	}
}

// TestSignedElsewhere: twilio-node's cases, where the URL Twilio signed and
// the one the request arrived on differ only in the default port or in
// how a quote in the query is escaped.
func TestSignedElsewhere(t *testing.T) {
	t.Parallel()
	const authToken = "s3cr3t"
	for _, c := range []struct {
		signed, arrived string
		valid           bool
	}{
		{"https://example.com/path?test=param", "https://example.com/path?test=param2", false},
		{"https://example.com:443/path?test=param", "https://example.com:443/path?test=param", true},
		{"https://example.com:443/path?test=param", "https://example.com/path?test=param", true},
		{"https://example.com/path?test=param", "https://example.com/path?test=param", true},
		{"https://example.com/path?test=param", "https://example.com:443/path?test=param", true},
		{"https://example.com/path?test=param'WithQuote", "https://example.com/path?test=param'WithQuote", true},
		{"https://example.com/path?test=param'WithQuote", "https://example.com/path?test=param%27WithQuote", true},
		{"https://example.com/path?test=param%27WithQuote", "https://example.com/path?test=param'WithQuote", true},
		{"https://example.com/path?test=param%27WithQuote", "https://example.com/path?test=param%27WithQuote", true},
		// Tend's own: user info and IPv6 hosts keep their bytes.
		{"https://u:p@example.com/path?x=1", "https://u:p@example.com:443/path?x=1", true},
		{"http://[::1]:80/path", "http://[::1]/path", true},
		{"https://example.com/a(b)*!~?q=(x)", "https://example.com/a(b)*!~?q=%28x%29", true},
	} {
		sig := Signature(authToken, c.signed, url.Values{"From": {"+15550001111"}})
		if got := ValidSignature(authToken, sig, c.arrived, url.Values{"From": {"+15550001111"}}); got != c.valid {
			t.Errorf("signed %s, arrived %s: valid %v, want %v", c.signed, c.arrived, got, c.valid)
		}
	}
}
