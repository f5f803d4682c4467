package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/twilio"
)

const smsSendAbout = `Tests a real configuration without a phone: the server runs the text as if the patient
with that number had sent it (NUMBER is theirs, the webhook's From; the answer goes to
them through the server's provider, or to its dev phone). The request carries the
X-Twilio-Signature Twilio would compute, keyed with TWILIO_AUTH_TOKEN from the
environment (never a flag), over the URL the server checks: its TEND_PUBLIC_URL (from
the environment, or --public-url) followed by /webhooks/twilio/sms; without one, --url.
A 403 means the server's token or public URL is not these.`

// smsSendFlags are tend sms send's flags.
func smsSendFlags() (fs *flag.FlagSet, to, text, base, public *string) {
	fs = flag.NewFlagSet("sms send", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	to = fs.String("to", "", "the patient's number whose text it is (E.164, or a national number of +1)")
	text = fs.String("text", "", "what the patient writes")
	base = fs.String("url", "http://localhost:8080", "where the server listens")
	public = fs.String("public-url", env("TEND_PUBLIC_URL", ""), "the server's TEND_PUBLIC_URL, which the signature covers; --url when empty (TEND_PUBLIC_URL)")
	return fs, to, text, base, public
}

// smsSend posts one signed inbound SMS webhook, as Twilio would, and
// reports how the server took it.
func smsSend(args []string, stdout io.Writer) error {
	fs, to, text, base, public := smsSendFlags()
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("unexpected %q (quote a text with spaces)", strings.Join(fs.Args(), " "))
	case *to == "":
		return usageErrorf("--to: the patient's number is required")
	case *text == "":
		return usageErrorf("--text: the text is required")
	}
	token, err := secretEnv("TWILIO_AUTH_TOKEN", "")
	if err != nil {
		return err
	}
	if token == "" {
		return errors.New("TWILIO_AUTH_TOKEN is not set: the signature is keyed with the server's Twilio auth token")
	}
	phone, err := channels.E164(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	signedBase := *public
	if signedBase == "" {
		signedBase = *base
	}
	target := strings.TrimSuffix(*base, "/") + sms.InboundPath
	signed := strings.TrimSuffix(signedBase, "/") + sms.InboundPath
	sid := "SM" + randomHex(16)
	form := inboundForm(phone, *text, sid)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Signature(token, signed, form))
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", target, err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	switch {
	case res.StatusCode/100 == 2:
		_, err = fmt.Fprintf(stdout, "accepted (%d): %s from %s, signed for %s\n", res.StatusCode, sid, phone, signed)
		return err
	case res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("refused (403): the server did not accept the signature for %s: "+
			"TWILIO_AUTH_TOKEN is not the server's, or its TEND_PUBLIC_URL is not %s (set --public-url)", signed, signedBase)
	default:
		return fmt.Errorf("refused (%d): %s", res.StatusCode, strings.TrimSpace(string(body)))
	}
}

// inboundForm is the form Twilio posts for an inbound SMS.
func inboundForm(from, body, sid string) url.Values {
	f := url.Values{
		"MessageSid":    {sid},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"From":          {from},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
	if v := os.Getenv("TWILIO_ACCOUNT_SID"); v != "" {
		f.Set("AccountSid", v)
	}
	if v := os.Getenv("TEND_SMS_FROM"); v != "" && !strings.HasPrefix(v, "MG") {
		f.Set("To", v)
	}
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
