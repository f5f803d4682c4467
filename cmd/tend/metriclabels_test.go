package main

import (
	"net/http"
	"testing"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// TestUnknownStatusCountedAsOther: a status callback (correctly signed,
// as from Twilio) with a status and an error code Tend does not know is
// counted under "other", so no caller can mint new label values.
func TestUnknownStatusCountedAsOther(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	srv := startTend(t, "", t.TempDir(), fake)
	const phone = "+15551239401"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-lbl", "phone": phone, "timezone": "America/Chicago",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)
	waitTo(t, fake, phone, 1)
	msg := fake.Messages()[0]
	if code, err := fake.Callback(msg, "exploded-by-a-new-api", 99999); err != nil || code/100 != 2 {
		t.Fatalf("callback: %d %v", code, err)
	}
	if code, err := fake.Callback(msg, "delivered", 0); err != nil || code/100 != 2 {
		t.Fatalf("callback: %d %v", code, err)
	}
	for metric, want := range map[string]string{
		`tend_message_status_total{channel="sms",status="other"}`:                 "1",
		`tend_provider_errors_total{channel="sms",code="other"}`:                  "1",
		`tend_message_status_total{channel="sms",status="delivered"}`:             "1",
		`tend_message_status_total{channel="sms",status="exploded-by-a-new-api"}`: "",
	} {
		if got := srv.metric(metric); got != want {
			t.Errorf("%s = %q, want %q", metric, got, want)
		}
	}
}
