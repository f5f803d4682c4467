package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// TestReadyzPausedChannel: when Twilio refuses tend's credentials at send
// time, /readyz still answers 200 (the instance serves the console and
// the other channels) and names the paused channel, the gauge
// tend_channel_paused says 1, and the log says why once, with no number.
func TestReadyzPausedChannel(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	fake.FailNext(smstest.Unauthenticated, 1000)
	srv := startTend(t, "", t.TempDir(), fake)
	const phone = "+15551239301"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-auth", "phone": phone, "timezone": "America/Chicago",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)

	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("/readyz %d %s", res.StatusCode, b)
		}
		if body = string(b); strings.Contains(body, "paused") {
			break
		}
	}
	if !strings.Contains(body, "paused, the provider refused our credentials: sms") {
		t.Fatalf("/readyz said %q", body)
	}
	if v := srv.metric(`tend_channel_paused{channel="sms"}`); v != "1" {
		t.Errorf("tend_channel_paused = %q, want 1", v)
	}
	if got := srv.metric(`tend_messages_out_total{channel="sms",status="failed"}`); got != "" {
		t.Errorf("messages failed: %s", got)
	}
	out := srv.out.String()
	if strings.Count(out, "channel paused") != 1 || strings.Contains(out, phone) {
		t.Errorf("log:\n%s", out)
	}
}
