package store

import (
	"context"
	"errors"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/staff"
)

// Errors a backend returns; callers check them with errors.Is.
var (
	// ErrNotFound: no such patient (or the patient was unenrolled).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the session changed since it was loaded; reload and retry the turn.
	ErrConflict = errors.New("store: session changed since it was loaded")
	// ErrDuplicate: the commit's dedupe key was committed before; nothing was written.
	ErrDuplicate = errors.New("store: dedupe key already committed")
	// ErrPhoneTaken: another enrolled patient already has this phone number.
	ErrPhoneTaken = errors.New("store: phone number belongs to another patient")
	// ErrAddressTaken: another enrolled patient already has this address
	// on the same channel (a Telegram chat, say).
	ErrAddressTaken = errors.New("store: address belongs to another patient")
	// ErrNotDead: the outbox entry is still queued or being sent, not a
	// dead letter, so it cannot be resent or discarded.
	ErrNotDead = errors.New("store: outbox entry is not a dead letter")
)

// The enrollment a clinic registers, as the store keeps it. The types live
// in package enrollment so that the pure engine can read a patient without
// importing the store.
type (
	Patient     = enrollment.Patient
	Medication  = enrollment.Medication
	Refill      = enrollment.Refill
	Appointment = enrollment.Appointment
	Dispense    = enrollment.Dispense
)

// Session is a patient's encoded conversation state and its version, which a
// Commit must present unchanged (compare-and-set).
type Session struct {
	Data    []byte
	Version uint64 // 0: no session stored yet
}

// Event is one entry of a patient's timeline. Type decides which fields are set:
//
//	message.in, message.out: Channel, Text, Status (Staff: a person wrote it)
//	adherence:               Medication, Status (taken | not_taken | not_yet | no_answer | undelivered;
//	                         missed in timelines from before these, read as not_taken)
//	escalation:              Priority (low | medium | high | acute), Reason
//	consent:                 Channel, Status (opted_out | opted_in)
//	channel:                 Channel, Status (linked | unreachable)
//	enrollment:              Status (unenrolled)
//	quiz:                    Quiz, Question, Correct
//	reading:                 Kind, Value ("150/95", "82.4"), Unit, Source (device | patient), Level
//	                         (normal | watch | alert | acute), Rule, Status (recorded | unconfirmed)
//	episode:                 Condition, Rule, Status (confirming | opened | attached | raised | closed |
//	                         dismissed), Priority, Ticket
//	risk:                    Status (low | medium | high | acute), Text (the explanation, one point a
//	                         line), Reason (why it changed: event | nightly | pinned)
//	lesson:                  Quiz (the lesson), Question (the item), Correct, Confidence (1-5),
//	                         Status (mastered | reinforce | reteach | misconception | passed | failed)
//	dispense:                Medication, Date, Days (days' supply)
//	ticket:                  Ticket, Status (claimed | released | resolved | reopened), Staff
//	note:                    Ticket, Staff, Text (never sent to the patient)
//	page:                    Ticket, Channel (sms | voice), Status (sent | acknowledged), Staff (the on-call number)
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Channel    string    `json:"channel,omitempty"`
	Text       string    `json:"text,omitempty"`
	Status     string    `json:"status,omitempty"`
	Medication string    `json:"medication,omitempty"`
	Priority   string    `json:"priority,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Quiz       string    `json:"quiz,omitempty"`
	Question   string    `json:"question,omitempty"`
	Correct    *bool     `json:"correct,omitempty"`
	Flow       string    `json:"flow,omitempty"`
	ErrorCode  int       `json:"error_code,omitempty"`
	// ProviderID is the provider's id of a sent message (Twilio's SM...),
	// so support can trace a message in the provider's console.
	ProviderID string `json:"provider_id,omitempty"`
	// Message is the content message id of a message.out, so a message
	// sent again on another channel keeps what it is (a safety reply).
	Message string `json:"message,omitempty"`
	// Staff is the person who wrote a message.out or a note, or claimed,
	// released or resolved a ticket.
	Staff string `json:"staff,omitempty"`
	// Ticket is the ticket a ticket or note event is about.
	Ticket string `json:"ticket,omitempty"`
	// The clinical events' fields (see the table above). Kind, Value,
	// Condition, Rule and Date are PHI: the seal seals them.
	Kind       string `json:"kind,omitempty"`
	Value      string `json:"value,omitempty"`
	Unit       string `json:"unit,omitempty"`
	Source     string `json:"source,omitempty"`
	Level      string `json:"level,omitempty"`
	Condition  string `json:"condition,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Confidence int    `json:"confidence,omitempty"`
	Date       string `json:"date,omitempty"`
	Days       int    `json:"days,omitempty"`
}

// OutboxEntry is a message waiting to be sent. Its ID is also the ID of its
// message.out timeline event and the idempotency key of the send.
type OutboxEntry struct {
	ID        string   `json:"id"`
	PatientID string   `json:"patient_id,omitempty"` // empty for replies to unknown numbers
	Channel   string   `json:"channel"`
	To        string   `json:"to"`
	Text      string   `json:"text"`
	MessageID string   `json:"message_id,omitempty"` // content message id, for channels that map templates
	Choices   []string `json:"choices,omitempty"`    // choice ids, for channels with buttons
	// Labels are the choices' rendered labels. When set, Text is the
	// message without them and each channel lays them out its own way
	// (numbered lines, buttons, "press 1 for ...").
	Labels []string `json:"labels,omitempty"`
	// Step identifies the question the choices answer, so a button pressed
	// on an old question is recognized as stale.
	Step uint32 `json:"step,omitempty"`
	// Template and Vars are the pre-approved template (Twilio ContentSid)
	// and its variables, for channels that allow only templates outside a
	// session window (WhatsApp). Vars are positional: Vars[0] is {{1}}.
	Template string   `json:"template,omitempty"`
	Vars     []string `json:"vars,omitempty"`
	Timezone string   `json:"timezone,omitempty"` // for quiet hours
	// Ticket is the ticket a page to the care team is about (PatientID is
	// then empty): a page call's webhooks name it.
	Ticket    string    `json:"ticket,omitempty"`
	Reply     bool      `json:"reply,omitempty"`  // a direct reply: exempt from quiet hours
	Urgent    bool      `json:"urgent,omitempty"` // a safety reply: exempt from quiet hours and holds
	NotBefore time.Time `json:"not_before"`
	Attempts  int       `json:"attempts,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// StaleAfter, when set, is when the message stops being worth sending
	// (a dose reminder two hours after its dose): the dispatcher cancels
	// it then rather than send it late. The Runner sets it.
	StaleAfter time.Time `json:"stale_after,omitzero"`
	// RetryUntil ends the window in which temporary failures are retried;
	// zero until the first one (Delivery.RetryUntil), cleared by Resend.
	RetryUntil time.Time `json:"retry_until,omitzero"`
	// LastError and ErrorCode say why the last attempt failed: a reason
	// from the dispatcher's fixed set (never provider text, which can
	// quote a phone number) and the provider's code.
	LastError string `json:"last_error,omitempty"`
	ErrorCode int    `json:"error_code,omitempty"`
	// FailedAt is when the entry became a dead letter (Delivery.DeadAt);
	// zero for an entry that is queued or being sent.
	FailedAt time.Time `json:"failed_at,omitzero"`
}

// Timer wakes a patient's conversation at Due. Name is unique per patient;
// setting a timer with an existing name moves it.
type Timer struct {
	PatientID string    `json:"patient_id"`
	Name      string    `json:"name"`
	Due       time.Time `json:"due"`
}

// Escalation is a ticket for a human: a nurse or care coach.
type Escalation struct {
	ID        string    `json:"id"`
	PatientID string    `json:"patient"`
	Team      string    `json:"team,omitempty"` // the patient's team when it opened
	Priority  string    `json:"priority"`
	Reason    string    `json:"reason"`
	OpenedAt  time.Time `json:"opened_at"`
	Due       time.Time `json:"due"`
	// Status is open, claimed, resolved or reopened ("closed" in data
	// written before tickets could be claimed).
	Status     string    `json:"status"`
	Owner      string    `json:"owner,omitempty"` // the staff member who claimed it
	ClaimedAt  time.Time `json:"claimed_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// AckedBy is the on-call number that acknowledged a page about the
	// ticket (pressed 1 on a page call), AckedAt when: paging stops, and
	// the ticket waits for a claim. A release or a reopen clears them.
	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`
}

// Ticket statuses. A reopened ticket is one the patient wrote about again
// soon after it was resolved: it waits for a claim like an open one, and
// says why it is back.
const (
	TicketOpen     = "open"
	TicketClaimed  = "claimed"
	TicketResolved = "resolved"
	TicketReopened = "reopened"
)

// Waiting reports whether the ticket waits for someone to claim it: it is
// open or reopened.
func (e Escalation) Waiting() bool { return e.Status == TicketOpen || e.Status == TicketReopened }

// Commit is everything one turn writes. A backend applies all of it
// atomically or none of it.
type Commit struct {
	// PatientID may be empty only for a commit that carries nothing but
	// outbox entries and a dedupe key (a reply to an unknown number).
	PatientID string
	// Version is the version of the session the turn started from; the
	// commit fails with ErrConflict when the stored version differs.
	Version uint64
	// Session is the new encoded session; nil leaves it unchanged.
	Session []byte
	// Patient, when set, creates or replaces the enrollment (the phone and
	// address indexes follow it). A commit without Patient fails with ErrNotFound when the
	// patient is not enrolled.
	Patient *Patient
	// DedupeKey is the provider's id of the inbound message; when it was
	// committed before the commit fails with ErrDuplicate and writes nothing.
	DedupeKey    string
	Events       []Event
	Outbox       []OutboxEntry
	SetTimers    []Timer
	DeleteTimers []string // timer names of PatientID
	Escalations  []Escalation
}

// Delivery is the outcome of an attempt to send a claimed outbox entry.
type Delivery struct {
	// Done removes the entry from the outbox; otherwise it goes back to
	// pending, due at NotBefore (a retry or a hold for quiet hours).
	Done      bool
	NotBefore time.Time
	// Attempted counts a failed send toward the entry's Attempts; a hold
	// (quiet hours, a consent check that could not run) does not.
	Attempted bool
	// Status, ProviderID and ErrorCode are written to the message.out event
	// (a status never replaces one further along; see StatusAdvances).
	Status     string
	ProviderID string
	ErrorCode  int
	// Channel, when set, is the channel the message went out on, or will be
	// retried on, after a fallback; the entry and its event take it.
	Channel string
	// RetryUntil, when set, is written to an entry that goes back to
	// pending: the end of its retry window, set at its first temporary
	// failure.
	RetryUntil time.Time
	// Reason is why the attempt failed or the message was cancelled, from
	// the dispatcher's fixed set: after a failed attempt (Attempted or
	// DeadAt) the entry's LastError, ErrorCode going with it; and the
	// event's Reason whenever its Status is written ("" clears it).
	Reason string
	// DeadAt, when set, makes the entry a dead letter given up at that
	// time: it leaves the queue (Done is implied) but stays, with
	// Reason, ErrorCode and Channel, for an operator to resend or discard
	// (Outbox.DeadLetters).
	DeadAt time.Time
}

// Store is the contract of a Tend backend: the roles below, each of which
// a consumer (or a decorator such as seal) can name alone when it needs
// only that part. All methods are safe for concurrent use.
type Store interface {
	Sessions
	Timeline
	Tickets
	Timers
	Outbox
	Codes
	Staff
	Audit
	Logins
	Jobs

	// Ready reports whether the backend can serve.
	Ready(ctx context.Context) error
	Close() error
}

// Sessions keeps enrollments and conversations: what one turn reads and
// the one atomic Commit it writes.
type Sessions interface {
	// Load returns a patient's enrollment and session (Version 0 and nil
	// Data when none was committed yet); ErrNotFound if not enrolled.
	Load(ctx context.Context, patientID string) (Patient, Session, error)
	// PatientByPhone finds an enrolled patient by E.164 phone number.
	PatientByPhone(ctx context.Context, phone string) (Patient, error)
	// PatientByAddress finds an enrolled patient by their address on a
	// channel that does not go by phone number (Patient.Addresses): the
	// linked chat id for "telegram".
	PatientByAddress(ctx context.Context, channel, addr string) (Patient, error)
	// Commit writes one turn atomically (see Commit).
	Commit(ctx context.Context, c Commit) error
	// DeletePatient unenrolls: removes the enrollment, its phone and
	// address indexes, its session, its timers and its pending outbox entries. The timeline and
	// escalations stay (audit). ErrNotFound if not enrolled.
	DeletePatient(ctx context.Context, patientID string) error
}

// Timeline keeps each patient's events. Commit appends to it.
type Timeline interface {
	// Timeline returns a patient's events, oldest first.
	Timeline(ctx context.Context, patientID string) ([]Event, error)
	// UpdateEvent reads one event, lets fn change it, and writes it back
	// when fn returns true. ErrNotFound if there is no such event.
	UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*Event) bool) error
}

// Tickets lists the escalations commits opened and closed.
type Tickets interface {
	// Escalations lists escalations with the given status ("" for all),
	// oldest first.
	Escalations(ctx context.Context, status string) ([]Escalation, error)
	// Escalation returns one ticket; ErrNotFound if there is none.
	Escalation(ctx context.Context, id string) (Escalation, error)
}

// Timers lists the timers commits set, for the scheduler.
type Timers interface {
	// Timers lists one patient's timers.
	Timers(ctx context.Context, patientID string) ([]Timer, error)
	// DueTimers lists timers due at or before now, earliest first. Timers
	// stay until a commit deletes or moves them.
	DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error)
}

// Outbox hands the messages commits queued to the dispatcher.
type Outbox interface {
	// ClaimOutbox durably marks up to limit pending entries due at or before
	// now as being sent and returns them, oldest first. A claimed entry is
	// not returned again until Finish puts it back.
	ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxEntry, error)
	// Claimed lists entries that were claimed and never finished: after a
	// crash their send's outcome is unknown.
	Claimed(ctx context.Context) ([]OutboxEntry, error)
	// Finish records the outcome of a claimed entry (see Delivery).
	Finish(ctx context.Context, entry OutboxEntry, d Delivery) error
	// OutboxDepth counts entries not yet finished (pending and claimed);
	// dead letters are not counted.
	OutboxDepth(ctx context.Context) (int, error)

	// DeadLetters lists dead letters (Delivery.DeadAt) in ID order, which
	// is the order they were queued in (the Runner's ids are time-ordered):
	// at most limit of them (0 or less: all), those with an ID after after ("":
	// from the first). A page ends at the last ID it returned.
	DeadLetters(ctx context.Context, after string, limit int) ([]OutboxEntry, error)
	// Resend puts dead letter id back in the queue, due at now, with a
	// fresh retry window: Attempts, RetryUntil, LastError, ErrorCode and
	// FailedAt are cleared. Its message.out event goes back to "queued",
	// the one change that takes a status back. It returns the entry as
	// queued; ErrNotFound when there is no such entry, ErrNotDead when it
	// is queued or being sent.
	Resend(ctx context.Context, id string, now time.Time) (OutboxEntry, error)
	// Discard removes dead letter id; its message.out event becomes
	// "cancelled" with reason (ErrorCode cleared). It returns the entry as
	// it was; errors as Resend's.
	Discard(ctx context.Context, id, reason string) (OutboxEntry, error)

	// OutboxPatient returns the patient outbox entry id was queued for, by
	// the ID alone: the URLs Tend gives a provider name the entry and never
	// the patient, and a status report on them (delivered, read, failed)
	// can come hours after the entry was sent and removed. The commit that
	// queues an entry keeps its patient for the dedupe retention (7 days
	// by default); ErasePatient removes it. ErrNotFound for an unknown or
	// expired id and for a reply to an unknown number.
	OutboxPatient(ctx context.Context, id string) (string, error)
}

// Staff keeps the accounts of the people who work the console. An account
// holds no patient data; its password only as a hash.
type Staff interface {
	// PutStaff writes an account, keyed by its email; with create it fails
	// with staff.ErrExists when the email has one already.
	PutStaff(ctx context.Context, a staff.Account, create bool) error
	// StaffAccount returns the account of email; ErrNotFound if none.
	StaffAccount(ctx context.Context, email string) (staff.Account, error)
	// StaffAccounts lists every account in email order.
	StaffAccounts(ctx context.Context) ([]staff.Account, error)
}

// Login is a signed-in console session.
type Login struct {
	Email   string    `json:"email"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`    // the last request, for the idle logoff
	Expires time.Time `json:"expires"` // the absolute end
	// SecondStep: the password was right and the TOTP code is still to
	// come. Such a login signs nothing in; it lives a few minutes.
	SecondStep bool `json:"second_step,omitempty"`
}

// Logins keeps the console's sessions, so that they survive restarts and
// replicas share them. Callers key them by a hash of the cookie's secret.
type Logins interface {
	// PutLogin writes a session under id.
	PutLogin(ctx context.Context, id string, l Login) error
	// Login returns a session; ErrNotFound when unknown or expired at now.
	Login(ctx context.Context, id string, now time.Time) (Login, error)
	// DeleteLogin ends a session (no error when there is none).
	DeleteLogin(ctx context.Context, id string) error
}

// Job is the progress of a bulk request (a flow start for many patients,
// a batch of enrollments) that the Runner works through in the
// background, so that the request can answer at once and the client can
// follow it. It holds counts and a few errors that name a line, a patient
// id and a field, never a value: no patient data.
type Job struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // JobFlowStart or JobEnroll
	Flow string `json:"flow,omitempty"`
	// State is JobRunning, JobDone or JobInterrupted (a running job whose
	// Updated stopped moving: the server that ran it stopped).
	State string `json:"state"`
	Total int    `json:"total"`
	// Done counts patients started (or enrolled), Skipped those this job
	// had already started before a resume, Failed the rest.
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	// Errors are the first failures (at most MaxJobErrors).
	Errors  []string  `json:"errors,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Job kinds and states.
const (
	JobFlowStart   = "flow-start"
	JobEnroll      = "enroll"
	JobRunning     = "running"
	JobDone        = "done"
	JobInterrupted = "interrupted"
)

// MaxJobErrors bounds the errors a job keeps: enough to find what is wrong
// with a file, not a copy of it.
const MaxJobErrors = 20

// JobRetention is how long a job stays readable after its last update.
const JobRetention = 30 * 24 * time.Hour

// Jobs keeps the progress of bulk requests. Only the Runner that works a
// job writes it; readers may be on any replica.
type Jobs interface {
	// PutJob writes a job, replacing the one with its ID; it is kept for
	// JobRetention after Updated.
	PutJob(ctx context.Context, j Job) error
	// Job returns a job as last written; ErrNotFound when unknown or
	// older than JobRetention at now.
	Job(ctx context.Context, id string, now time.Time) (Job, error)
}

// Audit keeps the append-only, hash-chained audit log (package audit).
// It is never trimmed with timelines.
type Audit interface {
	// AppendAudit seals r after the last record (audit.Seal) and appends
	// it, atomically: concurrent appends from several replicas still make
	// one chain. It returns the record as stored.
	AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error)
	// AuditRecords calls fn with every record in order and stops at the
	// first error fn returns, which it returns.
	AuditRecords(ctx context.Context, fn func(audit.Record) error) error
}

// Codes keeps short-lived keys outside any conversation: single-use codes
// (a Telegram link) and Once windows (the one reply per window to an
// unknown number).
type Codes interface {
	// PutCode stores a single-use code (callers pass a hash of the secret,
	// never the secret) that stands for value until expires.
	PutCode(ctx context.Context, code, value string, expires time.Time) error
	// TakeCode returns a code's value and deletes the code, atomically: of
	// two concurrent takes one wins. ErrNotFound when the code is unknown,
	// used or expired at now.
	TakeCode(ctx context.Context, code string, now time.Time) (string, error)
	// Once reports whether key was not seen in the last ttl, and records it.
	Once(ctx context.Context, key string, ttl time.Duration, now time.Time) (bool, error)
}

// PatientLister is implemented by backends that can list every enrolled
// patient, for maintenance jobs such as re-sealing; it is not part of the
// turn path. PatientIDs calls fn with each enrolled patient's id and stops
// at the first error fn returns, which it returns. fn may read and write
// the store. The listing is not a snapshot: a patient enrolled or
// unenrolled meanwhile may or may not be listed, and a backend may list an
// id more than once (Redis SCAN does when the server resizes its tables),
// so fn must tolerate both.
type PatientLister interface {
	PatientIDs(ctx context.Context, fn func(id string) error) error
}

// TimerClaimer is implemented by backends that several replicas share.
// ClaimTimers returns due timers as DueTimers does, and hides each from
// other claims for lease, so that replicas split the due work instead of all
// racing for the same timers. A claimed timer that its claimer neither fires
// nor moves (the replica died) comes due again when the lease ends.
type TimerClaimer interface {
	ClaimTimers(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Timer, error)
}

// Eraser is implemented by backends that can forget a patient entirely,
// for a right-to-erasure request. ErasePatient removes everything the
// store holds of the patient except the audit log: enrollment, indexes,
// session, timers, timeline, every outbox entry (claimed and dead ones
// too) and what OutboxPatient knows of them, the patient's tickets, the dedupe keys of the patient's turns and
// single-use codes that stand for the patient. It works on an unenrolled
// patient's leftovers too, and returns ErrNotFound when the store holds
// nothing of the patient. Once keys name no enrolled patient (a hash of
// an unknown number, a staff sign-in) and are left to expire.
type Eraser interface {
	ErasePatient(ctx context.Context, patientID string) error
}

// PatientPager is implemented by backends that can list enrollments a
// page at a time, for the API's listing and exports. ListPatients
// returns up to limit enrolled patients (limit > 0) with an id after
// after ("": from the first), in id order; a page ends at the last id it
// returned, and a short page is the last.
type PatientPager interface {
	ListPatients(ctx context.Context, after string, limit int) ([]Patient, error)
}
