package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// envReader reads settings from the environment and keeps every value it
// could not use, so that tend serve stops once listing them all rather than
// run with a default the operator did not choose, or stop at the first of
// several mistakes.
type envReader struct {
	errs []error
}

// failf records a bad setting. The value is quoted so that stray spaces
// and newlines show; callers pass no secret as value.
func (r *envReader) failf(name, format string, a ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
}

// bad records the setting name whose value is wrong, and why.
func (r *envReader) bad(name, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

// check records err, when not nil, as is (it names its setting).
func (r *envReader) check(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// err is every bad setting, or nil.
func (r *envReader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return &configError{errs: r.errs}
}

// configError lists the bad settings, one a line. tend exits 1 with it,
// as with any command that fails; a command line it did not understand
// (a flag that does not exist) exits 2.
type configError struct{ errs []error }

func (e *configError) Error() string {
	if len(e.errs) == 1 {
		return "bad setting: " + e.errs[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad settings:", len(e.errs))
	for _, err := range e.errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *configError) Unwrap() []error { return e.errs }

// env is a string setting: the variable's value when set, else def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// int is an integer setting of at least min, read from name (empty or
// unset: def), which its flag may override; either is checked.
func (r *envReader) int(p *int, name string, def, min int) flag.Value {
	v := &intValue{p: p, min: min}
	*p = def
	if s := os.Getenv(name); s != "" {
		if err := v.Set(s); err != nil {
			r.bad(name, s, err.Error())
		}
	}
	return v
}

// float is int for a number with a fraction.
func (r *envReader) float(p *float64, name string, def, min float64) flag.Value {
	return r.floatValue(&floatValue{p: p, min: min}, name, def)
}

// rate is a number of sends per second: more than 0, as 0 would never send.
func (r *envReader) rate(p *float64, name string, def float64) flag.Value {
	return r.floatValue(&floatValue{p: p, above: true}, name, def)
}

func (r *envReader) floatValue(v *floatValue, name string, def float64) flag.Value {
	p := v.p
	*p = def
	if s := os.Getenv(name); s != "" {
		if err := v.Set(s); err != nil {
			r.bad(name, s, err.Error())
		}
	}
	return v
}

// bool is a true/false setting. Only true, false, 1, 0, yes, no, on and off
// are taken: TEND_REDIS_CLUSTER=ture is an error, not false.
func (r *envReader) bool(p *bool, name string, def bool) flag.Value {
	v := &boolValue{p: p}
	*p = def
	if s := os.Getenv(name); s != "" {
		if err := v.Set(s); err != nil {
			r.bad(name, s, err.Error())
		}
	}
	return v
}

type intValue struct {
	p   *int
	min int
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number")
	}
	if n < v.min {
		return fmt.Errorf("less than %d", v.min)
	}
	*v.p = n
	return nil
}

func (v *intValue) String() string {
	if v == nil || v.p == nil {
		return "0" // the zero value, which --help leaves out as the flag package does
	}
	return strconv.Itoa(*v.p)
}

type floatValue struct {
	p     *float64
	min   float64
	above bool // more than min, not min itself
}

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("not a number")
	}
	if f < v.min || v.above && f == v.min {
		if v.above {
			return fmt.Errorf("not more than %g", v.min)
		}
		return fmt.Errorf("less than %g", v.min)
	}
	*v.p = f
	return nil
}

func (v *floatValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

type boolValue struct{ p *bool }

func (v *boolValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		*v.p = true
	case "false", "0", "no", "off":
		*v.p = false
	default:
		return errors.New("not true or false")
	}
	return nil
}

func (v *boolValue) String() string {
	if v == nil || v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}

// IsBoolFlag lets --redis-cluster stand alone for --redis-cluster=true.
func (v *boolValue) IsBoolFlag() bool { return true }

// secretSettings are the settings that carry a secret. Each is read from
// its variable or from the file NAME_FILE names (a mounted secret), never
// from a flag: another user of the machine reads a command line in ps, and
// a shell keeps it in its history.
var secretSettings = []struct{ flag, env string }{
	{"api-token", "TEND_API_TOKEN"},
	{"twilio-auth-token", "TWILIO_AUTH_TOKEN"},
	{"telegram-bot-token", "TELEGRAM_BOT_TOKEN"},
	{"telegram-webhook-secret", "TEND_TELEGRAM_WEBHOOK_SECRET"},
}

// refuseSecretFlags stops a command line that carries a secret, pointing
// at the variable instead. It never repeats the value.
func refuseSecretFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		for _, s := range secretSettings {
			if name == s.flag {
				return fmt.Errorf("--%s is not taken: a secret on the command line shows in ps and in shell history; set %s, or %s_FILE to a file holding it", s.flag, s.env, s.env)
			}
		}
	}
	return nil
}

// secret reads the secret setting name: its variable, or the file that
// NAME_FILE names, less one trailing newline (what echo and editors add).
// Setting both is an error, as is a file that cannot be read.
func (r *envReader) secret(name, def string) string {
	v, err := secretEnv(name, def)
	r.check(err)
	return v
}

// secretEnv is secret for a command outside tend serve's settings.
func secretEnv(name, def string) (string, error) {
	v, set := os.LookupEnv(name)
	file := os.Getenv(name + "_FILE")
	switch {
	case file != "" && set && v != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: keep one", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	case set:
		return v, nil
	}
	return def, nil
}

var (
	twilioSID      = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	twilioToken    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	telegramToken  = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{30,60}$`)
	telegramSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// checkCredentials stops start-up on a credential the provider is sure to
// refuse, so that a pasted newline is one clear message instead of every
// message failing. Secrets' values are never repeated, only what is wrong.
func checkCredentials(r *envReader, c *config) {
	credential := func(name, value string, re *regexp.Regexp, want string, secret bool) {
		switch {
		case value == "" || re.MatchString(value):
		case strings.TrimSpace(value) != value:
			r.failf(name, "has a space or a newline around it (copied with the value?)")
		case secret:
			r.failf(name, "is not %s (it has %d characters)", want, len(value))
		default:
			r.bad(name, value, "not "+want)
		}
	}
	credential("TWILIO_ACCOUNT_SID", c.TwilioSID, twilioSID, "AC followed by 32 hexadecimal digits", false)
	credential("TWILIO_AUTH_TOKEN", c.TwilioToken, twilioToken, "32 hexadecimal digits, the auth token on the Twilio console", true)
	credential("TELEGRAM_BOT_TOKEN", c.TelegramToken, telegramToken, "a bot token from @BotFather (digits, a colon, about 35 letters, digits, _ and -)", true)
	credential("TEND_TELEGRAM_WEBHOOK_SECRET", c.TelegramSecret, telegramSecret, "1 to 256 of the characters Telegram allows: A-Z, a-z, 0-9, _ and -", true)
	if strings.TrimSpace(c.APIToken) != c.APIToken {
		r.failf("TEND_API_TOKEN", "has a space or a newline around it (copied with the value?)")
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		r.bad("TEND_PUBLIC_URL", c.PublicURL, "not an absolute http:// or https:// URL")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		r.bad("TEND_PUBLIC_URL", c.PublicURL, "has a query, a #fragment or a user: providers sign and call the URL as it is, so it must be a plain base URL")
	}
}
