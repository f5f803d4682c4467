package channels

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Sender delivers one outbox entry through a provider. It returns the
// provider's id for the message and the provider's first status.
type Sender interface {
	Send(ctx context.Context, e store.OutboxEntry) (providerID, status string, err error)
}

// Error classes a Sender reports, so that the dispatcher can decide between
// retrying, giving up and recording an opt-out without knowing providers.
var (
	// ErrRetry: rate limited, a provider 5xx or a transport error.
	ErrRetry = errors.New("temporary failure")
	// ErrOptedOut: the provider refuses because the recipient opted out.
	ErrOptedOut = errors.New("recipient opted out at the provider")
	// ErrUnknownOutcome: the request may have reached the provider (a
	// timeout, a connection lost mid-request). Sending again could deliver
	// the message twice, so it is recorded as "unknown" and not retried.
	ErrUnknownOutcome = errors.New("send outcome unknown")
	// ErrUnreachable: the channel cannot reach this recipient until they
	// write on it again (Telegram 403: the bot was blocked). The channel is
	// marked unreachable and the message falls back along the chain.
	ErrUnreachable = errors.New("recipient unreachable on this channel")
	// ErrFallback: this message cannot go on this channel now (WhatsApp
	// 63016: outside the customer-service window); it falls back along the
	// chain, and the channel stays usable for later messages.
	ErrFallback = errors.New("message cannot go on this channel now")
)

// SendError carries a provider's error code with its class.
type SendError struct {
	// Class is one of the errors above, or nil for a permanent failure
	// (which also falls back along the chain).
	Class error
	Code  int // provider error code, e.g. Twilio 21211
	// RetryAfter is how long the provider asked us to wait (Telegram 429
	// retry_after); the retry waits at least this long.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "send failed"
}

func (e *SendError) Unwrap() []error {
	if e.Class == nil {
		return []error{e.Err}
	}
	return []error{e.Class, e.Err}
}

// Consent answers, right before a send, how a patient is reached now and on
// which channels they opted out, and records what providers report;
// conversations.Runner does. Asking at send time means a message held
// overnight goes to the number the clinic corrected in the meantime, and
// never on a channel the patient left since.
type Consent interface {
	Contact(ctx context.Context, patientID string) (conversations.Contact, error)
	ProviderOptOut(ctx context.Context, patientID, channel string) error
	Unreachable(ctx context.Context, patientID, channel string) error
}

// Dispatcher sends the outbox: it claims due entries, holds what quiet hours
// or consent forbid, sends the rest through the channel's Sender, and retries
// temporary failures with backoff and jitter.
type Dispatcher struct {
	Store   store.Store
	Senders map[string]Sender
	Consent Consent
	Clock   func() time.Time
	Quiet   conversations.QuietHours
	Log     *slog.Logger
	// MaxAttempts bounds retries of temporary failures (default 8).
	MaxAttempts int
	// Workers is how many sends run at once (default 16).
	Workers int
	// Observe, when set, sees each outcome (channel, status) for metrics.
	Observe func(channel, status string)
	// RecoverEvery, when set, settles abandoned claims periodically, not
	// only at start: with several replicas on one store, a replica that
	// dies leaves claims whose leases expire while the others run.
	RecoverEvery time.Duration

	kick chan struct{}
	mu   sync.Mutex
}

// Kick wakes the dispatcher at once; the runner calls it after a commit.
func (d *Dispatcher) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) init() {
	d.mu.Lock()
	if d.kick == nil {
		d.kick = make(chan struct{}, 1)
	}
	d.mu.Unlock()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// Recover settles entries claimed before a crash. Their send may or may not
// have reached the provider, and sending again could give the patient the
// same message twice, so they are recorded as "unknown" and not resent; a
// later status callback from the provider still updates them.
func (d *Dispatcher) Recover(ctx context.Context) error {
	claimed, err := d.Store.Claimed(ctx)
	if err != nil {
		return err
	}
	for _, e := range claimed {
		d.log().Warn("send outcome unknown after restart; not resending", "message", e.ID, "patient", e.PatientID)
		err := d.Store.Finish(ctx, e, store.Delivery{Done: true, Status: "unknown"})
		if errors.Is(err, store.ErrNotFound) {
			continue // another replica settled it first
		}
		if err != nil {
			return err
		}
		d.observe(e.Channel, "unknown")
	}
	return nil
}

// Run sends until ctx ends, polling every interval and whenever kicked.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.init()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var recoverC <-chan time.Time
	if d.RecoverEvery > 0 {
		rt := time.NewTicker(d.RecoverEvery)
		defer rt.Stop()
		recoverC = rt.C
	}
	for {
		for d.Step(ctx) > 0 && ctx.Err() == nil {
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-tick.C:
		case <-recoverC:
			if err := d.Recover(ctx); err != nil {
				d.log().Error("settling abandoned claims", "err", err)
			}
		}
	}
}

// Step claims one batch of due entries and handles them; it returns how many
// it claimed.
func (d *Dispatcher) Step(ctx context.Context) int {
	workers := d.Workers
	if workers <= 0 {
		workers = 16
	}
	// Claim no more than can be in flight at once: a claimed entry's send
	// counts as "outcome unknown" after a crash and is not resent.
	batch, err := d.Store.ClaimOutbox(ctx, d.Clock(), workers)
	if err != nil {
		d.log().Error("claiming outbox", "err", err)
		return 0
	}
	// One recipient's messages go out one after another, in the order they
	// were written; different recipients go in parallel.
	var groups [][]store.OutboxEntry
	index := map[string]int{}
	for _, e := range batch {
		key := e.Channel + "|" + e.To
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e)
	}
	jobs := make(chan []store.OutboxEntry)
	var wg sync.WaitGroup
	for range min(workers, len(groups)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range jobs {
				for _, e := range g {
					d.handle(ctx, e)
				}
			}
		}()
	}
	for _, g := range groups {
		jobs <- g
	}
	close(jobs)
	wg.Wait()
	return len(batch)
}

// exempt are messages that go to an opted-out patient: the one opt-out
// confirmation and the HELP reply.
var exempt = map[string]bool{"keyword.stop.confirm": true, "keyword.help": true}

func (d *Dispatcher) handle(ctx context.Context, e store.OutboxEntry) {
	now := d.Clock()
	finish := func(del store.Delivery) {
		// Finish must land even when ctx is ending: the send happened.
		if err := d.Store.Finish(context.WithoutCancel(ctx), e, del); err != nil {
			d.log().Error("recording delivery", "message", e.ID, "err", err)
		}
		d.observe(e.Channel, del.Status)
	}
	if e.PatientID != "" {
		to, out, err := d.Consent.Recipient(ctx, e.PatientID)
		if errors.Is(err, store.ErrNotFound) {
			finish(store.Delivery{Done: true, Status: "cancelled"})
			return
		}
		if err != nil {
			finish(store.Delivery{NotBefore: now.Add(time.Minute), Status: "queued"})
			return
		}
		if out && !e.Urgent && !exempt[e.MessageID] {
			finish(store.Delivery{Done: true, Status: "suppressed"})
			return
		}
		if to != "" {
			e.To = to
		}
	}
	if !e.Reply && !e.Urgent {
		loc, err := conversations.LoadLocation(e.Timezone)
		if err != nil {
			loc = time.UTC
		}
		if !d.Quiet.Allowed(now, loc) {
			// The offset is the recipient's, so their held messages keep
			// their order when released.
			open := d.Quiet.NextOpen(now, loc).Add(conversations.Spread(e.PatientID+e.To, 30*time.Minute))
			finish(store.Delivery{NotBefore: open, Status: "held"})
			return
		}
	}
	sender := d.Senders[e.Channel]
	if sender == nil {
		d.log().Error("no sender for channel", "channel", e.Channel, "message", e.ID)
		finish(store.Delivery{Done: true, Status: "failed"})
		return
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	sid, status, err := sender.Send(sendCtx, e)
	cancel()
	if err == nil {
		if status == "" {
			status = "sent"
		}
		finish(store.Delivery{Done: true, Status: status, ProviderID: sid})
		return
	}
	var se *SendError
	code := 0
	if errors.As(err, &se) {
		code = se.Code
	}
	switch {
	case errors.Is(err, ErrOptedOut):
		finish(store.Delivery{Done: true, Status: "failed", ErrorCode: code})
		if e.PatientID != "" {
			if err := d.Consent.ProviderOptOut(ctx, e.PatientID); err != nil {
				d.log().Error("recording provider opt-out", "patient", e.PatientID, "err", err)
			}
		}
	case errors.Is(err, ErrUnknownOutcome):
		d.log().Error("send outcome unknown; not resending", "message", e.ID, "channel", e.Channel)
		finish(store.Delivery{Done: true, Status: "unknown"})
	case errors.Is(err, ErrRetry) && e.Attempts+1 < d.maxAttempts():
		// Provider error text can quote the phone number: log the code only.
		d.log().Warn("send failed; will retry", "message", e.ID, "channel", e.Channel, "attempt", e.Attempts+1, "code", code)
		finish(store.Delivery{NotBefore: now.Add(Backoff(e.Attempts)), Status: "retrying", ErrorCode: code, Attempted: true})
	default:
		d.log().Error("send failed", "message", e.ID, "channel", e.Channel, "code", code)
		finish(store.Delivery{Done: true, Status: "failed", ErrorCode: code})
	}
}

func (d *Dispatcher) maxAttempts() int {
	if d.MaxAttempts > 0 {
		return d.MaxAttempts
	}
	return 8
}

func (d *Dispatcher) observe(channel, status string) {
	if d.Observe != nil {
		d.Observe(channel, status)
	}
}

// Backoff is the wait before retry n (0-based): exponential from 2 s, capped
// at 10 min, with full jitter so that retries after an outage spread out.
func Backoff(n int) time.Duration {
	base := 2 * time.Second << min(n, 9)
	base = min(base, 10*time.Minute)
	return base/2 + rand.N(base/2+1)
}
