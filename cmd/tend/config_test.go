package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// TestServeRefusesBadSettings sets one bad value at a time: the error
// names the variable and says what is wrong, where the old reader kept
// the default without a word. Then several at once: tend serve stops
// before opening anything, exit code 1, listing every one.
func TestServeRefusesBadSettings(t *testing.T) {
	t.Setenv("TEND_DATA_DIR", t.TempDir())
	for _, tc := range []struct{ name, value, want string }{
		{"TEND_SMS_RATE", "fast", `TEND_SMS_RATE="fast": not a number`},
		{"TEND_SMS_RATE", "0", `TEND_SMS_RATE="0": not more than 0`},
		{"TEND_TELEGRAM_RATE", "-3", `TEND_TELEGRAM_RATE="-3": not more than 0`},
		{"TEND_TELEGRAM_CHAT_RATE", "1/s", `TEND_TELEGRAM_CHAT_RATE="1/s": not a number`},
		{"TEND_TIMELINE_MAX", "1e3", `TEND_TIMELINE_MAX="1e3": not a whole number`},
		{"TEND_TIMELINE_MAX", "-2", `TEND_TIMELINE_MAX="-2": less than -1`},
		{"TEND_VOICE_MAX_CALLS", "0", `TEND_VOICE_MAX_CALLS="0": less than 1`},
		{"TEND_MAX_CONNS", "0", `TEND_MAX_CONNS="0": less than 1`},
		{"TEND_MAX_CONNS_PER_CLIENT", "-1", `TEND_MAX_CONNS_PER_CLIENT="-1": less than 0`},
		{"TEND_RATE_LIMIT", "-2", `TEND_RATE_LIMIT="-2": less than 0`},
		{"TEND_REDIS_CLUSTER", "ture", `TEND_REDIS_CLUSTER="ture": not true or false`},
		{"TEND_ALLOW_PLAINTEXT", "y", `TEND_ALLOW_PLAINTEXT="y": not true or false`},
		{"TEND_VOICE_SPEECH", "maybe", `TEND_VOICE_SPEECH="maybe": not true or false`},
		{"TEND_RETRY_WINDOW", "forever", `TEND_RETRY_WINDOW="forever"`},
		{"TEND_REOPEN_WITHIN", "-1h", `TEND_REOPEN_WITHIN="-1h"`},
		{"TEND_QUIET_HOURS", "9-5", `TEND_QUIET_HOURS`},
		{"TEND_TIMELINE_RETENTION", "a year", `TEND_TIMELINE_RETENTION="a year"`},
		{"TEND_STORE", "postgres", `TEND_STORE="postgres"`},
		{"TEND_DEV_PHONE", "maybe", `TEND_DEV_PHONE="maybe"`},
		{"TEND_REQUIRE_TOTP", "everyone", `TEND_REQUIRE_TOTP="everyone"`},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := parseConfig("serve", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %s", err, tc.want)
			}
		})
	}

	// Good values in the forms people write them still pass.
	for k, v := range map[string]string{"TEND_SMS_RATE": "2.5", "TEND_REDIS_CLUSTER": "off",
		"TEND_VOICE_SPEECH": "no", "TEND_TIMELINE_MAX": "-1", "TEND_MAX_CONNS_PER_CLIENT": "0"} {
		t.Setenv(k, v)
	}
	c, err := parseConfig("serve", nil)
	if err != nil || c.SMSRate != 2.5 || c.RedisCluster || c.VoiceSpeech || c.TimelineMax != -1 {
		t.Fatalf("good values: %+v, %v", c, err)
	}
	// A flag is held to the same rule as its variable.
	if _, err := parseConfig("serve", []string{"--sms-rate", "-1"}); err == nil {
		t.Error("--sms-rate -1 was taken")
	}

	t.Setenv("TEND_SMS_RATE", "fast")
	t.Setenv("TEND_REDIS_CLUSTER", "ture")
	t.Setenv("TEND_MAX_CONNS", "-5")
	var out, errOut bytes.Buffer
	if code := run([]string{"serve"}, stdio{out: &out, err: &errOut}); code != 1 {
		t.Errorf("exit code %d, want 1 (a configuration error)", code)
	}
	for _, name := range []string{"3 bad settings", "TEND_SMS_RATE", "TEND_REDIS_CLUSTER", "TEND_MAX_CONNS"} {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("stderr does not name %s:\n%s", name, errOut.String())
		}
	}
}

// TestCredentialChecks: a credential the provider is sure to refuse stops
// start-up naming its variable, and a secret's value is never repeated in
// the message; well-formed ones pass.
func TestCredentialChecks(t *testing.T) {
	t.Setenv("TEND_DATA_DIR", t.TempDir())
	const (
		sid   = "AC0123456789abcdef0123456789abcdef"
		token = "0123456789abcdef0123456789abcdef"
		bot   = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
	)
	for _, tc := range []struct{ name, value, want string }{
		{"TWILIO_ACCOUNT_SID", "AC123", `TWILIO_ACCOUNT_SID="AC123": not AC followed by 32 hexadecimal digits`},
		{"TWILIO_ACCOUNT_SID", "SK0123456789abcdef0123456789abcdef", `TWILIO_ACCOUNT_SID="SK`},
		{"TWILIO_ACCOUNT_SID", sid + "\n", "TWILIO_ACCOUNT_SID: has a space or a newline"},
		{"TWILIO_AUTH_TOKEN", token + "\n", "TWILIO_AUTH_TOKEN: has a space or a newline"},
		{"TWILIO_AUTH_TOKEN", " " + token, "TWILIO_AUTH_TOKEN: has a space or a newline"},
		{"TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdeg", "TWILIO_AUTH_TOKEN: is not 32 hexadecimal digits"},
		{"TWILIO_AUTH_TOKEN", token[:31], "TWILIO_AUTH_TOKEN: is not 32 hexadecimal digits"},
		{"TELEGRAM_BOT_TOKEN", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ", "TELEGRAM_BOT_TOKEN: is not a bot token"},
		{"TELEGRAM_BOT_TOKEN", bot + "\r\n", "TELEGRAM_BOT_TOKEN: has a space or a newline"},
		{"TEND_TELEGRAM_WEBHOOK_SECRET", "s3cret!", "TEND_TELEGRAM_WEBHOOK_SECRET: is not 1 to 256 of the characters Telegram allows"},
		{"TEND_TELEGRAM_WEBHOOK_SECRET", strings.Repeat("a", 257), "TEND_TELEGRAM_WEBHOOK_SECRET: is not 1 to 256"},
		{"TEND_API_TOKEN", "tok\n", "TEND_API_TOKEN: has a space or a newline"},
		{"TEND_PUBLIC_URL", "tend.example.org", `TEND_PUBLIC_URL="tend.example.org": not an absolute`},
		{"TEND_PUBLIC_URL", "ftp://tend.example.org", `TEND_PUBLIC_URL="ftp://tend.example.org": not an absolute`},
		{"TEND_PUBLIC_URL", "https://tend.example.org/?x=1", `TEND_PUBLIC_URL="https://tend.example.org/?x=1": has a query`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := parseConfig("serve", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q: got %v, want %s", tc.value, err, tc.want)
			}
			if secret := strings.Contains(tc.name, "TOKEN") || strings.Contains(tc.name, "SECRET"); secret && strings.Contains(err.Error(), strings.TrimSpace(tc.value)) {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
	for k, v := range map[string]string{"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "TELEGRAM_BOT_TOKEN": bot,
		"TEND_TELEGRAM_WEBHOOK_SECRET": "e2e-webhook-secret_1", "TEND_PUBLIC_URL": "https://tend.example.org/base/"} {
		t.Setenv(k, v)
	}
	if _, err := parseConfig("serve", nil); err != nil {
		t.Fatalf("good credentials refused: %v", err)
	}
}

// TestServeRefusesSecretFlags: a secret on the command line is refused,
// naming the variable and its _FILE, without repeating the value; a
// password in --redis-url too.
func TestServeRefusesSecretFlags(t *testing.T) {
	t.Setenv("TEND_DATA_DIR", t.TempDir())
	for _, args := range [][]string{
		{"--api-token", "hunter2-value"},
		{"-twilio-auth-token=hunter2-value"},
		{"--addr", ":0", "--telegram-bot-token", "hunter2-value"},
		{"--telegram-webhook-secret=hunter2-value"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"serve"}, args...), stdio{out: &out, err: &errOut})
		msg := errOut.String()
		if code != 2 || !strings.Contains(msg, "is not taken") || !strings.Contains(msg, "_FILE") || strings.Contains(msg+out.String(), "hunter2") {
			t.Errorf("%v: exit %d, %q", args, code, msg)
		}
	}
	_, err := parseConfig("serve", []string{"--redis-url", "redis://tend:hunter2@db:6379/0"})
	if err == nil || !strings.Contains(err.Error(), "TEND_REDIS_URL_FILE") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("--redis-url with a password: %v", err)
	}
	if _, err := parseConfig("serve", []string{"--redis-url", "redis://db:6379/0"}); err != nil {
		t.Errorf("--redis-url without a password: %v", err)
	}
	// --help lists no secret flag.
	var out bytes.Buffer
	run([]string{"serve", "--help"}, stdio{out: &out, err: &out})
	for _, s := range secretSettings {
		if strings.Contains(out.String(), "-"+s.flag+" ") {
			t.Errorf("--help lists -%s", s.flag)
		}
	}
}

// TestSecretFiles: every secret is read from NAME_FILE as well, less one
// trailing newline; both set, or a file missing, is an error naming it.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEND_DATA_DIR", dir)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("TWILIO_AUTH_TOKEN_FILE", write("twilio", "0123456789abcdef0123456789abcdef\n"))
	t.Setenv("TEND_API_TOKEN_FILE", write("api", "api-token-value\r\n"))
	t.Setenv("TELEGRAM_BOT_TOKEN_FILE", write("bot", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"))
	t.Setenv("TEND_TELEGRAM_WEBHOOK_SECRET_FILE", write("secret", "hook_secret-1\n"))
	t.Setenv("TEND_REDIS_URL_FILE", write("redis", "redis://tend:pw@db:6379/1\n"))
	c, err := parseConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TwilioToken != "0123456789abcdef0123456789abcdef" || c.APIToken != "api-token-value" ||
		c.TelegramToken != "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ" || c.TelegramSecret != "hook_secret-1" ||
		c.RedisURL != "redis://tend:pw@db:6379/1" {
		t.Errorf("read %+v", c)
	}
	// Only one newline goes: a second is the file's mistake, and is said.
	t.Setenv("TWILIO_AUTH_TOKEN_FILE", write("twilio2", "0123456789abcdef0123456789abcdef\n\n"))
	if _, err := parseConfig("serve", nil); err == nil || !strings.Contains(err.Error(), "TWILIO_AUTH_TOKEN: has a space or a newline") {
		t.Errorf("two newlines: %v", err)
	}
	t.Setenv("TWILIO_AUTH_TOKEN_FILE", filepath.Join(dir, "missing"))
	t.Setenv("TEND_API_TOKEN", "also-set")
	_, err = parseConfig("serve", nil)
	for _, want := range []string{"TWILIO_AUTH_TOKEN_FILE: open", "TEND_API_TOKEN and TEND_API_TOKEN_FILE are both set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
}

// TestGeneratedTokenNotPrinted starts tend serve with no API token: it
// makes one in the data dir, prints and logs the file's path, never the
// token, and the API takes the token from the file.
func TestGeneratedTokenNotPrinted(t *testing.T) {
	dir := t.TempDir()
	p := startTend(t, "", dir, smstest.New(t), "TEND_API_TOKEN=")
	path := filepath.Join(dir, "api-token")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		t.Fatalf("token %d characters", len(tok))
	}
	if code, _ := p.call(http.MethodGet, "/escalations", tok, nil); code != http.StatusOK {
		t.Errorf("the API with the file's token: %d", code)
	}
	out := p.out.String()
	if strings.Contains(out, tok) {
		t.Errorf("the token was printed:\n%s", out)
	}
	if !strings.Contains(out, path) {
		t.Errorf("the token file's path was not printed:\n%s", out)
	}
}
