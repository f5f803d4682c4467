package main

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestThousandsOfSlowConnections holds thousands of connections that send
// their headers a byte at a time, from many addresses, against the server
// tend serve builds with its default settings, and asks /healthz the
// while: it answers within a second. Then more slow clients than the cap
// arrive, and it still does.
func TestThousandsOfSlowConnections(t *testing.T) {
	c, err := parseConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	// Each slow connection is two descriptors here, client and server.
	perAddr, addrs := 250, 12
	if need := 2*c.serving.MaxConns + perAddr*(addrs+2) + 500; int(lim.Cur) < need {
		t.Skipf("needs %d open files, the limit is %d", need, lim.Cur)
	}
	t.Logf("%d slow connections from %d addresses (open files limit %d)", perAddr*addrs, addrs, lim.Cur)

	sv, err := listen("127.0.0.1:0", c.serving, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	sv.srv.Handler = sv.guardRoutes(c.serving, mux)
	if sv.srv.ReadHeaderTimeout != readHeaderTimeout || sv.srv.IdleTimeout != idleTimeout || sv.srv.WriteTimeout != writeTimeout {
		t.Fatalf("the server's timeouts are not tend's: %+v", sv.srv)
	}
	// On a loaded machine opening thousands of connections can take
	// longer than the header timeout, which would end the first before the
	// last are open; the test holds them all at once.
	sv.srv.ReadHeaderTimeout = time.Minute
	go sv.srv.Serve(sv.ln)
	t.Cleanup(func() { sv.srv.Close() })
	addr := sv.ln.Addr().String()

	var mu sync.Mutex
	var conns []net.Conn
	open := func(from string, n int) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		for range n {
			cn, err := d.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial from %s: %v", from, err)
				return
			}
			cn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
		}
	}
	t.Cleanup(func() {
		for _, cn := range conns {
			cn.Close()
		}
	})
	openFrom := func(first, n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); open("127.0.0."+strconv.Itoa(first+i), perAddr) }()
		}
		wg.Wait()
	}
	start := time.Now()
	openFrom(10, addrs)
	stopDrip := make(chan struct{})
	go drip(&mu, &conns, stopDrip)
	waitFor(t, func() bool { return sv.ln.Open() >= perAddr*addrs })
	t.Logf("%d open in %v", sv.ln.Open(), time.Since(start))
	healthzWithin(t, addr, time.Second)

	// A client over its own cap is turned away with a reason.
	open("127.0.0.10", c.serving.MaxConnsPerClient-perAddr)
	waitFor(t, func() bool { return sv.ln.Open() >= perAddr*addrs+c.serving.MaxConnsPerClient-perAddr })
	if code, body := ask(addr, "127.0.0.10"); code != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
		t.Errorf("one address over its cap: %d %q, want 503", code, body)
	}

	// More slow clients than the server holds (TEND_MAX_CONNS): the
	// longest waiting are closed to make room, and health checks still
	// answer.
	more := (c.serving.MaxConns - perAddr*addrs + perAddr) / perAddr
	openFrom(10+addrs, more)
	waitFor(t, func() bool { return sv.ln.Open() == c.serving.MaxConns })
	t.Logf("%d slow connections tried, %d open at the cap", perAddr*(addrs+more), sv.ln.Open())
	healthzWithin(t, addr, time.Second)
	close(stopDrip)
}

// drip sends each slow connection one more header byte a second.
func drip(mu *sync.Mutex, conns *[]net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		mu.Lock()
		for _, cn := range *conns {
			cn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			cn.Write([]byte("x"))
		}
		mu.Unlock()
	}
}

// healthzWithin asks five times and wants every answer 200 and the
// median within limit: one slow answer is the machine's scheduler (the
// race detector, other packages' tests), a starved server is slow every
// time.
func healthzWithin(t *testing.T, addr string, limit time.Duration) {
	t.Helper()
	var took []time.Duration
	for range 5 {
		start := time.Now()
		code, body := ask(addr, "127.0.0.1")
		took = append(took, time.Since(start))
		if code != 200 {
			t.Errorf("/healthz answered %d %q, want 200", code, body)
		}
	}
	slices.Sort(took)
	if took[2] > limit {
		t.Errorf("/healthz answered in %v (sorted), want a median within %v", took, limit)
	}
	t.Logf("/healthz answered in %v", took)
}

func ask(addr, from string) (int, string) {
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext, DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

func TestDefaultAddr(t *testing.T) {
	for url, want := range map[string]string{
		"":                        "127.0.0.1:8080",
		"http://localhost:8080":   "127.0.0.1:8080",
		"http://127.0.0.1:9000":   "127.0.0.1:8080",
		"http://[::1]:8080":       "127.0.0.1:8080",
		"https://tend.clinic.org": ":8080",
	} {
		if got := defaultAddr(url); got != want {
			t.Errorf("defaultAddr(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestServingSettingsChecked(t *testing.T) {
	for env, want := range map[string]string{
		"TEND_MAX_CONNS=0":                 "TEND_MAX_CONNS",
		"TEND_MAX_CONNS_PER_CLIENT=-1":     "TEND_MAX_CONNS_PER_CLIENT",
		"TEND_RATE_LIMIT=-2":               "TEND_RATE_LIMIT",
		"TEND_TRUSTED_PROXIES=10.0.0.0/99": "TEND_TRUSTED_PROXIES",
	} {
		k, v, _ := strings.Cut(env, "=")
		t.Setenv(k, v)
		_, err := parseConfig("serve", nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", env, err, want)
		}
		t.Setenv(k, "")
	}
}
