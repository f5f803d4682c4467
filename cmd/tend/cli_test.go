package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// tendRun runs the tend binary in a fresh folder with no TEND_, TWILIO_
// or TELEGRAM_ settings but extra, and returns its exit code, standard
// output and error, and the folder.
func tendRun(t *testing.T, extra []string, args ...string) (code int, stdout, stderr, dir string) {
	t.Helper()
	cmd := exec.Command(tendBin, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEND_") && !strings.HasPrefix(kv, "TWILIO_") && !strings.HasPrefix(kv, "TELEGRAM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String(), cmd.Dir
}

// Every command and subcommand answers --help and -h with its usage on
// standard output and exit code 0, and does nothing else: no key printed,
// no pack linted, no server started, no file written. The list is tend's
// own (commands), so a command added later is covered.
func TestHelp(t *testing.T) {
	t.Parallel()
	type call struct {
		args []string
		want string // stdout starts with it
	}
	var calls []call
	groups := map[string]bool{}
	for _, c := range commands {
		words := strings.Fields(c.name)
		for _, h := range []string{"--help", "-h"} {
			calls = append(calls, call{append(words[:len(words):len(words)], h), "usage: tend " + c.name + " "})
		}
		calls = append(calls, call{append([]string{"help"}, words...), "usage: tend " + c.name + " "})
		if len(words) == 2 && !groups[words[0]] {
			groups[words[0]] = true
			calls = append(calls, call{[]string{words[0], "--help"}, "usage: tend " + words[0] + " COMMAND"},
				call{[]string{"help", words[0]}, "usage: tend " + words[0] + " COMMAND"})
		}
	}
	top := "Tend: conversational care"
	calls = append(calls, call{[]string{"help"}, top}, call{[]string{"--help"}, top}, call{[]string{"-h"}, top},
		// --help wins wherever it is, and over the flags before it.
		call{[]string{"--addr", ":1", "--help"}, "usage: tend serve "},
		call{[]string{"staff", "add", "--email", "a@b.org", "-h"}, "usage: tend staff add "},
		call{[]string{"content", "lint", "/no/such/folder", "--help"}, "usage: tend content lint "})
	for _, c := range calls {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr, dir := tendRun(t, []string{"TWILIO_AUTH_TOKEN=do-not-print-me"}, c.args...)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, c.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and stdout starting %q", code, stdout, stderr, c.want)
			}
			for _, bad := range []string{"error(s)", "do-not-print-me", "==\n"} { // lint, a secret, a key line
				if strings.Contains(stdout, bad) {
					t.Errorf("stdout has %q:\n%s", bad, stdout)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("--help wrote %v", entries)
			}
		})
	}
	// The flags are listed for the commands that have them.
	for _, name := range []string{"serve", "keys rotate", "simulate", "sms send"} {
		_, stdout, _, _ := tendRun(t, nil, append(strings.Fields(name), "--help")...)
		if !strings.Contains(stdout, "\nflags:\n") {
			t.Errorf("tend %s --help lists no flags:\n%s", name, stdout)
		}
	}
}

// A command line tend does not understand exits 2 with the usage on
// standard error; a command that fails exits 1 and says why.
func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"bogus"}, 2, "unknown command \"bogus\""},
		{[]string{"bogus", "--help"}, 2, "usage: tend COMMAND"},
		{[]string{"staff"}, 2, "usage: tend staff COMMAND"},
		{[]string{"keys", "bogus"}, 2, "unknown command \"keys bogus\""},
		{[]string{"help", "bogus"}, 2, "no command \"bogus\""},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"keys", "generate"}, 2, "usage: tend keys generate ID"},
		{[]string{"content", "lint", "a", "b"}, 2, "one folder at most"},
		{[]string{"sms", "send", "--text", "hi"}, 2, "--to: the patient's number is required"},
		{[]string{"content", "lint", "/no/such/folder"}, 1, "/no/such/folder: no such folder"},
		{[]string{"simulate", "--content", "/no/such/pack"}, 1, "/no/such/pack: no such folder"},
		{[]string{"sms", "send", "--to", "+15551230001", "--text", "hi"}, 1, "TWILIO_AUTH_TOKEN is not set"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr, _ := tendRun(t, nil, tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, tc.code, tc.stderr)
			}
		})
	}
	// A missing file is not a folder either.
	f := t.TempDir() + "/pack.yaml"
	os.WriteFile(f, []byte("id: x\n"), 0o600)
	if code, _, stderr, _ := tendRun(t, nil, "content", "lint", f); code != 1 || !strings.Contains(stderr, "is a file") {
		t.Errorf("content lint FILE: exit %d, %q", code, stderr)
	}
}

// tend sms send posts an inbound SMS that a server with the same Twilio
// auth token accepts and runs (the patient's HELP is answered through
// Twilio); with another token the server's 403 is reported, exit 1.
func TestSMSSend(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	srv := startTend(t, "", t.TempDir(), fake)
	const phone = "+15551239201"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-sms", "phone": phone, "timezone": "America/Chicago",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)
	waitTo(t, fake, phone, 1) // the welcome

	code, stdout, stderr, _ := tendRun(t, []string{"TWILIO_AUTH_TOKEN=" + fake.AuthToken},
		"sms", "send", "--to", phone, "--text", "HELP", "--url", srv.URL)
	if code != 0 || !strings.HasPrefix(stdout, "accepted (200): SM") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := waitTo(t, fake, phone, 2); !strings.Contains(got[1].Body, "Reply STOP to stop") {
		t.Fatalf("the answer to HELP: %q", got[1].Body)
	}

	// The server's TEND_PUBLIC_URL from the environment is what is signed,
	// wherever the request goes: here the same, written differently.
	code, _, stderr, _ = tendRun(t, []string{"TWILIO_AUTH_TOKEN=" + fake.AuthToken, "TEND_PUBLIC_URL=" + srv.URL + "/"},
		"sms", "send", "--to", phone, "--text", "1", "--url", srv.URL)
	if code != 0 {
		t.Fatalf("with TEND_PUBLIC_URL: exit %d, %q", code, stderr)
	}

	for _, tc := range []struct{ name, token, public string }{
		{"wrong token", strings.Repeat("0", 32), ""},
		{"wrong public URL", fake.AuthToken, "https://tend.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"sms", "send", "--to", phone, "--text", "STOP", "--url", srv.URL}
			if tc.public != "" {
				args = append(args, "--public-url", tc.public)
			}
			code, stdout, stderr, _ := tendRun(t, []string{"TWILIO_AUTH_TOKEN=" + tc.token}, args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, "refused (403)") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	if n := countType(srv.timeline("p-sms"), "message.in"); n != 2 {
		t.Errorf("%d messages reached the patient's conversation, want 2 (HELP, 1)", n)
	}
}

// Under the dev phone quiet hours are off unless they were set.
func TestDevQuietHours(t *testing.T) {
	c := config{QuietHours: "08:00-21:00"}
	if !devQuietHours(&c, nil) || c.QuietHours != "off" {
		t.Errorf("not set: %q", c.QuietHours)
	}
	for _, args := range [][]string{{"--quiet-hours", "09:00-20:00"}, {"-quiet-hours=09:00-20:00"}} {
		c := config{QuietHours: "09:00-20:00"}
		if devQuietHours(&c, args) || c.QuietHours != "09:00-20:00" {
			t.Errorf("%q: %q", args, c.QuietHours)
		}
	}
	t.Setenv("TEND_QUIET_HOURS", "08:00-21:00")
	c = config{QuietHours: "08:00-21:00"}
	if devQuietHours(&c, nil) || c.QuietHours != "08:00-21:00" {
		t.Errorf("TEND_QUIET_HOURS set: %q", c.QuietHours)
	}
}
