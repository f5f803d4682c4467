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

// Limits paces sends to what providers accept (docs/architecture.md#messaging-rules): SMS segments per
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
		held = l.take(held, "c|"+ch, r, cost, now)
		wait = max(wait, held[0].DelayFrom(now))
	}
	if r, ok := l.Recipient[ch]; ok {
		if len(l.bucket) > maxRecipientBuckets {
			l.bucket = nil
		}
		held = l.take(held, "r|"+ch+"|"+to, r, 1, now)
		wait = max(wait, held[len(held)-1].DelayFrom(now))
	}
	if wait > limit {
		// Latest first: a limiter restores a reservation's tokens only
		// when no later one depends on them.
		for i := len(held) - 1; i >= 0; i-- {
			held[i].CancelAt(now)
		}
	}
	return wait
}

// take reserves cost tokens of key's bucket and appends the reservations
// to held. A send that costs more than the burst (a 3-segment SMS at one
// segment a second) takes its tokens in burst-sized parts: it goes when
// the first part is covered, and the rest is a debt the sends after it
// wait for, as the provider's own queue would make them.
func (l *Limits) take(held []*rate.Reservation, key string, r Rate, cost int, now time.Time) []*rate.Reservation {
	if l.bucket == nil {
		l.bucket = map[string]*rate.Limiter{}
	}
	b := l.bucket[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
		l.bucket[key] = b
	}
	for cost > 0 {
		n := min(cost, b.Burst())
		held = append(held, b.ReserveN(now, n))
		cost -= n
	}
	return held
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
