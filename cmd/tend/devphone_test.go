package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/console/browsertest"
)

// noProvider empties the provider settings tendEnv gives: a first
// `make run`.
var noProvider = []string{"TWILIO_ACCOUNT_SID=", "TWILIO_AUTH_TOKEN=", "TEND_SMS_FROM=", "TEND_TWILIO_API_URL="}

// TestDevPhoneOn is the decision table: on with no provider on this
// machine, off with any provider or when turned off, and a start-up error
// naming the setting anywhere else.
func TestDevPhoneOn(t *testing.T) {
	t.Parallel()
	local := "http://localhost:8080"
	twilio := config{TwilioSID: "AC1", TwilioToken: "tok", SMSFrom: "+15550000000"}
	with := func(c config, f func(*config)) config { f(&c); return c }
	for _, tc := range []struct {
		name    string
		c       config
		on      bool
		problem string // in the error; "" for none
	}{
		{"no provider", config{PublicURL: local}, true, ""},
		{"no provider, 127.0.0.1", config{PublicURL: "http://127.0.0.1:9000/"}, true, ""},
		{"no provider, ::1", config{PublicURL: "http://[::1]:8080"}, true, ""},
		{"no provider, LOCALHOST", config{PublicURL: "http://LOCALHOST:8080"}, true, ""},
		{"Twilio SMS", with(twilio, func(c *config) { c.PublicURL = local }), false, ""},
		{"Twilio SMS, public", with(twilio, func(c *config) { c.PublicURL = "https://tend.example.org" }), false, ""},
		{"Telegram only", config{PublicURL: "https://tend.example.org", TelegramToken: "1:x"}, false, ""},
		{"Twilio WhatsApp only", config{PublicURL: local, TwilioSID: "AC1", TwilioToken: "tok", WhatsAppFrom: "+15550000001"}, false, ""},
		{"Twilio token only", config{PublicURL: local, TwilioToken: "tok"}, true, ""},
		{"on with Twilio", with(twilio, func(c *config) { c.PublicURL = local; c.DevPhone = "on" }), true, ""},
		{"off", config{PublicURL: local, DevPhone: "off"}, false, ""},
		{"off, public", config{PublicURL: "https://tend.example.org", DevPhone: "OFF"}, false, ""},
		{"no provider, public", config{PublicURL: "https://tend.example.org"}, false, "TEND_PUBLIC_URL"},
		{"no provider, 127.0.0.2", config{PublicURL: "http://127.0.0.2:8080"}, false, "TEND_PUBLIC_URL"},
		{"no provider, a LAN address", config{PublicURL: "http://192.168.1.20:8080"}, false, "TEND_DEV_PHONE=off"},
		{"on, public", with(twilio, func(c *config) { c.PublicURL = "https://tend.example.org"; c.DevPhone = "on" }), false, "TEND_DEV_PHONE=on"},
		{"not a mode", config{PublicURL: local, DevPhone: "yes"}, false, "TEND_DEV_PHONE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, err := devPhoneOn(tc.c)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want one naming %s", err, tc.problem)
				}
				return
			}
			if err != nil || on != tc.on {
				t.Fatalf("devPhoneOn = %v, %v; want %v", on, err, tc.on)
			}
		})
	}
}

// A newcomer's first run, in a real browser against the real binary with
// no provider configured: the enrollment's welcome appears on /dev/phone;
// HUMAN typed on the page as the patient opens a ticket and the engine's
// answer appears; a reminder started through the API is answered "1" and
// thanked. Every message is delivered; the log says "would send" and
// carries no number and no text; nothing reaches Twilio.
func TestDevPhoneEndToEnd(t *testing.T) {
	t.Parallel()
	exe := browsertest.Chromium(t)
	fake := smstest.New(t) // configured nowhere: it must hear nothing
	srv := startTend(t, "", t.TempDir(), fake, noProvider...)
	if !strings.Contains(srv.out.String(), "no text provider is configured: the dev phone at "+srv.URL+"/dev/phone") {
		t.Fatalf("start-up does not say where the dev phone is:\n%s", srv.out.String())
	}
	const phone = "+15551239101"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-dev", "phone": phone, "timezone": "America/Chicago",
		"programs":    []string{"hypertension"},
		"medications": []map[string]any{{"id": "lisinopril", "display": "lisinopril 10 mg", "times": []string{"08:00"}}}},
		http.StatusCreated, nil)

	ctx := browsertest.New(t, exe)
	// answer types text as the patient, from the conversation's Answer.
	answer := func(text string) {
		t.Helper()
		browsertest.Do(t, ctx,
			chromedp.Click(`//article[@data-address="`+phone+`"]//button[@data-answer]`),
			chromedp.SendKeys(chromedp.CSS(`input[name=text]`), text),
			chromedp.Click(`//button[text()="Send as the patient"]`))
	}
	browsertest.Do(t, ctx,
		chromedp.Navigate(srv.URL+"/dev/phone"),
		chromedp.WaitVisible(`//article[@data-address="`+phone+`"]//li[contains(@class, "out")]/p[starts-with(., "Welcome to")]`))
	answer("HUMAN")
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(`//li[contains(@class, "in")]/p[text()="HUMAN"]`),
		chromedp.WaitVisible(`//li[contains(@class, "out")]/p[contains(., "Someone from your care team will contact you")]`))
	if got := browsertest.Value(t, ctx, `input[name=text]`); got != "" {
		t.Errorf("the text field keeps %q after sending", got)
	}

	srv.api(http.MethodPost, "/flow-starts", map[string]any{"flow": "med-reminder", "patients": []string{"p-dev"},
		"params": map[string]string{"medication": "lisinopril"}}, http.StatusAccepted, nil)
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(`//li[contains(@class, "out")]/p[contains(., "Did you take it?") and contains(., "1 Yes, I took it")]`))
	answer("1")
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(`//li[contains(@class, "out")]/p[starts-with(., "Great, thank you!")]`))
	browsertest.Screenshot(t, ctx, "dev-phone.png")

	evs := srv.timeline("p-dev")
	var out, in []string
	for _, ev := range evs {
		switch ev.Type {
		case "message.out":
			out = append(out, ev.Status)
		case "message.in":
			in = append(in, ev.Text)
		}
	}
	if strings.Join(in, ",") != "HUMAN,1" || len(out) != 4 || strings.Count(strings.Join(out, ","), "delivered") != 4 {
		t.Errorf("timeline: in %q, out statuses %q", in, out)
	}
	if countType(evs, "escalation") != 1 || countType(evs, "adherence") != 1 {
		t.Errorf("timeline: %d escalations, %d adherence events; want 1 and 1", countType(evs, "escalation"), countType(evs, "adherence"))
	}
	logs := srv.out.String()
	if n := strings.Count(logs, `"msg":"dev phone: would send"`); n != 4 {
		t.Errorf("%d would-send lines, want 4:\n%s", n, logs)
	}
	for _, secret := range []string{phone, "5551239101", "Welcome to", "Did you take it", "Great, thank you", "HUMAN"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log carries %q", secret)
		}
	}
	if n := len(fake.Attempts()); n != 0 {
		t.Errorf("%d requests reached Twilio", n)
	}
}

// The dev phone never starts by accident where others reach the server:
// with a public URL on another host start-up stops, naming the setting.
func TestDevPhoneRefused(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	for _, tc := range []struct {
		name  string
		env   []string
		wants []string
	}{
		{"no provider, public URL", append(noProvider[:len(noProvider):len(noProvider)], "TEND_PUBLIC_URL=https://tend.example.org"),
			[]string{"TEND_PUBLIC_URL", "https://tend.example.org", "TWILIO_ACCOUNT_SID", "TEND_DEV_PHONE=off"}},
		{"forced on, public URL", []string{"TEND_DEV_PHONE=on", "TEND_PUBLIC_URL=http://10.1.2.3:8080"},
			[]string{"TEND_PUBLIC_URL", "TEND_DEV_PHONE=on"}},
		{"not a mode", []string{"TEND_DEV_PHONE=maybe"}, []string{`TEND_DEV_PHONE="maybe"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, tendBin, "serve")
			cmd.Env = tendEnv(freeAddr(t), t.TempDir(), fake, tc.env...)
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("tend serve started:\n%s", out)
			}
			if err == nil {
				t.Fatalf("tend serve exited 0:\n%s", out)
			}
			for _, w := range tc.wants {
				if !strings.Contains(string(out), w) {
					t.Errorf("the error does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

// The page is served only when the dev phone is on: not with a provider,
// not when turned off.
func TestDevPhoneOff(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"Twilio configured", nil},
		{"turned off", append(noProvider[:len(noProvider):len(noProvider)], "TEND_DEV_PHONE=off", "TEND_PUBLIC_URL=https://tend.example.org")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startTend(t, "", t.TempDir(), fake, tc.env...)
			res, err := http.Get(srv.URL + "/dev/phone")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET /dev/phone: %d, want 404", res.StatusCode)
			}
			if strings.Contains(srv.out.String(), "dev phone") {
				t.Errorf("the log mentions the dev phone:\n%s", srv.out.String())
			}
		})
	}
}
