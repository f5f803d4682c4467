package guard

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs h behind l on loopback and returns its address.
func serve(t *testing.T, l *Listener, h http.Handler) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Listener = raw
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, ConnState: l.ConnState}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return raw.Addr().String()
}

// slow opens a connection from local and sends half a request.
func slow(t *testing.T, addr, local string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	t.Cleanup(func() { c.Close() })
	return c
}

// get asks path on a fresh connection from local and returns the status.
func get(t *testing.T, addr, local, path string) (int, string) {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext, DisableKeepAlives: true}
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", path, local, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func ok(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }

func TestFullEvictsTheLongestWaiting(t *testing.T) {
	var evicted atomic.Int64
	l := &Listener{Max: 50, Refused: func(r string) {
		if r == "evicted" {
			evicted.Add(1)
		}
	}}
	addr := serve(t, l, http.HandlerFunc(ok))
	for range 200 {
		slow(t, addr, "127.0.0.2")
	}
	start := time.Now()
	if code, _ := get(t, addr, "127.0.0.1", "/healthz"); code != 200 {
		t.Fatalf("healthz with the listener full of slow clients: %d", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("healthz took %v with the listener full", d)
	}
	if n := evicted.Load(); n < 150 {
		t.Errorf("%d slow connections closed to make room, want at least 150", n)
	}
	if n := l.Open(); n > 50 {
		t.Errorf("%d connections open over a cap of 50", n)
	}
}

func TestBusyConnectionsAreNotEvicted(t *testing.T) {
	release := make(chan struct{})
	var inside sync.WaitGroup
	inside.Add(2)
	l := &Listener{Max: 2}
	addr := serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			inside.Done()
			<-release
		}
		w.Write([]byte("done"))
	}))
	var done sync.WaitGroup
	for range 2 {
		done.Add(1)
		go func() {
			defer done.Done()
			if code, body := get(t, addr, "127.0.0.1", "/wait"); code != 200 || body != "done" {
				t.Errorf("a request in progress was cut: %d %q", code, body)
			}
		}()
	}
	inside.Wait()
	code, body := get(t, addr, "127.0.0.1", "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
		t.Errorf("newcomer with every connection busy: %d %q, want 503 saying why", code, body)
	}
	close(release)
	done.Wait()
}

func TestPerClientCap(t *testing.T) {
	clients := &Clients{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}}
	l := &Listener{PerClient: 3, Clients: clients}
	addr := serve(t, l, http.HandlerFunc(ok))
	for range 3 {
		slow(t, addr, "127.0.0.2")
	}
	waitOpen(t, l, 3)
	if code, _ := get(t, addr, "127.0.0.2", "/"); code != http.StatusServiceUnavailable {
		t.Errorf("a fourth connection from one client: %d, want 503", code)
	}
	if code, _ := get(t, addr, "127.0.0.1", "/"); code != 200 {
		t.Errorf("another client: %d, want 200", code)
	}
	for range 5 {
		slow(t, addr, "127.0.0.3")
	}
	if code, _ := get(t, addr, "127.0.0.3", "/"); code != 200 {
		t.Errorf("a trusted proxy over the per-client cap: %d, want 200", code)
	}
}

// waitOpen waits until the server has taken n connections.
func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); l.Open() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Open(), n)
		}
	}
}

func TestRateChargesEveryRequest(t *testing.T) {
	now := time.Unix(1e9, 0)
	rt := &Rate{PerSecond: 1, Burst: 3, Clock: func() time.Time { return now }}
	h := rt.Wrap(http.HandlerFunc(ok))
	ask := func(from string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/console/login", nil)
		r.RemoteAddr = from + ":1234"
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := ask("192.0.2.1"); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i+1, w.Code)
		}
	}
	w := ask("192.0.2.1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("over the burst: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := ask("192.0.2.2"); w.Code != 200 {
		t.Errorf("another client was limited: %d", w.Code)
	}
	now = now.Add(time.Second)
	if w := ask("192.0.2.1"); w.Code != 200 {
		t.Errorf("a second later: %d, want 200", w.Code)
	}
	// IPv6 clients share their /64.
	ask("2001:db8::1")
	ask("2001:db8::2")
	ask("2001:db8::3")
	if w := ask("2001:db8::4"); w.Code != http.StatusTooManyRequests {
		t.Errorf("fourth address of one /64: %d, want 429", w.Code)
	}
}

func TestRateRefusedOnly(t *testing.T) {
	now := time.Unix(1e9, 0)
	rt := &Rate{PerSecond: 1, Burst: 5, Charge: Refused, Clock: func() time.Time { return now }}
	h := rt.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Signature") != "good" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		w.Write([]byte("ok"))
	}))
	ask := func(from, sig string) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/webhooks/twilio/sms", nil)
		r.RemoteAddr = from + ":1234"
		r.Header.Set("X-Signature", sig)
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 1000 {
		if code := ask("192.0.2.1", "good"); code != 200 {
			t.Fatalf("signed request %d from a busy provider: %d", i+1, code)
		}
	}
	for range 5 {
		ask("192.0.2.9", "forged")
	}
	if code := ask("192.0.2.9", "forged"); code != http.StatusTooManyRequests {
		t.Errorf("a sixth forgery: %d, want 429", code)
	}
	if code := ask("192.0.2.1", "good"); code != 200 {
		t.Errorf("the provider after another client's forgeries: %d", code)
	}
}

func TestClientsOf(t *testing.T) {
	p, err := ParsePrefixes("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	c := &Clients{Trusted: p}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.7:5000", "198.51.100.1", "192.0.2.7"},                       // not a proxy: its header is not believed
		{"127.0.0.1:5000", "198.51.100.1", "198.51.100.1"},                    // the proxy names the client
		{"127.0.0.1:5000", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"}, // the client's own hops are skipped
		{"127.0.0.1:5000", "", "127.0.0.1"},
		{"127.0.0.1:5000", "garbage, 198.51.100.1", "198.51.100.1"},
		{"[::ffff:127.0.0.1]:5000", "198.51.100.1", "198.51.100.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := c.Of(r); got != tc.want {
			t.Errorf("Of(%s, XFF %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}
