package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/devphone"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/conversations/runner"
)

// smsProvider reports whether SMS has a real provider: Twilio's account,
// token and a sender.
func smsProvider(c config) bool {
	return c.TwilioSID != "" && c.TwilioToken != "" && c.SMSFrom != ""
}

// anyProvider reports whether any channel has a real provider.
func anyProvider(c config) bool {
	twilio := c.TwilioSID != "" && c.TwilioToken != ""
	return smsProvider(c) || (twilio && (c.WhatsAppFrom != "" || c.VoiceFrom != "")) || c.TelegramToken != ""
}

// localHosts are the hosts of a TEND_PUBLIC_URL the dev phone runs under.
var localHosts = []string{"localhost", "127.0.0.1", "::1"}

func localURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && slices.Contains(localHosts, strings.ToLower(u.Hostname()))
}

// devPhoneOn decides whether serve runs the dev phone: with
// TEND_DEV_PHONE=auto (the default) when no channel has a provider, with
// on always, with off never. It refuses a public URL on another host: the
// page shows patients' texts without a sign-in, so a server that others
// reach must never run it by accident (a production server whose
// provider settings went missing stops here instead).
func devPhoneOn(c config) (bool, error) {
	mode := strings.ToLower(strings.TrimSpace(c.DevPhone))
	why := ""
	switch mode {
	case "off":
		return false, nil
	case "", "auto":
		if anyProvider(c) {
			return false, nil
		}
		why = "no provider is configured"
	case "on":
		why = "TEND_DEV_PHONE=on"
	default:
		return false, fmt.Errorf("TEND_DEV_PHONE: %q is not auto, on or off", c.DevPhone)
	}
	if !localURL(c.PublicURL) {
		return false, fmt.Errorf("TEND_PUBLIC_URL: %s is not this machine (%s), and the dev phone is on (%s): "+
			"it shows patients' texts to anyone, without a sign-in, so it runs on localhost only. "+
			"Configure a provider (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TEND_SMS_FROM) or set TEND_DEV_PHONE=off",
			c.PublicURL, strings.Join(localHosts, ", "), why)
	}
	return true, nil
}

// devQuietHours turns quiet hours off under the dev phone unless they were
// set (TEND_QUIET_HOURS or --quiet-hours): a newcomer trying Tend at
// night would otherwise see nothing until 08:00.
func devQuietHours(c *config, args []string) bool {
	if _, set := os.LookupEnv("TEND_QUIET_HOURS"); set {
		return false
	}
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); name == "quiet-hours" && strings.HasPrefix(a, "-") {
			return false
		}
	}
	c.QuietHours = "off"
	return true
}

// mountDevPhone gives the dev phone the SMS channel when it has no
// provider (WhatsApp, Telegram and voice run only when configured, so
// they never need it) and serves its page. Answers typed on the page go
// through the SMS adapter's Receive, counted like real texts.
func mountDevPhone(c config, r chi.Router, disp *channels.Dispatcher, rn *runner.Runner, m *metrics, log *slog.Logger) *devphone.Phone {
	hooks := &sms.Webhooks{Turns: rn, Log: log,
		Observe: func(outcome string) { m.received.WithLabelValues(sms.Channel, outcome).Inc() }}
	phone := &devphone.Phone{Inbound: hooks, Receipts: rn, Clock: rn.Clock, Log: log, Enroll: enrollHint(c)}
	if !smsProvider(c) {
		disp.Senders[sms.Channel] = phone
	}
	h := phone.Handler()
	r.Handle(devphone.Path, h)
	r.Handle(devphone.Path+"/*", h)
	return phone
}

// announceDevPhone says where the dev phone is, on stderr for the person
// who ran make run and in the log.
func announceDevPhone(c config, log *slog.Logger, quietOff bool) {
	page := strings.TrimSuffix(c.PublicURL, "/") + devphone.Path
	if smsProvider(c) {
		log.Info("dev phone on: every text channel has a provider; the page only takes answers typed as a patient", "page", page)
		return
	}
	fmt.Fprintf(os.Stderr, "tend: no text provider is configured: the dev phone at %s shows what Tend sends and answers as the patient (TEND_DEV_PHONE=off turns it off)\n", page)
	log.Info("dev phone on: SMS goes to the page instead of a provider", "page", page, "quiet_hours_off", quietOff)
}

// enrollHint is the one command the dev phone's empty page suggests.
func enrollHint(c config) string {
	token := "$(cat " + filepath.Join(c.DataDir, "api-token") + ")"
	if c.APIToken != "" {
		token = "$TEND_API_TOKEN"
	}
	return fmt.Sprintf(`curl -s -H "Authorization: Bearer %s" %s/api/v1/patients -d '{"id":"p-1","phone":"+15551230001","timezone":"America/Chicago","programs":["hypertension"],"medications":[{"id":"lisinopril","display":"lisinopril 10 mg","times":["08:00"]}]}'`,
		token, strings.TrimSuffix(c.PublicURL, "/"))
}
