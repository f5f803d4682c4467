package channels

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/locales"
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
	// ErrWait: the sender is at capacity (every line of a voice number is
	// in a call) and did not try; the message waits RetryAfter, and the
	// wait does not count as an attempt.
	ErrWait = errors.New("sender at capacity")
	// ErrFallback: this message cannot go on this channel now (WhatsApp
	// 63016: outside the customer-service window); it falls back along the
	// chain, and the channel stays usable for later messages.
	ErrFallback = errors.New("message cannot go on this channel now")
	// ErrAuth: the provider refused our credentials (Twilio 401/20003,
	// Telegram 401). Every message on the channel would fail alike, so
	// the channel is paused: its messages wait, not counting attempts,
	// and one send a PauseRetry tries the credentials again.
	ErrAuth = errors.New("provider refused our credentials")
)

// Reasons a message failed, was given up or was cancelled: a fixed set, so
// that they can be metric labels and go in logs and the API (never a
// provider's text, which can quote a phone number).
const (
	// ReasonNetwork: the provider could not be reached.
	ReasonNetwork = "network"
	// ReasonRateLimited: the provider kept asking us to slow down (429).
	ReasonRateLimited = "rate_limited"
	// ReasonProviderError: the provider failed (5xx) or refused our
	// credentials.
	ReasonProviderError = "provider_error"
	// ReasonStale: a dose reminder whose time had passed (its
	// OutboxEntry.StaleAfter) was cancelled rather than sent late.
	ReasonStale = "stale"
	// ReasonOperator: a person cancelled a dead letter.
	ReasonOperator = "operator"
	// ReasonTooLong: the message was longer than its channel's budget
	// (Spec.MaxSegments, MaxChars) even without the medicine's name, and
	// was never queued.
	ReasonTooLong = "too_long"
)

// DeadLetterReasons are the reasons a message becomes a dead letter: its
// retry window ended on a temporary failure of one of these kinds.
var DeadLetterReasons = []string{ReasonNetwork, ReasonRateLimited, ReasonProviderError}

// DefaultRetryWindow is how long temporary failures are retried before a
// message becomes a dead letter: a provider outage of a day loses nothing.
const DefaultRetryWindow = 24 * time.Hour

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
// runner.Runner does. Asking at send time means a message held
// overnight goes to the number the clinic corrected in the meantime, and
// never on a channel the patient left since.
type Consent interface {
	Contact(ctx context.Context, patientID string) (conversations.Contact, error)
	ProviderOptOut(ctx context.Context, patientID, channel string) error
	Unreachable(ctx context.Context, patientID, channel string) error
}

// Outbox is the part of the store the dispatcher works (store.Store has
// it): it claims due messages, finds the ones a stopped replica left
// claimed, and records how each send ended. Nothing else of a
// conversation changes here: consent and fallback are the Runner's.
type Outbox interface {
	ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEntry, error)
	Claimed(ctx context.Context) ([]store.OutboxEntry, error)
	Finish(ctx context.Context, entry store.OutboxEntry, d store.Delivery) error
}

// Dispatcher sends the outbox: it claims due entries, holds what quiet hours
// or consent forbid, picks the channel (falling back along the patient's
// chain when one cannot carry the message), paces sends to each provider's
// limits, retries temporary failures with backoff and jitter for
// RetryWindow and then makes the message a dead letter, and cancels a
// message that went stale (OutboxEntry.StaleAfter) instead of sending it
// late.
type Dispatcher struct {
	Outbox  Outbox
	Senders map[string]Sender
	// Specs say what each channel needs (a window, segments counted);
	// cmd/tend passes the same list to the Runner.
	Specs   Specs
	Consent Consent
	Clock   func() time.Time
	Quiet   conversations.QuietHours
	Log     *slog.Logger
	// Limits paces sends per channel and per recipient; nil sends as fast
	// as the workers go.
	Limits *Limits
	// RetryWindow is how long temporary failures (network, 5xx, 429) of
	// a message are retried, counted from its first one (default
	// DefaultRetryWindow). A message still not sent when it ends is a
	// dead letter: kept, out of the queue, for an operator to resend or
	// cancel.
	RetryWindow time.Duration
	// DeadLetter, when set, hears of each dead letter (channel and reason,
	// one of DeadLetterReasons) for metrics.
	DeadLetter func(channel, reason string)
	// Workers is how many sends run at once (default 16).
	Workers int
	// Observe, when set, sees each outcome (channel, status and the
	// provider's error code, 0 for none) for metrics.
	Observe func(channel, status string, code int)
	// RecoverEvery, when set, settles abandoned claims periodically, not
	// only at start: with several replicas on one store, a replica that
	// dies leaves claims whose leases expire while the others run.
	RecoverEvery time.Duration
	// PauseRetry is how often a channel paused by ErrAuth tries one send
	// (default a minute).
	PauseRetry time.Duration
	// PauseChanged, when set, hears when a channel is paused or resumes,
	// for a gauge.
	PauseChanged func(channel string, paused bool)

	kick   chan struct{}
	mu     sync.Mutex
	paused map[string]time.Time // channel → when its next send may try
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

// Paused lists the channels paused because the provider refused our
// credentials, for /readyz.
func (d *Dispatcher) Paused() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for ch := range d.paused {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// gate reports when ch, if paused, may try a send, and false when a send
// may go now. A send that may go while paused is the channel's one probe
// until the next PauseRetry: the others wait for its answer.
func (d *Dispatcher) gate(ch string, now time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next, paused := d.paused[ch]
	if !paused {
		return time.Time{}, false
	}
	if now.Before(next) {
		return next, true
	}
	d.paused[ch] = now.Add(d.pauseRetry())
	return time.Time{}, false
}

// pause stops sending on ch after the provider refused our credentials,
// logging why once per pause, and returns when the next probe is due.
func (d *Dispatcher) pause(ch string, code int, now time.Time) time.Time {
	next := now.Add(d.pauseRetry())
	d.mu.Lock()
	if d.paused == nil {
		d.paused = map[string]time.Time{}
	}
	_, was := d.paused[ch]
	d.paused[ch] = next
	d.mu.Unlock()
	if !was {
		d.log().Error("channel paused: the provider refused our credentials; its messages wait and one send a minute retries (check the provider's credentials and restart, or fix them at the provider)",
			"channel", ch, "code", code)
		if d.PauseChanged != nil {
			d.PauseChanged(ch, true)
		}
	}
	return next
}

// resume ends ch's pause after a send went through.
func (d *Dispatcher) resume(ch string) {
	d.mu.Lock()
	_, was := d.paused[ch]
	delete(d.paused, ch)
	d.mu.Unlock()
	if was {
		d.log().Info("channel resumed: the provider took our credentials", "channel", ch)
		if d.PauseChanged != nil {
			d.PauseChanged(ch, false)
		}
	}
}

func (d *Dispatcher) pauseRetry() time.Duration {
	if d.PauseRetry > 0 {
		return d.PauseRetry
	}
	return time.Minute
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
	claimed, err := d.Outbox.Claimed(ctx)
	if err != nil {
		return err
	}
	for _, e := range claimed {
		d.log().Warn("send outcome unknown after restart; not resending", "message", e.ID, "patient", e.PatientID)
		err := d.Outbox.Finish(ctx, e, store.Delivery{Done: true, Status: "unknown"})
		if errors.Is(err, store.ErrNotFound) {
			continue // another replica settled it first
		}
		if err != nil {
			return err
		}
		d.observe(e.Channel, "unknown", 0)
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
	batch, err := d.Outbox.ClaimOutbox(ctx, d.Clock(), workers)
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

// exempt are messages that go to an opted-out patient on the channel they
// opted out on: the one opt-out confirmation and the HELP reply.
var exempt = map[string]bool{content.MsgStopConfirm: true, content.MsgHelp: true}

// maxPace is the longest a worker waits for a rate limit; a longer wait
// puts the entry back, due when the limit allows it, so one busy sender
// does not hold workers that other channels could use.
const maxPace = 2 * time.Second

// attempt is one entry's way through its channels.
type attempt struct {
	d       *Dispatcher
	ctx     context.Context
	e       store.OutboxEntry
	c       conversations.Contact
	now     time.Time
	status  string // the outcome to record if no channel takes it
	code    int
	channel string
	// dead is the reason of a temporary failure whose retry window had
	// ended, on deadChannel with deadCode: unless a later channel of the
	// chain takes the message, it becomes a dead letter.
	dead        string
	deadChannel string
	deadCode    int
}

func (d *Dispatcher) handle(ctx context.Context, e store.OutboxEntry) {
	a := &attempt{d: d, ctx: ctx, e: e, now: d.Clock(), status: "failed"}
	if a.stale(a.now) {
		return
	}
	if e.PatientID == "" {
		// A reply to a number that is not enrolled: no chain, no consent.
		a.c = conversations.Contact{Phone: e.To, Addresses: map[string]string{e.Channel: e.To}, Linked: a.d.Specs.Linked(), Chain: []string{e.Channel}}
		if e.Reply {
			// They just wrote: WhatsApp's window is open.
			a.c.WindowUntil = e.CreatedAt.Add(conversations.WindowLength)
		}
	} else {
		c, err := d.Consent.Contact(ctx, e.PatientID)
		if errors.Is(err, store.ErrNotFound) {
			a.finish(store.Delivery{Done: true, Status: "cancelled"})
			return
		}
		if err != nil {
			a.finish(store.Delivery{NotBefore: a.now.Add(time.Minute), Status: "queued"})
			return
		}
		a.c = c
	}
	if !e.Reply && !e.Urgent && a.hold("") {
		return
	}
	for ch := e.Channel; ch != ""; {
		if ch != e.Channel {
			if exempt[e.MessageID] {
				// The STOP confirmation and HELP answer the channel they
				// came on; on another they would make no sense.
				break
			}
			// A reply is exempt from quiet hours because the patient is
			// writing on its channel now; on another (a call!) it is not.
			if e.Reply && !e.Urgent && a.hold(ch) {
				return
			}
		}
		why := a.blocked(ch)
		if why == "" {
			next, done := a.send(ch)
			if done {
				return
			}
			why = next
		}
		if why == "opted_out" && a.status == "failed" && a.code == 0 {
			a.status = "suppressed"
		}
		d.log().Info("channel skipped", "message", e.ID, "channel", ch, "reason", why)
		ch = a.c.Next(ch)
	}
	if a.dead != "" {
		a.deadLetter()
		return
	}
	a.finish(store.Delivery{Done: true, Status: a.status, ErrorCode: a.code, Channel: a.channel})
}

// stale cancels the entry, and reports that it did, when it would go out
// after its StaleAfter (a dose reminder hours late does more harm than
// good): when is when it would be sent, now or at the end of a hold.
func (a *attempt) stale(when time.Time) bool {
	if a.e.StaleAfter.IsZero() || !when.After(a.e.StaleAfter) {
		return false
	}
	a.d.log().Info("message cancelled: stale", "message", a.e.ID, "channel", a.e.Channel, "reason", ReasonStale)
	a.finish(store.Delivery{Done: true, Status: "cancelled", Reason: ReasonStale})
	return true
}

// deadLetter gives the entry up: its retry window ended on a temporary
// failure and no other channel took it. It stays in the store, out of
// the queue, for an operator to resend or cancel.
func (a *attempt) deadLetter() {
	// The outbox id, channel, reason and code only: no number, no text.
	a.d.log().Warn("dead letter: message not sent within its retry window", "message", a.e.ID,
		"channel", a.deadChannel, "reason", a.dead, "code", a.deadCode, "attempts", a.e.Attempts+1)
	a.finish(store.Delivery{DeadAt: a.now, Status: "failed", ErrorCode: a.deadCode, Reason: a.dead,
		Attempted: true, Channel: a.deadChannel})
	if a.d.DeadLetter != nil {
		a.d.DeadLetter(a.deadChannel, a.dead)
	}
}

// hold puts the entry back until the patient's sending window opens, when
// it is closed now, and reports whether it did. channel, when set, is the
// channel the entry is to go on once released.
func (a *attempt) hold(channel string) bool {
	loc, err := conversations.LoadLocation(a.e.Timezone)
	if err != nil {
		loc = time.UTC
	}
	if a.d.Quiet.Allowed(a.now, loc) {
		return false
	}
	// The offset is the recipient's, so their held messages keep their
	// order when released.
	open := a.d.Quiet.NextOpen(a.now, loc).Add(conversations.Spread(a.e.PatientID+a.e.To, 30*time.Minute))
	if a.stale(open) {
		return true // it would be too late by the morning
	}
	a.finish(store.Delivery{NotBefore: open, Status: "held", Channel: channel})
	return true
}

// blocked says why ch cannot carry this entry now, "" when it can.
func (a *attempt) blocked(ch string) string {
	why := a.c.Blocked(ch)
	if why == "opted_out" && ch == a.e.Channel && (a.e.Urgent || exempt[a.e.MessageID]) {
		why = "" // the safety reply, the STOP confirmation, HELP
	}
	if why == "" && a.d.Specs.Of(ch).Window > 0 && !a.c.InWindow(a.now) && a.e.Template == "" {
		why = "no_template" // outside the window only templates may go
	}
	if why == "" && a.d.Senders[ch] == nil {
		why = "no_sender"
	}
	return why
}

// send tries the entry on ch. done reports that the entry was finished;
// otherwise why says why the next channel should be tried.
func (a *attempt) send(ch string) (why string, done bool) {
	d, e := a.d, a.e
	e.Channel, e.To = ch, a.c.Address(ch)
	spec := d.Specs.Of(ch)
	if spec.Window > 0 && a.c.InWindow(a.now) {
		e.Template, e.Vars = "", nil // free text inside the window
	}
	if next, paused := d.gate(ch, a.now); paused {
		// Not an attempt: the message is fine, our credentials are not.
		a.finish(store.Delivery{NotBefore: next, Status: "queued", Channel: ch})
		return "", true
	}
	if wait := d.Limits.reserve(ch, e.To, cost(spec, e), a.now, maxPace); wait > maxPace {
		a.finish(store.Delivery{NotBefore: a.now.Add(wait), Status: "queued", Channel: ch})
		return "", true
	} else if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			a.finish(store.Delivery{NotBefore: a.now, Status: "queued", Channel: ch})
			return "", true
		}
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), 20*time.Second)
	sid, status, err := d.Senders[ch].Send(sendCtx, e)
	cancel()
	if err == nil {
		d.resume(ch)
		if status == "" {
			status = "sent"
		}
		a.finish(store.Delivery{Done: true, Status: status, ProviderID: sid, Channel: ch})
		return "", true
	}
	var se *SendError
	code := 0
	var after time.Duration
	if errors.As(err, &se) {
		code, after = se.Code, se.RetryAfter
	}
	a.status, a.code, a.channel = "failed", code, ch
	switch {
	case errors.Is(err, ErrUnknownOutcome):
		d.log().Error("send outcome unknown; not resending", "message", e.ID, "channel", ch)
		a.finish(store.Delivery{Done: true, Status: "unknown", Channel: ch})
		return "", true
	case errors.Is(err, ErrAuth):
		next := d.pause(ch, code, a.now)
		a.finish(store.Delivery{NotBefore: next, Status: "queued", Channel: ch})
		return "", true
	case errors.Is(err, ErrWait):
		a.finish(store.Delivery{NotBefore: a.now.Add(max(after, time.Second)), Status: "queued", Channel: ch})
		return "", true
	case errors.Is(err, ErrRetry):
		reason := retryReason(se)
		until := e.RetryUntil
		if until.IsZero() {
			until = a.now.Add(d.retryWindow()) // the first temporary failure
		}
		if a.now.Before(until) {
			// Provider error text can quote the phone number: log the code only.
			d.log().Warn("send failed; will retry", "message", e.ID, "channel", ch, "attempt", e.Attempts+1,
				"reason", reason, "code", code, "retry_until", until)
			d.Limits.pause(ch, a.now.Add(after))
			a.finish(store.Delivery{NotBefore: nextTry(a.now, e.Attempts, after, until), Status: "retrying", ErrorCode: code,
				Reason: reason, Attempted: true, Channel: ch, RetryUntil: until})
			return "", true
		}
		// The window is over: the rest of the chain gets one try each, as
		// after a permanent failure; if none takes it, a dead letter.
		if a.dead == "" {
			a.dead, a.deadChannel, a.deadCode = reason, ch, code
		}
		d.log().Warn("send failed; retry window over", "message", e.ID, "channel", ch, "reason", reason, "code", code)
		return "retry_window_over", false
	case errors.Is(err, ErrOptedOut):
		a.c.OptedOut.Add(ch)
		if e.PatientID != "" {
			if err := d.Consent.ProviderOptOut(a.ctx, e.PatientID, ch); err != nil {
				d.log().Error("recording provider opt-out", "patient", e.PatientID, "err", err)
			}
		}
		return "provider_opt_out", false
	case errors.Is(err, ErrUnreachable):
		a.c.Unreachable.Add(ch)
		if e.PatientID != "" {
			if err := d.Consent.Unreachable(a.ctx, e.PatientID, ch); err != nil {
				d.log().Error("recording unreachable channel", "patient", e.PatientID, "err", err)
			}
		}
		return "unreachable", false
	case errors.Is(err, ErrFallback):
		if spec.Window > 0 {
			a.c.WindowUntil = time.Time{} // the provider knows better
		}
		return "provider_refused", false
	}
	d.log().Error("send failed", "message", e.ID, "channel", ch, "code", code)
	return "failed", false
}

// finish records the entry's outcome. It must land even when ctx is
// ending: the send happened.
func (a *attempt) finish(del store.Delivery) {
	if err := a.d.Outbox.Finish(context.WithoutCancel(a.ctx), a.e, del); err != nil {
		a.d.log().Error("recording delivery", "message", a.e.ID, "err", err)
	}
	ch := del.Channel
	if ch == "" {
		ch = a.e.Channel
	}
	a.d.observe(ch, del.Status, del.ErrorCode)
}

// cost is what a send counts against its channel's rate: segments for
// SMS, one for anything else.
func cost(spec Spec, e store.OutboxEntry) int {
	if !spec.Segments {
		return 1
	}
	n, _ := locales.Segments(conversations.Numbered(e.Text, e.Labels))
	return max(n, 1)
}

func (d *Dispatcher) retryWindow() time.Duration {
	if d.RetryWindow > 0 {
		return d.RetryWindow
	}
	return DefaultRetryWindow
}

// retryReason sorts a temporary failure into DeadLetterReasons: adapters
// give no code to a transport error, and a provider that asks us to slow
// down says so (429, Twilio 20429, a retry_after).
func retryReason(se *SendError) string {
	switch {
	case se == nil || se.Code == 0:
		return ReasonNetwork
	case se.RetryAfter > 0 || se.Code == 429 || se.Code == 20429:
		return ReasonRateLimited
	}
	return ReasonProviderError
}

// nextTry is when a message that failed its attempt n (0-based) now is
// tried again: after its backoff or the provider's retry-after, whichever
// is longer, but no later than the end of its window (until), so that
// the window's last try is at its end; a provider's retry-after still
// wins over the window.
func nextTry(now time.Time, n int, after time.Duration, until time.Time) time.Time {
	next := now.Add(max(Backoff(n), after))
	if next.After(until) {
		next = until
		if earliest := now.Add(after); earliest.After(next) {
			next = earliest
		}
	}
	return next
}

func (d *Dispatcher) observe(channel, status string, code int) {
	if d.Observe != nil {
		d.Observe(channel, status, code)
	}
}

// Backoff is the wait before retry n (0-based): exponential from 2 s, capped
// at 10 min, with jitter (half of it random) so that retries after an
// outage spread out. Retries go on at that pace until the retry window
// ends.
func Backoff(n int) time.Duration {
	base := 2 * time.Second << min(n, 9)
	base = min(base, 10*time.Minute)
	return base/2 + rand.N(base/2+1)
}
