package runner

import (
	"context"
	"fmt"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/store"
)

// Dead letters: messages the dispatcher gave up on when their retry window
// ended (a provider outage longer than TEND_RETRY_WINDOW). An operator
// lists them and resends or cancels each, from the API or tend outbox on
// the command line; the rules and the audit records are here, so that
// both keep them.

// DeadLetters lists up to limit dead letters after the one with ID after
// ("": from the first), oldest first. The listing is audited, and not
// served when its record cannot be written.
func (r *Runner) DeadLetters(ctx context.Context, by Actor, after string, limit int) ([]store.OutboxEntry, error) {
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: audit.ListOutbox, Detail: "failed"}); err != nil {
		return nil, fmt.Errorf("dead letters not listed: audit record not written: %w", err)
	}
	return r.Store.DeadLetters(ctx, after, limit)
}

// ResendDeadLetter queues dead letter id again, due now, with a fresh
// retry window; its timeline event goes back to queued, then on to sent.
// A dose reminder past its time is still cancelled as stale by the
// dispatcher rather than sent late. Errors: store.ErrNotFound,
// store.ErrNotDead (queued or being sent), ErrNotAudited (it was
// queued).
func (r *Runner) ResendDeadLetter(ctx context.Context, by Actor, id string) (store.OutboxEntry, error) {
	e, err := r.Store.Resend(ctx, id, r.Clock())
	if err != nil {
		return e, err
	}
	r.log().Info("dead letter queued again", "message", e.ID, "channel", e.Channel, "by", by.Staff)
	if r.Notify != nil {
		r.Notify()
	}
	return e, r.settled(ctx, by, audit.ResendMessage, e)
}

// CancelDeadLetter removes dead letter id for good; its timeline event
// becomes cancelled with reason operator. Errors as ResendDeadLetter's.
func (r *Runner) CancelDeadLetter(ctx context.Context, by Actor, id string) (store.OutboxEntry, error) {
	e, err := r.Store.Discard(ctx, id, channels.ReasonOperator)
	if err != nil {
		return e, err
	}
	r.log().Info("dead letter cancelled", "message", e.ID, "channel", e.Channel, "by", by.Staff)
	return e, r.settled(ctx, by, audit.CancelMessage, e)
}

// settled tells the console of the patient's changed timeline and audits
// what by did to dead letter e.
func (r *Runner) settled(ctx context.Context, by Actor, action string, e store.OutboxEntry) error {
	if e.PatientID != "" {
		r.changedPatient(ctx, e.PatientID)
	}
	rec := audit.Record{Staff: by.Staff, From: by.From, Action: action, Patient: e.PatientID, Detail: e.ID}
	if err := r.Audit(ctx, rec); err != nil {
		return fmt.Errorf("%w: %w", ErrNotAudited, err)
	}
	return nil
}
