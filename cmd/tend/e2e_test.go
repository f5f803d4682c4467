package main

// End-to-end tests: the real tend binary as a subprocess on a loopback port,
// its embedded store in a temporary directory, and a fake Twilio
// (channels/sms/smstest) behind the real twilio-go client. Nothing of Tend
// is mocked.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/seal"
)

// tendBin is the binary TestMain builds once.
var tendBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "tend-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	tendBin = filepath.Join(dir, "tend")
	build := exec.Command("go", "build", "-race", "-o", tendBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building tend:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const e2eToken = "test-token"

// tailBuffer keeps the last part of a process's output, for failure reports.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 64<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tendProcess is one running `tend serve`.
type tendProcess struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string // also its TEND_PUBLIC_URL
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, once done is closed
}

// tendEnv is the environment of a `tend serve` on addr with data in dir,
// talking to the fake Twilio.
func tendEnv(addr, dir string, fake *smstest.Server, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEND_") && !strings.HasPrefix(kv, "TWILIO_") && !strings.HasPrefix(kv, "TELEGRAM_") {
			env = append(env, kv)
		}
	}
	return append(append(env,
		"TEND_ADDR="+addr,
		"TEND_DATA_DIR="+dir,
		"TEND_PUBLIC_URL=http://"+addr,
		"TEND_API_TOKEN="+e2eToken,
		"TWILIO_ACCOUNT_SID="+fake.AccountSID,
		"TWILIO_AUTH_TOKEN="+fake.AuthToken,
		"TEND_SMS_FROM=+15550000000",
		"TEND_TWILIO_API_URL="+fake.URL,
		"TEND_QUIET_HOURS=off",
		"TEND_SMS_RATE=100000", // the fake takes what tests send at once
	), extra...)
}

// freeAddr returns a loopback address with a port nobody listens on now.
// startTimeout is how long tryStartTend waits for /readyz.
const startTimeout = 60 * time.Second

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startTend starts `tend serve` on addr (a free port when empty) and waits
// until /readyz answers. The process is stopped when the test ends.
func startTend(t *testing.T, addr, dir string, fake *smstest.Server, extra ...string) *tendProcess {
	t.Helper()
	fresh := addr == ""
	for try := 0; ; try++ {
		if fresh {
			addr = freeAddr(t)
		}
		p, err := tryStartTend(t, addr, dir, fake, extra...)
		if err == nil {
			return p
		}
		// Another process may have taken a port picked as free.
		if !fresh || try == 2 || !strings.Contains(p.out.String(), "address already in use") {
			t.Fatalf("tend serve did not become ready: %v\n%s", err, p.out.String())
		}
	}
}

func tryStartTend(t *testing.T, addr, dir string, fake *smstest.Server, extra ...string) (*tendProcess, error) {
	p := &tendProcess{t: t, URL: "http://" + addr, out: &tailBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(tendBin, "serve")
	p.cmd.Env = tendEnv(addr, dir, fake, extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	c := &http.Client{Timeout: time.Second}
	// Start-up loads and lints the bundled pack of thirteen languages and
	// compiles their lexicons: 0.45 s alone, but the race-built binary next
	// to every other package's tests has taken over 15 s.
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return p, fmt.Errorf("exited: %v", p.err)
		default:
		}
		if res, err := c.Get(p.URL + "/readyz"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Kill()
	<-p.done
	return p, fmt.Errorf("no ready answer within %v", startTimeout)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *tendProcess) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop asks for a graceful shutdown and fails the test unless the process
// exits cleanly within 10 s.
func (p *tendProcess) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("tend serve exited with %v after SIGTERM\n%s", p.err, p.out.String())
		}
	case <-time.After(10 * time.Second):
		p.kill()
		p.t.Errorf("tend serve did not stop within 10 s of SIGTERM\n%s", p.out.String())
	}
}

// call makes an API request and returns the status and the body. body is
// JSON-encoded unless it is a string, sent as is.
func (p *tendProcess) call(method, path, token string, body any) (int, []byte) {
	p.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.URL+"/api/v1"+path, r)
	if err != nil {
		p.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return res.StatusCode, data
}

// api is call with the right token, failing the test on another status.
func (p *tendProcess) api(method, path string, body any, want int, out any) {
	p.t.Helper()
	status, data := p.call(method, path, e2eToken, body)
	if status != want {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

func (p *tendProcess) timeline(id string) []store.Event {
	p.t.Helper()
	var tl struct{ Events []store.Event }
	p.api(http.MethodGet, "/patients/"+id+"/timeline", nil, http.StatusOK, &tl)
	return tl.Events
}

// outboxDepth reads tend_outbox_depth from /metrics.
func (p *tendProcess) outboxDepth() int {
	p.t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.URL + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tend_outbox_depth "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				p.t.Fatalf("tend_outbox_depth %q", v)
			}
			return int(n)
		}
	}
	p.t.Fatal("no tend_outbox_depth in /metrics")
	return 0
}

// waitDrained waits until the outbox is empty.
func (p *tendProcess) waitDrained(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.outboxDepth() != 0 {
		if time.Now().After(deadline) {
			p.t.Fatalf("outbox not empty after %v\n%s", timeout, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sid() string {
	var b [16]byte
	rand.Read(b[:])
	return "SM" + hex.EncodeToString(b[:])
}

func countType(evs []store.Event, typ string) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// waitTo waits until the fake got n messages for a number and returns them.
func waitTo(t *testing.T, fake *smstest.Server, to string, n int) []smstest.Message {
	t.Helper()
	got := fake.WaitUntil(10*time.Second, func(ms []smstest.Message) bool { return len(filterTo(ms, to)) >= n })
	mine := filterTo(got, to)
	if len(mine) < n {
		t.Fatalf("%s got %d messages, want %d: %+v", to, len(mine), n, mine)
	}
	return mine
}

func filterTo(ms []smstest.Message, to string) []smstest.Message {
	var out []smstest.Message
	for _, m := range ms {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	srv := startTend(t, "", t.TempDir(), fake)
	const phone = "+15551230001"
	inbound := func(body, messageSid string) {
		t.Helper()
		res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, phone, body, messageSid)
		if res.StatusCode/100 != 2 {
			t.Fatalf("inbound %q: status %d", body, res.StatusCode)
		}
	}

	// Enrollment: 201, then 200 for the same patient; one welcome, in Spanish.
	enroll := `{"id":"p-1001","phone":"+15551230001","language":"es","timezone":"America/Chicago","channel":"sms",` +
		`"programs":["hypertension"],"phi_ok":false,"medications":[{"id":"lisinopril","display":"lisinopril 10 mg","times":["08:00"]}]}`
	var p store.Patient
	srv.api(http.MethodPost, "/patients", enroll, http.StatusCreated, &p)
	if p.ID != "p-1001" || p.Phone != phone || p.Language != "es" || p.EnrolledAt.IsZero() {
		t.Fatalf("enrolled %+v", p)
	}
	srv.api(http.MethodPost, "/patients", enroll, http.StatusOK, &p)
	var p2 store.Patient
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-1002", "phone": "(555) 123-0002",
		"timezone": "America/New_York", "programs": []string{"hypertension"}}, http.StatusCreated, &p2)
	if p2.Phone != "+15551230002" || p2.Language != "en" || p2.Channel != "sms" {
		t.Fatalf("enrollment not normalized: %+v", p2)
	}
	var got store.Patient
	srv.api(http.MethodGet, "/patients/p-1001", nil, http.StatusOK, &got)
	if got.Phone != phone || len(got.Medications) != 1 || got.PHIOK {
		t.Fatalf("GET patient %+v", got)
	}

	welcome := waitTo(t, fake, phone, 1)[0]
	if !strings.Contains(welcome.Body, "bienvenida") || welcome.From != "+15550000000" {
		t.Fatalf("welcome %+v, want Spanish", welcome)
	}
	if w := waitTo(t, fake, "+15551230002", 1)[0]; !strings.Contains(w.Body, "Welcome") {
		t.Fatalf("welcome for p-1002 %q, want English", w.Body)
	}

	// A reminder, without the drug's name (phi_ok false).
	srv.api(http.MethodPost, "/flow-starts", `{"flow":"med-reminder","patients":["p-1001"],"params":{"medication":"lisinopril"}}`,
		http.StatusAccepted, nil)
	reminder := waitTo(t, fake, phone, 2)[1]
	if strings.Contains(strings.ToLower(reminder.Body), "lisinopril") {
		t.Fatalf("reminder names the drug: %q", reminder.Body)
	}
	if !strings.Contains(reminder.Body, "\n1 ") {
		t.Fatalf("reminder without numbered choices: %q", reminder.Body)
	}

	// "1": taken.
	taken := sid()
	inbound("1", taken)
	adherence := func(evs []store.Event) []store.Event {
		var out []store.Event
		for _, ev := range evs {
			if ev.Type == "adherence" {
				out = append(out, ev)
			}
		}
		return out
	}
	evs := srv.timeline("p-1001")
	if a := adherence(evs); len(a) != 1 || a[0].Status != "taken" || a[0].Medication != "lisinopril" {
		t.Fatalf("adherence %+v", a)
	}
	waitTo(t, fake, phone, 3) // the thanks
	ins := countType(evs, "message.in")

	// Twilio's retry of the same MessageSid is a no-op.
	inbound("1", taken)
	evs = srv.timeline("p-1001")
	if n := countType(evs, "message.in"); n != ins {
		t.Fatalf("replayed MessageSid: %d message.in events, want %d", n, ins)
	}
	if a := adherence(evs); len(a) != 1 {
		t.Fatalf("replayed MessageSid: %d adherence events", len(a))
	}

	// A forged webhook: 403 and nothing recorded.
	res := smstest.PostInbound(t, srv.URL, srv.URL, "0123456789abcdef0123456789abcdef", phone, "STOP", sid())
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged webhook: status %d", res.StatusCode)
	}
	if n := countType(srv.timeline("p-1001"), "message.in"); n != ins {
		t.Fatalf("forged webhook recorded: %d message.in events, want %d", n, ins)
	}

	// A delivery report reaches the message's timeline event.
	if code, err := fake.Callback(reminder, "delivered", 0); err != nil || code != http.StatusNoContent {
		t.Fatalf("status callback: %d %v", code, err)
	}
	if code, err := fake.Callback(reminder, "sent", 0); err != nil || code != http.StatusNoContent {
		t.Fatalf("late status callback: %d %v", code, err)
	}
	status := func(id string) string {
		for _, ev := range srv.timeline("p-1001") {
			if ev.ID == id {
				return ev.Type + " " + ev.Status
			}
		}
		return "missing"
	}
	if s := status(reminder.CallbackParam("o")); s != "message.out delivered" {
		t.Fatalf("reminder event: %s, want message.out delivered", s)
	}

	// A human, then an emergency: two open escalations.
	inbound("NURSE", sid())
	waitTo(t, fake, phone, 4)
	inbound("tengo dolor de pecho", sid())
	safety := waitTo(t, fake, phone, 5)[4]
	if !strings.Contains(safety.Body, "911") {
		t.Fatalf("safety reply %q", safety.Body)
	}
	var open struct{ Escalations []store.Escalation }
	srv.api(http.MethodGet, "/escalations?status=open", nil, http.StatusOK, &open)
	var human, acute bool
	for _, e := range open.Escalations {
		if e.PatientID != "p-1001" || e.Status != "open" {
			continue
		}
		human = human || (e.Priority == "medium" && e.Reason == "patient asked for a human")
		acute = acute || e.Priority == "acute"
	}
	if !human || !acute {
		t.Fatalf("open escalations %+v: want a medium one for a human and an acute one", open.Escalations)
	}

	// STOP: exactly one confirmation, then silence.
	inbound("STOP", sid())
	confirm := waitTo(t, fake, phone, 6)[5]
	var consent, confirmEv store.Event
	for _, ev := range srv.timeline("p-1001") {
		switch {
		case ev.Type == "consent":
			consent = ev
		case ev.ID == confirm.CallbackParam("o"):
			confirmEv = ev
		}
	}
	if consent.Status != "opted_out" || confirmEv.Type != "message.out" || !confirmEv.At.Equal(consent.At) || confirmEv.Text != confirm.Body {
		t.Fatalf("STOP: consent %+v, sixth message %+v (event %+v): want the opt-out's confirmation", consent, confirm, confirmEv)
	}
	srv.api(http.MethodPost, "/flow-starts", `{"flow":"med-reminder","patients":["p-1001"],"params":{"medication":"lisinopril"}}`,
		http.StatusAccepted, nil)
	inbound("1", sid())
	inbound("hola", sid())
	srv.waitDrained(10 * time.Second)
	time.Sleep(1200 * time.Millisecond) // one dispatcher poll interval, for anything late
	srv.waitDrained(10 * time.Second)
	if n := len(fake.MessagesTo(phone)); n != 6 {
		t.Fatalf("%d messages to %s after STOP, want 6 (welcome, reminder, thanks, human ack, safety, STOP confirmation): %+v",
			n, phone, fake.MessagesTo(phone))
	}
	if n := countType(srv.timeline("p-1001"), "consent"); n != 1 {
		t.Fatalf("%d consent events, want 1", n)
	}

	// Errors name the field.
	for _, tc := range []struct {
		name, field string
		patch       map[string]any
	}{
		{"bad timezone", "timezone", map[string]any{"timezone": "Mars/Olympus_Mons"}},
		{"bad phone", "phone", map[string]any{"phone": "call me"}},
		{"unknown program", "programs", map[string]any{"programs": []string{"astrology"}}},
		{"bad language", "language", map[string]any{"language": "xx"}},
	} {
		body := map[string]any{"id": "p-bad", "phone": "+15551230009", "language": "en", "timezone": "America/Chicago",
			"programs": []string{"hypertension"}}
		for k, v := range tc.patch {
			body[k] = v
		}
		status, data := srv.call(http.MethodPost, "/patients", e2eToken, body)
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		if status != http.StatusBadRequest || !strings.HasPrefix(e.Error, tc.field+":") {
			t.Errorf("%s: %d %s, want 400 with an error naming %q", tc.name, status, data, tc.field)
		}
	}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		want                      int
		field                     string
	}{
		{"unknown patient", http.MethodGet, "/patients/nobody", e2eToken, nil, http.StatusNotFound, ""},
		{"flow start for an unknown patient", http.MethodPost, "/flow-starts", e2eToken,
			`{"flow":"med-reminder","patients":["nobody"]}`, http.StatusNotFound, "patients"},
		{"unknown flow", http.MethodPost, "/flow-starts", e2eToken, `{"flow":"nope","patients":["p-1001"]}`, http.StatusBadRequest, "flow"},
		{"no token", http.MethodGet, "/patients/p-1001", "", nil, http.StatusUnauthorized, ""},
		{"wrong token", http.MethodGet, "/escalations", "test-tokeN", nil, http.StatusUnauthorized, ""},
	} {
		status, data := srv.call(tc.method, tc.path, tc.token, tc.body)
		var e struct{ Error string }
		if err := json.Unmarshal(data, &e); err != nil || e.Error == "" {
			t.Errorf("%s: body %s, want {\"error\": ...}", tc.name, data)
		}
		if status != tc.want || !strings.HasPrefix(e.Error, tc.field) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.name, status, data, tc.want, tc.field)
		}
	}

	// Unenrollment.
	srv.api(http.MethodDelete, "/patients/p-1001", nil, http.StatusNoContent, nil)
	srv.api(http.MethodGet, "/patients/p-1001", nil, http.StatusNotFound, nil)
	srv.api(http.MethodDelete, "/patients/p-1001", nil, http.StatusNotFound, nil)
	srv.api(http.MethodPost, "/flow-starts", `{"flow":"med-reminder","patients":["p-1001"]}`, http.StatusNotFound, nil)

	srv.stop()
}

// brokenPack writes the bundled programs and flows to a directory with one
// dangling "next" in flows/med-reminder.yaml.
func brokenPack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../content/default")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "flows", "med-reminder.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "next: wait\n", "next: nowhere\n", 1)
	if broken == string(data) {
		t.Fatal("med-reminder.yaml has no \"next: wait\" to break")
	}
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// problemLine matches a lint error on the broken flow, with its line.
var problemLine = regexp.MustCompile(`flows/med-reminder\.yaml:([0-9]+): error: [^\n]*nowhere`)

func checkProblem(t *testing.T, dir, out string) {
	t.Helper()
	m := problemLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not name flows/med-reminder.yaml:LINE for the dangling next:\n%s", out)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "flows", "med-reminder.yaml"))
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > strings.Count(string(data), "\n")+1 {
		t.Fatalf("line %d is not a line of the file", n)
	}
}

func TestContentLint(t *testing.T) {
	t.Parallel()
	dir := brokenPack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tendBin, "content", "lint", dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("lint of a broken pack: %v, want a non-zero exit\n%s", err, out)
	}
	checkProblem(t, dir, string(out))

	if out, err := exec.CommandContext(ctx, tendBin, "content", "lint").CombinedOutput(); err != nil {
		t.Fatalf("lint of the bundled pack: %v\n%s", err, out)
	}
}

func TestServeRefusesBrokenPack(t *testing.T) {
	t.Parallel()
	dir := brokenPack(t)
	fake := smstest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tendBin, "serve")
	cmd.Env = append(tendEnv(freeAddr(t), t.TempDir(), fake), "TEND_CONTENT_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || ctx.Err() != nil {
		t.Fatalf("serve with a broken pack: %v, want a non-zero exit at start-up\n%s", err, out)
	}
	checkProblem(t, dir, string(out))
}

// TestKillNine kills the server with SIGKILL while webhooks pour in, three
// times, and checks the two promises of the transactional outbox: a webhook
// Tend acknowledged is in the timeline after a restart, and no outbox entry
// reaches Twilio twice.
func TestKillNine(t *testing.T) {
	t.Parallel()
	start := time.Now()
	fake := smstest.New(t)
	dir := t.TempDir()
	srv := startTend(t, "", dir, fake)
	addr := strings.TrimPrefix(srv.URL, "http://")

	const patients = 20
	phoneOf := func(i int) string { return fmt.Sprintf("+1555200%04d", i) }
	ids := make([]string, patients)
	for i := range patients {
		ids[i] = fmt.Sprintf("p-%02d", i)
		lang := []string{"en", "es"}[i%2]
		srv.api(http.MethodPost, "/patients", map[string]any{"id": ids[i], "phone": phoneOf(i), "language": lang,
			"timezone": "America/Chicago", "programs": []string{"hypertension"},
			"medications": []map[string]any{{"id": "m1", "times": []string{"08:00"}}}}, http.StatusCreated, nil)
	}
	srv.api(http.MethodPost, "/flow-starts", map[string]any{"flow": "med-reminder", "patients": ids}, http.StatusAccepted, nil)

	type webhook struct {
		patient int
		text    string
	}
	var (
		mu       sync.Mutex
		acked    []webhook
		seq      atomic.Int64
		failures atomic.Int64
	)
	client := &http.Client{Timeout: 5 * time.Second}
	storm := func(ctx context.Context, base string) {
		for ctx.Err() == nil {
			n := seq.Add(1)
			i := mrand.IntN(patients)
			var text string
			switch n % 4 {
			case 0:
				text = fmt.Sprintf("1 k%d", n)
			case 1:
				text = fmt.Sprintf("2 k%d", n)
			case 2:
				text = fmt.Sprintf("hola k%d", n)
			default:
				text = "NURSE"
			}
			req, err := smstest.InboundRequest(base, base, fake.AuthToken,
				smstest.InboundForm(phoneOf(i), text, fmt.Sprintf("SM%032x", n)))
			if err != nil {
				t.Error(err)
				return
			}
			res, err := client.Do(req.WithContext(ctx))
			if err != nil {
				failures.Add(1)
				time.Sleep(5 * time.Millisecond) // the server is down
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode/100 == 2 {
				mu.Lock()
				acked = append(acked, webhook{i, text})
				mu.Unlock()
			}
		}
	}

	for cycle := range 3 {
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		failedBefore := failures.Load()
		ctx, stopStorm := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { storm(ctx, srv.URL) })
		}
		time.Sleep(300*time.Millisecond + mrand.N(600*time.Millisecond))
		srv.kill()
		// Let the senders see the dead server before stopping them.
		for deadline := time.Now().Add(2 * time.Second); failures.Load() == failedBefore && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		stopStorm()
		wg.Wait()
		mu.Lock()
		n := len(acked) - before
		mu.Unlock()
		t.Logf("cycle %d: %d webhooks acknowledged before SIGKILL", cycle+1, n)
		if n == 0 {
			t.Fatalf("cycle %d: no webhook acknowledged before the kill\n%s", cycle+1, srv.out.String())
		}
		srv = startTend(t, addr, dir, fake)
	}

	// Drain: the outbox is empty and the fake's count no longer moves.
	srv.waitDrained(15 * time.Second)
	last, stableSince := len(fake.Messages()), time.Now()
	for time.Since(stableSince) < 1500*time.Millisecond {
		if time.Since(start) > 50*time.Second {
			t.Fatal("fake Twilio never settled")
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(fake.Messages()); n != last {
			last, stableSince = n, time.Now()
		}
	}

	// Every acknowledged webhook is in its patient's timeline, once.
	timelines := make([]map[string]int, patients)
	for i, id := range ids {
		timelines[i] = map[string]int{}
		for _, ev := range srv.timeline(id) {
			if ev.Type == "message.in" {
				timelines[i][ev.Text]++
			}
		}
	}
	want := make([]map[string]int, patients)
	for i := range want {
		want[i] = map[string]int{}
	}
	for _, w := range acked {
		want[w.patient][w.text]++
	}
	var lost, doubled []string
	for i := range patients {
		for text, n := range want[i] {
			if timelines[i][text] < n {
				lost = append(lost, fmt.Sprintf("%s: %d acknowledged %q, %d in the timeline", ids[i], n, text, timelines[i][text]))
			}
		}
		for text, n := range timelines[i] {
			if text != "NURSE" && n > 1 {
				doubled = append(doubled, fmt.Sprintf("%s: %q is in the timeline %d times", ids[i], text, n))
			}
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged webhooks lost, e.g.\n%s", len(lost), len(acked), strings.Join(lost[:min(len(lost), 10)], "\n"))
	}
	if len(doubled) > 0 {
		t.Errorf("%d inbound messages recorded twice, e.g.\n%s", len(doubled), strings.Join(doubled[:min(len(doubled), 10)], "\n"))
	}

	// No outbox entry reached Twilio twice (the status callback URL names
	// the entry: o=<id>), and each one recorded as accepted reached it.
	seen := map[string]int{}
	var twice []string
	for _, m := range fake.Messages() {
		o := m.CallbackParam("o")
		if o == "" {
			t.Fatalf("message without an outbox id in its callback: %+v", m)
		}
		if seen[o]++; seen[o] == 2 {
			twice = append(twice, o)
		}
	}
	if len(twice) > 0 {
		t.Errorf("%d outbox entries reached Twilio more than once, e.g. %v", len(twice), twice[:min(len(twice), 10)])
	}
	unknown := 0
	for _, id := range ids {
		for _, ev := range srv.timeline(id) {
			if ev.Type != "message.out" {
				continue
			}
			switch ev.Status {
			case "unknown":
				unknown++
			case "queued": // Twilio's answer to the send
				if seen[ev.ID] != 1 {
					t.Errorf("%s: message %s recorded as sent, reached Twilio %d times", id, ev.ID, seen[ev.ID])
				}
			default:
				t.Errorf("%s: message %s has status %q after the drain", id, ev.ID, ev.Status)
			}
		}
	}
	t.Logf("%d acknowledged webhooks; %d messages sent; %d sends cut by a kill (status unknown, not resent)", len(acked), last, unknown)

	srv.stop()
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestEncryptedAtRest runs the server with TEND_ENCRYPTION_KEY_FILE: the API
// shows the patient's data, and the store file holds none of it in the clear.
func TestEncryptedAtRest(t *testing.T) {
	t.Parallel()
	fake := smstest.New(t)
	dir := t.TempDir()
	line, err := seal.GenerateKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startTend(t, "", dir, fake, "TEND_ENCRYPTION_KEY_FILE="+keyFile)
	const phone = "+15551239876"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-enc", "phone": phone, "language": "en",
		"timezone": "America/Chicago", "programs": []string{"hypertension"}, "phi_ok": true,
		"medications": []map[string]any{{"id": "metoprolol", "display": "metoprolol 25 mg", "times": []string{"08:00"}}}},
		http.StatusCreated, nil)
	srv.api(http.MethodPost, "/flow-starts", `{"flow":"med-reminder","patients":["p-enc"]}`, http.StatusAccepted, nil)
	if m := waitTo(t, fake, phone, 2)[1]; !strings.Contains(m.Body, "metoprolol 25 mg") {
		t.Fatalf("reminder %q: phi_ok patient should see the medicine's name", m.Body)
	}
	if res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, phone, "1 but I feel dizzy", sid()); res.StatusCode != http.StatusOK {
		t.Fatalf("inbound: %d", res.StatusCode)
	}
	waitTo(t, fake, phone, 3)
	found := false
	for _, ev := range srv.timeline("p-enc") {
		found = found || (ev.Type == "message.in" && ev.Text == "1 but I feel dizzy")
	}
	if !found {
		t.Fatal("the timeline does not show the patient's message in the clear")
	}
	srv.stop()
	raw, err := os.ReadFile(filepath.Join(dir, "tend.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"5551239876", "metoprolol", "dizzy", "Time for"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the store file contains %q in the clear", secret)
		}
	}
}
