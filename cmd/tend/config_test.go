package main

import (
	"bytes"
	"strings"
	"testing"
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
