package guard

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTracked bounds the clients a Rate remembers, so that a flood from
// many addresses costs bounded memory.
const maxTracked = 100_000

// Rate gives each client a budget of requests (a token bucket) on the
// routes it wraps and answers 429 once it is spent.
type Rate struct {
	PerSecond float64 // refill rate; 0 turns the limit off
	Burst     int     // requests allowed at once
	// Charge, when set, charges only the requests whose answer it picks
	// (Refused, Unauthorized) instead of every request: for webhooks, where
	// a busy provider must never be slowed, only a client that keeps
	// guessing is.
	Charge  func(status int) bool
	Clients *Clients
	// Limited counts each request answered 429.
	Limited func()
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// Wrap limits next.
func (rt *Rate) Wrap(next http.Handler) http.Handler {
	if rt.PerSecond <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := rt.now()
		b := rt.bucket(rt.key(r), now)
		if b == nil || (rt.Charge != nil && b.TokensAt(now) < 1) || (rt.Charge == nil && !b.AllowN(now, 1)) {
			rt.limit(w)
			return
		}
		if rt.Charge == nil {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if rt.Charge(sw.status) {
			b.AllowN(rt.now(), 1)
		}
	})
}

// Refused picks answers that refuse a stranger: a bad credential or
// signature (401, 403), a path or method that is not there (404, 405).
func Refused(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// Unauthorized picks a bad credential only (401, 403): where a 404 is an
// answer about data (an API asked for a patient not enrolled), not a
// guess.
func Unauthorized(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

func (rt *Rate) limit(w http.ResponseWriter) {
	if rt.Limited != nil {
		rt.Limited()
	}
	secs := 1
	if rt.PerSecond < 1 {
		secs = int(1/rt.PerSecond) + 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, "too many requests from this address; try again later", http.StatusTooManyRequests)
}

// key is the client's address; IPv6 clients by their /64, which one
// subscriber usually holds whole.
func (rt *Rate) key(r *http.Request) string {
	c := rt.Clients
	if c == nil {
		c = &Clients{}
	}
	s := c.Of(r)
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is4() {
		return s
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// bucket is the client's limiter, nil when too many clients are tracked
// to take another (the flood is answered 429 until the table drains).
func (rt *Rate) bucket(key string, now time.Time) *rate.Limiter {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.buckets == nil {
		rt.buckets = map[string]*rate.Limiter{}
	}
	if b := rt.buckets[key]; b != nil {
		return b
	}
	if len(rt.buckets) >= maxTracked {
		if now.Sub(rt.swept) < time.Second {
			return nil
		}
		rt.sweep(now)
		if len(rt.buckets) >= maxTracked {
			return nil
		}
	}
	b := rate.NewLimiter(rate.Limit(rt.PerSecond), rt.Burst)
	rt.buckets[key] = b
	return b
}

// sweep forgets clients whose budget is whole again: they lose nothing.
// At most once a second: under a flood a sweep is a pass over the table.
func (rt *Rate) sweep(now time.Time) {
	rt.swept = now
	for k, b := range rt.buckets {
		if b.TokensAt(now) >= float64(rt.Burst) {
			delete(rt.buckets, k)
		}
	}
}

func (rt *Rate) now() time.Time {
	if rt.Clock != nil {
		return rt.Clock()
	}
	return time.Now()
}

// statusWriter notes the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
