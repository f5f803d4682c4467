package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tendcare/tend/guard"
)

// Timeouts of the HTTP server. A client gets ReadHeaderTimeout to send its
// request's headers and ReadTimeout for the whole request; an answer is
// written within WriteTimeout (the console's event stream lifts it for
// itself); a kept-alive connection is closed after IdleTimeout with no
// request.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
)

// The budget of refused requests (401, 403, 404, 405) a client has on the
// routes anyone may call: 30 at once, then one a second.
const (
	refusedPerSecond = 1
	refusedBurst     = 30
)

// servingConfig is how the server holds up under many clients.
type servingConfig struct {
	MaxConns, MaxConnsPerClient int
	RateLimit                   float64
	TrustedProxies              string
	trusted                     []netip.Prefix
}

func servingFlags(fs *flag.FlagSet, r *envReader, s *servingConfig) {
	fs.Var(r.int(&s.MaxConns, "TEND_MAX_CONNS", 4096, 1), "max-conns", "open connections in all; when full, the one waiting longest without a request is closed (TEND_MAX_CONNS)")
	fs.Var(r.int(&s.MaxConnsPerClient, "TEND_MAX_CONNS_PER_CLIENT", 256, 0), "max-conns-per-client", "open connections from one address; 0: no cap; trusted proxies are not capped (TEND_MAX_CONNS_PER_CLIENT)")
	fs.Var(r.float(&s.RateLimit, "TEND_RATE_LIMIT", 10, 0), "rate-limit", "requests per second one client may make to the sign-in pages, /metrics and the dev phone (5 times as many at once); 0: no limit (TEND_RATE_LIMIT)")
	fs.StringVar(&s.TrustedProxies, "trusted-proxies", env("TEND_TRUSTED_PROXIES", ""), "addresses or CIDR prefixes of the TLS proxies in front of tend, whose X-Forwarded-For names the client (TEND_TRUSTED_PROXIES)")
}

// check validates what the reader did not (its numbers are checked as
// read), naming the variable at fault.
func (s *servingConfig) check() error {
	p, err := guard.ParsePrefixes(s.TrustedProxies)
	if err != nil {
		return fmt.Errorf("TEND_TRUSTED_PROXIES: %w", err)
	}
	s.trusted = p
	return nil
}

// defaultAddr is where tend listens when TEND_ADDR is not set: loopback
// only while the public URL is this machine (a first run, the dev phone),
// since nobody outside needs to reach it; every interface once a public
// URL says providers will call.
func defaultAddr(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || publicURL == "" || loopbackHost(u.Hostname()) {
		return "127.0.0.1:8080"
	}
	return ":8080"
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// serving is the listener and server of tend serve, with its guards.
type serving struct {
	ln      *guard.Listener
	srv     *http.Server
	clients *guard.Clients
	limited prometheus.Counter
	refused *prometheus.CounterVec
}

// listen opens addr with the connection caps and builds the server that
// serves h there.
func listen(addr string, s servingConfig, reg prometheus.Registerer) (*serving, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	sv := &serving{clients: &guard.Clients{Trusted: s.trusted}}
	sv.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_connections_refused_total",
		Help: "Connections closed by the caps: full (turned away), evicted (closed to make room), client (one address over its cap)."}, []string{"reason"})
	sv.limited = prometheus.NewCounter(prometheus.CounterOpts{Name: "tend_requests_limited_total",
		Help: "Requests answered 429 because their client spent its budget."})
	for _, r := range []string{"full", "evicted", "client"} {
		sv.refused.WithLabelValues(r)
	}
	sv.ln = &guard.Listener{Listener: l, Max: s.MaxConns, PerClient: s.MaxConnsPerClient, Clients: sv.clients,
		Refused: func(reason string) { sv.refused.WithLabelValues(reason).Inc() }}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tend_connections_open",
		Help: "HTTP connections open now."}, func() float64 { return float64(sv.ln.Open()) })
	if reg != nil {
		reg.MustRegister(sv.refused, sv.limited, open)
	}
	sv.srv = &http.Server{ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, ConnState: sv.ln.ConnState}
	return sv, nil
}

// guardRoutes puts the request budgets in front of h: sign-in, /metrics
// and the dev phone charge every request; the API and the FHIR endpoint
// charge a bad token only (their 404s are answers about patients, their
// 400s about a device's data); every other route but the
// health checks charges refused requests (a bad signature, a path that is
// not there), so a provider's webhooks are never slowed, whatever their
// rate, and a patient's message is never turned away.
func (sv *serving) guardRoutes(s servingConfig, h http.Handler) http.Handler {
	limited := func() { sv.limited.Inc() }
	every := (&guard.Rate{PerSecond: s.RateLimit, Burst: max(1, int(5*s.RateLimit)), Clients: sv.clients, Limited: limited}).Wrap(h)
	refused := (&guard.Rate{PerSecond: refusedPerSecond, Burst: refusedBurst, Charge: guard.Refused, Clients: sv.clients, Limited: limited}).Wrap(h)
	badToken := (&guard.Rate{PerSecond: refusedPerSecond, Burst: refusedBurst, Charge: guard.Unauthorized, Clients: sv.clients, Limited: limited}).Wrap(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz" || p == "/readyz":
			h.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/console/login") || p == "/metrics" || strings.HasPrefix(p, "/dev/phone"):
			every.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/fhir/"):
			badToken.ServeHTTP(w, r)
		default:
			refused.ServeHTTP(w, r)
		}
	})
}
