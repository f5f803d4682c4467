package voice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/store"
)

// Defaults of a Sender's settings.
const (
	// DefaultMaxCalls is how many calls one voice number carries at once.
	// Twilio itself does not cap calls per number, but each call holds a
	// patient on the line for a minute or two while the IVR talks; a few at
	// a time keeps a burst of reminders from queuing behind Twilio's
	// calls-per-second limit (1 CPS on a new account) and spreads answers
	// through the morning instead of all at 08:00.
	DefaultMaxCalls = 4
	// DefaultRingTimeout is how long a call rings before Twilio gives up
	// with "no-answer" (seconds). Voicemail usually picks up after 20-25 s;
	// answering machine detection needs it to ring long enough to reach it.
	DefaultRingTimeout = 30
	// DefaultMaxCallLength frees a concurrency slot whose end was never
	// reported to this process (the callback went to another replica, or
	// was lost): no reminder call lasts this long.
	DefaultMaxCallLength = 15 * time.Minute
	// busyRetry is how long a send waits when every line of the number is
	// in use.
	busyRetry = 5 * time.Second
)

// Sender places reminder calls through Twilio's Calls API. The call's
// TwiML comes from the answer webhook, which asks the runner what to say,
// so what the patient hears is decided when they pick up, not when the call
// was queued.
//
// It bounds the calls in progress on its number (MaxCalls). The count is
// kept in this process: with several replicas each one allows MaxCalls, so
// the number may carry replicas×MaxCalls calls at once; and a call whose
// "completed" callback reaches another replica keeps its slot here until
// MaxCallLength has passed. Size MaxCalls for the replica count.
type Sender struct {
	Client *twiliogo.RestClient
	// From is the voice number calls come from (E.164).
	From      string
	PublicURL string
	// MaxCalls bounds the calls in progress from From (default
	// DefaultMaxCalls); a send over it waits a few seconds and retries.
	MaxCalls int
	// RingTimeout is how long a call rings, in seconds (default
	// DefaultRingTimeout).
	RingTimeout int
	// MaxCallLength frees a slot whose call never reported its end
	// (default DefaultMaxCallLength).
	MaxCallLength time.Duration
	// Clock ages slots: the Runner's (required).
	Clock func() time.Time

	mu sync.Mutex
	// active maps an outbox entry id to when its slot frees at the latest.
	// Slots are keyed by the entry, not the CallSid: the status callback
	// names the entry in its URL, and a send whose outcome is unknown has
	// no CallSid but may still have placed a call.
	active map[string]time.Time
}

func (s *Sender) now() time.Time { return s.Clock() }

func (s *Sender) maxCalls() int {
	if s.MaxCalls > 0 {
		return s.MaxCalls
	}
	return DefaultMaxCalls
}

// acquire takes a slot for an outbox entry, or reports that every slot is
// in use. Slots past their deadline are freed first.
func (s *Sender) acquire(id string) bool {
	now := s.now()
	hold := s.MaxCallLength
	if hold <= 0 {
		hold = DefaultMaxCallLength
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		s.active = map[string]time.Time{}
	}
	for k, until := range s.active {
		if !now.Before(until) {
			delete(s.active, k)
		}
	}
	if _, ok := s.active[id]; !ok && len(s.active) >= s.maxCalls() {
		return false
	}
	s.active[id] = now.Add(hold)
	return true
}

// Release frees the slot of the call placed for an outbox entry: the
// status webhook calls it when the call ends. Unknown ids are ignored.
func (s *Sender) Release(outboxID string) {
	s.mu.Lock()
	delete(s.active, outboxID)
	s.mu.Unlock()
}

// Active reports how many calls hold a slot now.
func (s *Sender) Active() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, until := range s.active {
		if now.Before(until) {
			n++
		}
	}
	return n
}

// callURLs returns the answer and status callback URLs of a call placed for
// an outbox entry. They carry the entry and the attempt, so that every
// webhook of the call knows what it is about without server state, and no
// patient id: Twilio keeps these URLs, and the webhooks find the patient
// from the entry (Turns.OutboxPatient).
func callURLs(publicURL string, e store.OutboxEntry) (answer, status string) {
	q := url.Values{"o": {e.ID}, "a": {strconv.Itoa(e.Attempts)}}.Encode()
	base := strings.TrimSuffix(publicURL, "/")
	return base + AnswerPath + "?" + q, base + StatusPath + "?" + q
}

// Send places a call to e.To: a patient's call, or, for an entry with a
// ticket and no patient, a page call to staff (see PageAnswerPath). The
// call's first status is Twilio's ("queued"). e.Attempts is the attempt
// number the runner gave a retry of an unanswered call (0 for the first
// call); it travels in the webhook URLs so that the status callback can
// ask for the next attempt.
func (s *Sender) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	if e.PatientID == "" && e.Ticket == "" {
		// A call speaks the patient's waiting conversation, or pages the
		// care team about a ticket; a message to a number that is not
		// enrolled has nothing to say on a call.
		return "", "", &channels.SendError{Err: errors.New("voice: a call needs a patient or a ticket")}
	}
	if !s.acquire(e.ID) {
		return "", "", &channels.SendError{Class: channels.ErrWait, RetryAfter: busyRetry,
			Err: errors.New("voice: every line of the number is in use")}
	}
	answer, status := callURLs(s.PublicURL, e)
	if e.PatientID == "" {
		answer, status = pageURLs(s.PublicURL, e) // a page to staff
	}
	ring := s.RingTimeout
	if ring <= 0 {
		ring = DefaultRingTimeout
	}
	p := &openapi.CreateCallParams{}
	p.SetTo(e.To)
	p.SetFrom(s.From)
	p.SetUrl(answer)
	p.SetMethod(http.MethodPost)
	p.SetStatusCallback(status)
	p.SetStatusCallbackMethod(http.MethodPost)
	p.SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	// Synchronous detection: the answer webhook waits for it and carries
	// AnsweredBy, so a machine gets the short voicemail, never the script.
	p.SetMachineDetection("Enable")
	p.SetTimeout(ring)

	// When ctx ends first the call may still be placed: its slot is kept
	// (the status callback or MaxCallLength frees it) and it is not
	// retried blindly.
	c, err := twilio.Do(ctx, func() (*openapi.ApiV2010Call, error) { return s.Client.Api.CreateCall(p) }, classify)
	if err != nil {
		if !errors.Is(err, channels.ErrUnknownOutcome) {
			s.Release(e.ID) // no call was placed
		}
		return "", "", err
	}
	sid, st := "", "queued"
	if c.Sid != nil {
		sid = *c.Sid
	}
	if c.Status != nil && *c.Status != "" {
		st = *c.Status
	}
	return sid, st, nil
}

// classify sorts a twilio-go error into the dispatcher's classes. Calls
// share Twilio's REST errors and transport behaviour with messages, so the
// SMS channel's rules apply: 429, 5xx and failed connections are
// temporary, 401 pauses the channel (ErrAuth), 21610 is an opt-out, other API errors (21211 invalid number,
// 21215 and 13227 geographic permissions, 21216 blocked, ...) are
// permanent, and a transport error after the connection was made may have
// placed the call (calling again could ring the patient twice): its
// outcome is unknown.
func classify(err error) error { return twilio.Classify(err) }
