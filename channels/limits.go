package channels

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a provider's sending limit: PerSecond sends (SMS: segments) with
// bursts of up to Burst.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limits paces sends to what providers accept (RULES.md): SMS segments per
// second per sender number, Telegram about 30 messages a second overall and
// one a second per chat. Each replica paces its own sends; with several
// replicas, give each its share of the provider's rate.
type Limits struct {
	// Channel limits each channel's sender as a whole.
	Channel map[string]Rate
	// Recipient limits each recipient of a channel (Telegram: per chat).
	Recipient map[string]Rate

	mu     sync.Mutex
	bucket map[string]*rate.Limiter
	paused map[string]time.Time
}

// maxRecipientBuckets bounds the per-recipient limiters kept in memory;
// past it they start over, which at worst lets one extra send through.
const maxRecipientBuckets = 100_000

// reserve takes cost tokens from ch's and the recipient's buckets and
// returns how long the send must wait for them. When that is longer than
// limit the tokens are given back: the caller will not send now. A nil
// Limits never waits.
func (l *Limits) reserve(ch, to string, cost int, now time.Time, limit time.Duration) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	if until := l.paused[ch]; until.After(now) {
		wait = until.Sub(now)
	}
	var held []*rate.Reservation
	if r, ok := l.Channel[ch]; ok {
		res := l.take("c|"+ch, r, cost, now)
		held = append(held, res)
		wait = max(wait, res.DelayFrom(now))
	}
	if r, ok := l.Recipient[ch]; ok {
		if len(l.bucket) > maxRecipientBuckets {
			l.bucket = nil
		}
		res := l.take("r|"+ch+"|"+to, r, 1, now)
		held = append(held, res)
		wait = max(wait, res.DelayFrom(now))
	}
	if wait > limit {
		for _, res := range held {
			res.CancelAt(now)
		}
	}
	return wait
}

func (l *Limits) take(key string, r Rate, cost int, now time.Time) *rate.Reservation {
	if l.bucket == nil {
		l.bucket = map[string]*rate.Limiter{}
	}
	b := l.bucket[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
		l.bucket[key] = b
	}
	// A send that costs more than the burst (a long SMS) still goes, after
	// waiting for its tokens at the steady rate.
	return b.ReserveN(now, min(cost, b.Burst()))
}

// pause holds a whole channel until until: the provider said to slow down
// (HTTP 429), and every send before then would be refused too.
func (l *Limits) pause(ch string, until time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused == nil {
		l.paused = map[string]time.Time{}
	}
	if until.After(l.paused[ch]) {
		l.paused[ch] = until
	}
}
