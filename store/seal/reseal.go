package seal

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendcare/tend/store"
)

// resealAttempts bounds how often Reseal reloads a patient whose session
// keeps changing under it (a turn committed in between).
const resealAttempts = 20

// Reseal rewrites every enrolled patient's sealed values under the active
// key of st's ring, so that the keys below it stop being needed. st must be
// a store from Wrap whose inner store implements store.PatientLister.
// progress, when set, is called after each patient with how many were done.
// Reseal returns how many patients it re-sealed; it stops at the first
// error (ctx cancelled, a value it cannot open), and running it again
// finishes the job.
//
// For each patient it loads the enrollment and session (opened under any
// key of the ring) and commits them back unchanged with the patient's
// timers, which Commit seals under the active key, deleting the timer names
// sealed under other keys and moving the phone and chat indexes. The
// commit presents the loaded session version, and every turn and
// enrollment writes the session, so a turn that committed in between
// makes it fail with store.ErrConflict instead of being overwritten:
// Reseal then reloads and tries again. That is what makes it safe while
// the service runs. A patient unenrolled in between is skipped. (A patient without a session,
// which the service never leaves behind, could be enrolled again by a
// Reseal that races with its unenrollment.)
//
// Then every timeline event of the patient with a value not sealed under
// the active key is rewritten through UpdateEvent; events already sealed
// under it are not written again, so a second run is cheap.
//
// Then every staff account whose TOTP secret is sealed under another key
// is written back sealed under the active one. (Staff writes are not
// compare-and-set: a change to that account made at the same instant
// could be overwritten; Reseal skips accounts already under the active
// key, so this touches each account once per rotation.)
//
// Reseal leaves alone:
//   - pending outbox entries: they are short-lived (sent within minutes, or
//     held for quiet hours until the next morning) and are opened with the
//     key that sealed them, so keep the old key until those queued before
//     the new key went out, and dead letters, which wait for an operator:
//     resend or cancel them (tend outbox) before an old key leaves;
//   - timelines of unenrolled patients (PatientIDs lists only enrolled
//     ones) and events without an ID (UpdateEvent cannot name them): keep
//     the old key as long as those must stay readable.
func Reseal(ctx context.Context, st store.Store, progress func(done int)) (int, error) {
	s, ok := st.(*sealed)
	if !ok {
		return 0, fmt.Errorf("seal: Reseal needs a store from Wrap, not %T", st)
	}
	lister, ok := s.inner.(store.PatientLister)
	if !ok {
		return 0, fmt.Errorf("seal: Reseal: %T cannot list patients: %w", s.inner, errors.ErrUnsupported)
	}
	tickets, err := s.staleTickets(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	err = lister.PatientIDs(ctx, func(id string) error {
		found, err := s.resealPatient(ctx, id, tickets[id])
		if err != nil || !found {
			return err
		}
		if err := s.resealTimeline(ctx, id); err != nil {
			return err
		}
		done++
		if progress != nil {
			progress(done)
		}
		return nil
	})
	if err != nil {
		return done, err
	}
	return done, s.resealStaff(ctx)
}

// resealStaff writes back the accounts whose TOTP secret is sealed under
// a key other than the active one (or is in the clear).
func (s *sealed) resealStaff(ctx context.Context) error {
	raw, err := s.inner.StaffAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range raw {
		if a.TOTPSecret == "" || keyIDOf(a.TOTPSecret) == s.keys.Active() {
			continue
		}
		opened, err := s.StaffAccount(ctx, a.Email)
		if err != nil {
			return fmt.Errorf("seal: re-sealing staff account %s: %w", a.Email, err)
		}
		if err := s.PutStaff(ctx, opened, false); err != nil {
			return fmt.Errorf("seal: re-sealing staff account %s: %w", a.Email, err)
		}
	}
	return nil
}

// resealPatient commits a patient's enrollment, session and timers back,
// sealed under the active key. It reports false for a patient that is not
// enrolled (any more).
func (s *sealed) resealPatient(ctx context.Context, id string, ticketIDs []string) (bool, error) {
	for range resealAttempts {
		p, sess, err := s.Load(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		timers, err := s.Timers(ctx, id)
		if err != nil {
			return false, err
		}
		tickets, err := s.openTickets(ctx, ticketIDs)
		if err != nil {
			return false, err
		}
		err = s.commit(ctx, store.Commit{PatientID: id, Version: sess.Version, Patient: &p, Session: sess.Data, SetTimers: timers,
			Escalations: tickets}, true)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		}
		return false, fmt.Errorf("seal: re-sealing patient %s: %w", id, err)
	}
	return false, fmt.Errorf("seal: re-sealing patient %s: the session changed %d times in a row", id, resealAttempts)
}

// staleTickets lists, by patient, the ids of tickets whose reason is not
// sealed under the active key. It reads every ticket once: a backend has
// no index of tickets by patient.
func (s *sealed) staleTickets(ctx context.Context) (map[string][]string, error) {
	all, err := s.inner.Escalations(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range all {
		if e.Reason != "" && keyIDOf(e.Reason) != s.keys.Active() {
			out[e.PatientID] = append(out[e.PatientID], e.ID)
		}
	}
	return out, nil
}

// openTickets reads tickets ids afresh, opened, for the commit that seals
// them again after the session was loaded (the version check of that
// commit then covers a change to them made by a turn in between).
func (s *sealed) openTickets(ctx context.Context, ids []string) ([]store.Escalation, error) {
	var out []store.Escalation
	for _, id := range ids {
		e, err := s.Escalation(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// resealTimeline rewrites the patient's events that hold a value not
// sealed under the active key. It reads them as stored, to tell which.
func (s *sealed) resealTimeline(ctx context.Context, id string) error {
	evs, err := s.inner.Timeline(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.ID == "" || !s.staleEvent(e) {
			continue
		}
		// The wrapper's UpdateEvent seals what fn returns under the active
		// key when the stored value is under another one.
		err := s.UpdateEvent(ctx, id, e.ID, func(*store.Event) bool { return true })
		if err != nil && !errors.Is(err, store.ErrNotFound) { // trimmed meanwhile
			return fmt.Errorf("seal: re-sealing event %s of patient %s: %w", e.ID, id, err)
		}
	}
	return nil
}
