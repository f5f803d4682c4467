package main

// Dead letters end to end: the real tend binary, the fake Twilio down for
// longer than a short retry window (TEND_RETRY_WINDOW=2s), the API and
// tend outbox on the command line.

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/redis/redistest"
)

// deadLetterJSON is an entry of GET /outbox.
type deadLetterJSON struct {
	ID, Patient, Channel, Status string
	LastError                    string `json:"last_error"`
	ErrorCode                    int    `json:"error_code"`
	Attempts                     int
}

// deadLetters lists GET /outbox?status=failed.
func (p *tendProcess) deadLetters() []deadLetterJSON {
	p.t.Helper()
	var out struct{ Messages []deadLetterJSON }
	p.api(http.MethodGet, "/outbox?status=failed", nil, http.StatusOK, &out)
	return out.Messages
}

// waitDeadLetters waits until n messages are dead letters.
func (p *tendProcess) waitDeadLetters(n int) []deadLetterJSON {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := p.deadLetters()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%d dead letters after 20 s, want %d\n%s", len(got), n, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metric returns the value of a /metrics line that starts with prefix.
func (p *tendProcess) metric(prefix string) string {
	p.t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.URL + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
			return v
		}
	}
	return ""
}

// tendCLI runs tend with args in env and returns its output and error.
func tendCLI(env []string, args ...string) (string, error) {
	cmd := exec.Command(tendBin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// eventOf returns the timeline event with id.
func eventOf(evs []store.Event, id string) store.Event {
	for _, ev := range evs {
		if ev.ID == id {
			return ev
		}
	}
	return store.Event{}
}

// countBy counts the fake's messages for each outbox id.
func countBy(ms []smstest.Message) map[string]int {
	n := map[string]int{}
	for _, m := range ms {
		n[m.CallbackParam("o")]++
	}
	return n
}

func TestDeadLettersEmbedded(t *testing.T) {
	t.Parallel()
	const phone = "+15551230077"
	fake := smstest.New(t)
	fake.FailTo(phone, smstest.ServerError)
	dir := t.TempDir()
	srv := startTend(t, "", dir, fake, "TEND_RETRY_WINDOW=2s")
	env := tendEnv(strings.TrimPrefix(srv.URL, "http://"), dir, fake)
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "dl-1", "phone": phone, "timezone": "UTC",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)

	// The welcome fails until its window ends: a dead letter, counted,
	// logged without the number, visible in the API, failed on the timeline.
	dead := srv.waitDeadLetters(1)
	welcome := dead[0]
	if welcome.Patient != "dl-1" || welcome.Channel != "sms" || welcome.LastError != "provider_error" || welcome.ErrorCode != 20500 || welcome.Attempts < 2 {
		t.Fatalf("dead letter %+v", welcome)
	}
	if ev := eventOf(srv.timeline("dl-1"), welcome.ID); ev.Status != "failed" || ev.Reason != "provider_error" {
		t.Fatalf("timeline event %+v, want failed, provider_error", ev)
	}
	if v := srv.metric(`tend_dead_letters_total{channel="sms",reason="provider_error"}`); v != "1" {
		t.Errorf("tend_dead_letters_total = %q, want 1", v)
	}
	logs := srv.out.String()
	if !strings.Contains(logs, "dead letter") || !strings.Contains(logs, welcome.ID) {
		t.Errorf("no dead-letter log line naming %s", welcome.ID)
	}
	if strings.Contains(logs, phone) || strings.Contains(logs, phone[1:]) {
		t.Error("the logs carry the patient's number")
	}

	// The embedded store has one owner: the command line says so.
	out, err := tendCLI(env, "outbox", "list")
	if err == nil || !strings.Contains(out, "locked by a running tend serve") {
		t.Fatalf("tend outbox list beside a running server: %v\n%s", err, out)
	}

	// Twilio back: a resend through the API delivers it once.
	fake.FailTo(phone, smstest.OK)
	srv.api(http.MethodPost, "/outbox/"+welcome.ID+"/resend", nil, http.StatusOK, nil)
	// Again: 409 while it waits to go, 404 once it went (a sent message
	// leaves the outbox); never a second copy.
	if status, body := srv.call(http.MethodPost, "/outbox/"+welcome.ID+"/resend", e2eToken, nil); status != http.StatusConflict && status != http.StatusNotFound {
		t.Fatalf("resend again: %d %s, want 409 or 404", status, body)
	}
	srv.api(http.MethodPost, "/outbox/nope/cancel", nil, http.StatusNotFound, nil)
	waitTo(t, fake, phone, 1)

	// Another patient's number is down: the welcome dies; with the server
	// stopped, tend outbox lists it and queues it again, and the next
	// start sends it once.
	const phone2 = "+15551230079"
	fake.FailTo(phone2, smstest.ServerError)
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "dl-1b", "phone": phone2, "timezone": "UTC",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)
	if len(srv.waitDeadLetters(1)) != 1 {
		t.Fatal("want one dead letter")
	}
	srv.stop()
	out, err = tendCLI(env, "outbox", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.Contains(lines[1], "dl-1b") || !strings.Contains(lines[1], "provider_error") {
		t.Fatalf("tend outbox list: %v\n%s", err, out)
	}
	if strings.Contains(out, phone2) || strings.Contains(out, "Welcome") {
		t.Errorf("tend outbox list shows the number:\n%s", out)
	}
	id := strings.Fields(lines[1])[0]
	if out, err := tendCLI(env, "outbox", "cancel", "nope"); err == nil || !strings.Contains(out, "no message nope") {
		t.Errorf("cancel of an unknown id: %v %s", err, out)
	}
	if out, err := tendCLI(env, "outbox", "resend", id); err != nil || !strings.Contains(out, "queued "+id) {
		t.Fatalf("tend outbox resend: %v\n%s", err, out)
	}
	if out, err := tendCLI(env, "outbox", "cancel", id); err == nil || !strings.Contains(out, "not failed") {
		t.Errorf("cancel of a queued message: %v %s", err, out)
	}
	if out, err := tendCLI(env, "outbox", "list"); err != nil || !strings.Contains(out, "no dead letters") {
		t.Errorf("list after the resend: %v %s", err, out)
	}
	fake.FailTo(phone2, smstest.OK)
	srv = startTend(t, strings.TrimPrefix(srv.URL, "http://"), dir, fake, "TEND_RETRY_WINDOW=2s")
	waitTo(t, fake, phone2, 1)
	srv.waitDrained(10 * time.Second)
	time.Sleep(1500 * time.Millisecond) // a dispatcher poll or more: nothing goes twice
	for _, to := range []string{phone, phone2} {
		for oid, n := range countBy(fake.MessagesTo(to)) {
			if n != 1 {
				t.Errorf("message %s sent %d times", oid, n)
			}
		}
	}
	if ev := eventOf(srv.timeline("dl-1b"), id); ev.Status == "failed" || ev.ProviderID == "" || ev.Reason != "" {
		t.Errorf("the resent welcome's event %+v, want it accepted by Twilio", ev)
	}

	// The audit log has who did what.
	var audit struct {
		Records []struct{ Staff, Action, Detail string }
	}
	srv.api(http.MethodGet, "/audit", nil, http.StatusOK, &audit)
	var acts []string
	for _, r := range audit.Records {
		if r.Action == "resend_message" || r.Action == "cancel_message" {
			acts = append(acts, r.Staff+" "+r.Action+" "+r.Detail)
		}
	}
	if want := fmt.Sprintf("[api resend_message %s cli resend_message %s]", welcome.ID, id); fmt.Sprint(acts) != want {
		t.Errorf("audit %v, want %s", acts, want)
	}
}

// On Redis, tend outbox works beside the running server, which sends what
// it queues again.
func TestDeadLettersRedis(t *testing.T) {
	t.Parallel()
	const phone = "+15551230078"
	fake := smstest.New(t)
	fake.FailTo(phone, smstest.ServerError)
	raddr := redistest.Start(t)
	dir := t.TempDir()
	extra := append(redisStoreEnv(raddr), "TEND_RETRY_WINDOW=2s")
	srv := startTend(t, "", dir, fake, extra...)
	env := tendEnv(strings.TrimPrefix(srv.URL, "http://"), dir, fake, extra...)
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "dl-2", "phone": phone, "timezone": "UTC",
		"programs": []string{"hypertension"}}, http.StatusCreated, nil)
	id := srv.waitDeadLetters(1)[0].ID

	out, err := tendCLI(env, "outbox", "list", "--limit", "1")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "more: tend outbox list --after "+id) {
		t.Fatalf("tend outbox list: %v\n%s", err, out)
	}
	fake.FailTo(phone, smstest.OK)
	if out, err := tendCLI(env, "outbox", "resend", id); err != nil {
		t.Fatalf("tend outbox resend: %v\n%s", err, out)
	}
	waitTo(t, fake, phone, 1)
	srv.waitDrained(10 * time.Second)
	if n := countBy(fake.MessagesTo(phone))[id]; n != 1 {
		t.Errorf("resent message sent %d times", n)
	}
	if got := srv.deadLetters(); len(got) != 0 {
		t.Errorf("dead letters after the resend: %+v", got)
	}
}

// A retry window that does not parse, or is out of range, stops start-up
// naming the variable.
func TestRetryWindowSetting(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	for _, v := range []string{"soon", "0", "-1h", "31d"} {
		out, err := tendCLI(tendEnv(freeAddr(t), t.TempDir(), fake, "TEND_RETRY_WINDOW="+v), "serve")
		if err == nil || !strings.Contains(out, "TEND_RETRY_WINDOW") {
			t.Errorf("TEND_RETRY_WINDOW=%s: %v\n%s", v, err, out)
		}
	}
}

// tend outbox refuses what it cannot do before it opens the store, and
// prints its usage for --help.
func TestOutboxUsage(t *testing.T) {
	t.Setenv("TEND_STORE", "embedded")
	t.Setenv("TEND_DATA_DIR", t.TempDir())
	var out bytes.Buffer
	for _, args := range [][]string{{}, {"resend"}, {"cancel"}, {"list", "x"}, {"purge"}, {"resend", "a", "b"}, {"list", "--limit", "0"}} {
		if err := outboxCmd(args, &out); err == nil {
			t.Errorf("tend outbox %v: no error", args)
		}
	}
	if err := outboxCmd([]string{"list", "--help"}, &out); err != nil || !strings.Contains(out.String(), "usage: tend outbox list") {
		t.Errorf("--help: %v %q", err, out.String())
	}
	out.Reset()
	if err := outboxCmd([]string{"list"}, &out); err != nil || !strings.Contains(out.String(), "no dead letters") {
		t.Errorf("list of an empty store: %v %q", err, out.String())
	}
	out.Reset()
	err := outboxCmd([]string{"resend", "nope", "--store", "embedded"}, &out)
	if err == nil || !strings.Contains(err.Error(), "no message nope") {
		t.Errorf("resend of an unknown id: %v", err)
	}
}
