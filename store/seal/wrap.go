package seal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Field names: the additional authenticated data of each sealed value, so a
// value sealed for one field does not open as another.
const (
	fieldPhone         = "patient.phone"
	fieldMedicationID  = "medication.id"
	fieldMedicationDsp = "medication.display"
	fieldRefill        = "refill.medication"
	fieldSession       = "session"
	fieldEventText     = "event.text"
	fieldEventMed      = "event.medication"
	fieldOutboxTo      = "outbox.to"
	fieldOutboxText    = "outbox.text"
	fieldOutboxLabel   = "outbox.label"
	fieldOutboxVar     = "outbox.var"
	fieldTimer         = "timer.name"
	fieldTOTP          = "staff.totp"
	fieldProgram       = "patient.program"
	fieldCondition     = "patient.condition"
	fieldSocialNeed    = "patient.social_need"
	fieldApptID        = "appointment.id"
	fieldApptAt        = "appointment.at"
	fieldRefillDate    = "refill.date"
	fieldEventReason   = "event.reason"
	fieldEventQuiz     = "event.quiz"
	fieldEventQuestion = "event.question"
	fieldEventFlow     = "event.flow"
	fieldEventValue    = "event.value" // an adherence event's status
	fieldEventAnswer   = "event.answer"
	fieldEventKind     = "event.kind"
	fieldEventReading  = "event.reading"
	fieldEventCond     = "event.condition"
	fieldEventRule     = "event.rule"
	fieldEventDate     = "event.date"
	fieldTicketReason  = "ticket.reason"

	// Kinds of hashed lookup keys (Keyring.hashKey).
	hashDedupe = "dedupe"
	hashOnce   = "once"
)

// addressField is the field of a patient's address on channel:
// "patient.<channel>", so an address sealed for one channel does not open
// as another's. For Telegram it is "patient.telegram", the field chats
// were sealed under before addresses were generic, so those open, and are
// found, as they are.
func addressField(channel string) string { return "patient." + channel }

// timerField binds a timer name to its patient: the same reminder of two
// patients seals differently, and a sealed name moved to another patient
// does not open.
func timerField(patientID string) string { return fieldTimer + "\x00" + patientID }

// totpField binds a staff member's TOTP secret to their account, so a
// sealed secret copied onto another account does not open.
func totpField(email string) string { return fieldTOTP + "\x00" + email }

// sessionField binds a session to its patient.
func sessionField(patientID string) string { return fieldSession + "\x00" + patientID }

// releaseDelay is how long ClaimOutbox holds an entry it could not open
// before it is due again, so that such entries do not starve the others.
const releaseDelay = time.Minute

// maxRemembered bounds the sealed copies of claimed entries kept for Finish;
// beyond it Finish re-seals the caller's entry.
const maxRemembered = 1 << 16

// Wrap returns a store that seals PHI (see the package documentation)
// before it reaches inner and opens it on the way back. inner keeps its
// contract unchanged: Wrap(inner, keys) passes store/storetest whenever
// inner does. The returned store has an Unwrap method that returns inner.
func Wrap(inner store.Store, keys *Keyring, opts ...Option) store.Store {
	if keys == nil || len(keys.keys) == 0 {
		panic("seal: Wrap without keys")
	}
	s := &sealed{inner: inner, keys: keys, claimed: map[string]store.OutboxEntry{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Option changes what Wrap does.
type Option func(*sealed)

// WithClearLookups makes the store also look up phone numbers, addresses
// and timer names in the clear, after every key: for a store that holds data written
// before encryption was enabled, until every patient was enrolled again.
// Without it, such a patient's values are still read (a value without the
// "seal:" prefix opens as it is), but PatientByPhone does not find the
// patient by a phone number indexed in the clear, and a timer named in the
// clear is not moved or deleted by name. It costs one more lookup for a
// phone number that is not enrolled, and it hands the inner store the
// clear number or timer name as a lookup key, which a Redis server may show
// in SLOWLOG or MONITOR: turn it off once the migration is over.
func WithClearLookups() Option { return func(s *sealed) { s.clearLookups = true } }

type sealed struct {
	inner        store.Store
	keys         *Keyring
	clearLookups bool

	mu sync.Mutex
	// claimed holds entries by ID as the inner store's ClaimOutbox or
	// Claimed gave them (sealed), to hand them back to its Finish.
	claimed map[string]store.OutboxEntry
}

var (
	_ store.Store         = (*sealed)(nil)
	_ store.PatientLister = (*sealed)(nil)
	_ store.Eraser        = (*sealed)(nil)
	_ store.PatientPager  = (*sealed)(nil)
)

// Unwrap returns the store Wrap was given, for methods beyond the contract
// (embedded's Prune, say). What it reads and writes is sealed.
func (s *sealed) Unwrap() store.Store { return s.inner }

// PatientIDs implements store.PatientLister when the inner store does, and
// fails with errors.ErrUnsupported otherwise: patient ids are not sealed,
// so the inner store's listing is the answer.
func (s *sealed) PatientIDs(ctx context.Context, fn func(id string) error) error {
	l, ok := s.inner.(store.PatientLister)
	if !ok {
		return fmt.Errorf("seal: %T cannot list patients: %w", s.inner, errors.ErrUnsupported)
	}
	return l.PatientIDs(ctx, fn)
}

// Load implements store.Store.
func (s *sealed) Load(ctx context.Context, patientID string) (store.Patient, store.Session, error) {
	p, sess, err := s.inner.Load(ctx, patientID)
	if err != nil {
		return p, sess, err
	}
	if p, err = s.openPatient(p); err != nil {
		return store.Patient{}, store.Session{}, err
	}
	if len(sess.Data) > 0 {
		if sess.Data, err = s.keys.OpenBytes(sessionField(patientID), sess.Data); err != nil {
			return store.Patient{}, store.Session{}, fmt.Errorf("%w (patient %s)", err, patientID)
		}
	}
	return p, sess, nil
}

// PatientByPhone implements store.Store. It looks the number up sealed
// under each key, active first (then in the clear, WithClearLookups).
func (s *sealed) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	return s.lookup(ctx, s.inner.PatientByPhone, fieldPhone, phone)
}

// PatientByAddress implements store.Store. It looks the address up as
// PatientByPhone looks up a number.
func (s *sealed) PatientByAddress(ctx context.Context, channel, addr string) (store.Patient, error) {
	return s.lookup(ctx, s.addressFinder(channel), addressField(channel), addr)
}

// addressFinder is the inner store's PatientByAddress on channel, as the
// find of lookup and free.
func (s *sealed) addressFinder(channel string) func(context.Context, string) (store.Patient, error) {
	return func(ctx context.Context, addr string) (store.Patient, error) {
		return s.inner.PatientByAddress(ctx, channel, addr)
	}
}

// lookup finds a patient by a deterministically sealed value of field
// through the inner store's find, trying the value sealed under each key,
// active first (then in the clear, WithClearLookups).
func (s *sealed) lookup(ctx context.Context, find func(context.Context, string) (store.Patient, error), field, value string) (store.Patient, error) {
	if value == "" {
		return find(ctx, value)
	}
	n := len(s.keys.keys)
	if s.clearLookups {
		n++
	}
	for i := range n {
		v := value // after the keys: data from before encryption
		if i < len(s.keys.keys) {
			v = s.keys.keys[i].sealString(field, value, true)
		}
		p, err := find(ctx, v)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Patient{}, err
		}
		return s.openPatient(p)
	}
	return store.Patient{}, store.ErrNotFound
}

// Commit implements store.Store.
func (s *sealed) Commit(ctx context.Context, c store.Commit) error {
	return s.commit(ctx, c, s.clearLookups)
}

// commit is Commit; with clearToo a timer's name is also deleted as
// stored in the clear, whatever WithClearLookups says (Reseal).
func (s *sealed) commit(ctx context.Context, c store.Commit, clearToo bool) error {
	k := s.keys
	if c.Patient != nil {
		if err := s.free(ctx, s.inner.PatientByPhone, fieldPhone, c.PatientID, c.Patient.Phone, store.ErrPhoneTaken); err != nil {
			return err
		}
		for ch, addr := range c.Patient.Addresses {
			if err := s.free(ctx, s.addressFinder(ch), addressField(ch), c.PatientID, addr, store.ErrAddressTaken); err != nil {
				return err
			}
		}
		p := s.sealPatient(*c.Patient)
		c.Patient = &p
	}
	if len(c.Session) > 0 {
		c.Session = k.SealBytes(sessionField(c.PatientID), c.Session)
	}
	c.DedupeKey = k.hashKey(hashDedupe, c.DedupeKey)
	if len(c.Escalations) > 0 {
		escs := make([]store.Escalation, len(c.Escalations))
		for i, e := range c.Escalations {
			e.Reason = k.sealRandom(fieldTicketReason, e.Reason)
			escs[i] = e
		}
		c.Escalations = escs
	}
	if len(c.Events) > 0 {
		evs := make([]store.Event, len(c.Events))
		for i, e := range c.Events {
			evs[i] = s.sealEvent(e)
		}
		c.Events = evs
	}
	if len(c.Outbox) > 0 {
		out := make([]store.OutboxEntry, len(c.Outbox))
		for i, e := range c.Outbox {
			out[i] = s.sealEntry(e)
		}
		c.Outbox = out
	}
	if len(c.SetTimers) > 0 || len(c.DeleteTimers) > 0 {
		// A name is deleted under every key, and a name that is set is
		// deleted under every other key: the timer may have been stored
		// before the last rotation (or in the clear, WithClearLookups).
		field := timerField(c.PatientID)
		n := len(k.keys) * (len(c.DeleteTimers) + len(c.SetTimers))
		del := make([]string, 0, n)
		for _, name := range c.DeleteTimers {
			if name == "" {
				del = append(del, name)
				continue
			}
			del = append(del, k.sealDeterministic(field, name))
			del = append(del, k.others(field, name, clearToo)...)
		}
		set := make([]store.Timer, len(c.SetTimers))
		for i, tm := range c.SetTimers {
			if tm.Name != "" {
				del = append(del, k.others(field, tm.Name, clearToo)...)
			}
			tm.Name = k.sealDeterministic(field, tm.Name)
			set[i] = tm
		}
		c.SetTimers, c.DeleteTimers = set, del
	}
	return s.inner.Commit(ctx, c)
}

// free refuses a phone number (or address: field, find and taken say
// which) that another patient holds sealed under a key other than the
// active one (or in the clear, WithClearLookups), since the inner store
// checks only the value it is given, sealed under the active key. The
// check is not atomic with the commit; it matters only while a rotation or
// a migration from clear data is under way, and costs nothing otherwise.
func (s *sealed) free(ctx context.Context, find func(context.Context, string) (store.Patient, error), field, patientID, value string, taken error) error {
	if value == "" {
		return nil
	}
	for _, v := range s.keys.others(field, value, s.clearLookups) {
		p, err := find(ctx, v)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if p.ID != patientID {
			return taken
		}
	}
	return nil
}

// DeletePatient implements store.Store.
func (s *sealed) DeletePatient(ctx context.Context, patientID string) error {
	return s.inner.DeletePatient(ctx, patientID)
}

// ListPatients implements store.PatientPager when the inner store does,
// opening each enrollment; errors.ErrUnsupported otherwise.
func (s *sealed) ListPatients(ctx context.Context, after string, limit int) ([]store.Patient, error) {
	l, ok := s.inner.(store.PatientPager)
	if !ok {
		return nil, fmt.Errorf("seal: %T cannot list patients: %w", s.inner, errors.ErrUnsupported)
	}
	ps, err := l.ListPatients(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i], err = s.openPatient(ps[i]); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// ErasePatient implements store.Eraser when the inner store does, and
// fails with errors.ErrUnsupported otherwise: patient ids are not sealed,
// so the inner store finds everything of the patient.
func (s *sealed) ErasePatient(ctx context.Context, patientID string) error {
	e, ok := s.inner.(store.Eraser)
	if !ok {
		return fmt.Errorf("seal: %T cannot erase a patient: %w", s.inner, errors.ErrUnsupported)
	}
	return e.ErasePatient(ctx, patientID)
}

// Timeline implements store.Store.
func (s *sealed) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	evs, err := s.inner.Timeline(ctx, patientID)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		if evs[i], err = s.openEvent(evs[i]); err != nil {
			return nil, fmt.Errorf("%w (patient %s, event %s)", err, patientID, evs[i].ID)
		}
	}
	return evs, nil
}

// UpdateEvent implements store.Store: fn sees the event opened, and what it
// writes back is sealed again. A field fn left unchanged keeps its sealed
// value when that value is under the active key.
func (s *sealed) UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*store.Event) bool) error {
	var openErr error
	err := s.inner.UpdateEvent(ctx, patientID, eventID, func(e *store.Event) bool {
		openErr = nil // the inner store may call this more than once
		orig := *e
		opened, err := s.openEvent(orig)
		if err != nil {
			openErr = fmt.Errorf("%w (patient %s, event %s)", err, patientID, eventID)
			return false
		}
		before := opened
		if !fn(&opened) {
			return false
		}
		*e = s.resealEvent(orig, before, opened)
		return true
	})
	if openErr != nil {
		return openErr
	}
	return err
}

// reseal returns the sealed value of a field that was stored as stored, had
// the plaintext before and has now: the stored value when nothing changed
// and it is sealed under the active key, a new seal otherwise.
func (s *sealed) reseal(field, stored, before, now string) string {
	if now == before && keyIDOf(stored) == s.keys.Active() {
		return stored
	}
	return s.keys.sealRandom(field, now)
}

// Escalations implements store.Store, opening each ticket's reason.
func (s *sealed) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	escs, err := s.inner.Escalations(ctx, status)
	if err != nil {
		return nil, err
	}
	for i := range escs {
		if escs[i], err = s.openTicket(escs[i]); err != nil {
			return nil, err
		}
	}
	return escs, nil
}

func (s *sealed) openTicket(e store.Escalation) (store.Escalation, error) {
	r, err := s.keys.open(fieldTicketReason, e.Reason)
	if err != nil {
		return e, fmt.Errorf("%w (ticket %s)", err, e.ID)
	}
	e.Reason = r
	return e, nil
}

// AppendAudit implements store.Store; records hold no message text.
func (s *sealed) AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error) {
	return s.inner.AppendAudit(ctx, r)
}

// AuditRecords implements store.Store.
func (s *sealed) AuditRecords(ctx context.Context, fn func(audit.Record) error) error {
	return s.inner.AuditRecords(ctx, fn)
}

// PutLogin implements store.Store; sessions hold no patient data.
func (s *sealed) PutLogin(ctx context.Context, id string, l store.Login) error {
	return s.inner.PutLogin(ctx, id, l)
}

// Login implements store.Store.
func (s *sealed) Login(ctx context.Context, id string, now time.Time) (store.Login, error) {
	return s.inner.Login(ctx, id, now)
}

// DeleteLogin implements store.Store.
func (s *sealed) DeleteLogin(ctx context.Context, id string) error {
	return s.inner.DeleteLogin(ctx, id)
}

// PutJob implements store.Store. A job holds counts, a flow name and
// errors naming a line, a patient id and a field, never a value: nothing
// the store seals elsewhere (events keep flow names and the audit log
// patient ids in the clear).
func (s *sealed) PutJob(ctx context.Context, j store.Job) error {
	return s.inner.PutJob(ctx, j)
}

// Job implements store.Store.
func (s *sealed) Job(ctx context.Context, id string, now time.Time) (store.Job, error) {
	return s.inner.Job(ctx, id, now)
}

// PutStaff implements store.Store. An account holds no patient data, but
// its TOTP secret is as sensitive as a password that is never hashed: it
// is sealed (randomly, under the active key).
func (s *sealed) PutStaff(ctx context.Context, a staff.Account, create bool) error {
	if a.TOTPSecret != "" {
		a.TOTPSecret = s.keys.sealRandom(totpField(a.Email), a.TOTPSecret)
	}
	return s.inner.PutStaff(ctx, a, create)
}

// StaffAccount implements store.Store.
func (s *sealed) StaffAccount(ctx context.Context, email string) (staff.Account, error) {
	a, err := s.inner.StaffAccount(ctx, email)
	if err != nil {
		return a, err
	}
	return s.openStaff(a)
}

// StaffAccounts implements store.Store.
func (s *sealed) StaffAccounts(ctx context.Context) ([]staff.Account, error) {
	all, err := s.inner.StaffAccounts(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i], err = s.openStaff(all[i]); err != nil {
			return nil, err
		}
	}
	return all, nil
}

func (s *sealed) openStaff(a staff.Account) (staff.Account, error) {
	if a.TOTPSecret == "" {
		return a, nil
	}
	v, err := s.keys.open(totpField(a.Email), a.TOTPSecret)
	if err != nil {
		return staff.Account{}, fmt.Errorf("%w (staff account %s)", err, a.Email)
	}
	a.TOTPSecret = v
	return a, nil
}

// Escalation implements store.Store.
func (s *sealed) Escalation(ctx context.Context, id string) (store.Escalation, error) {
	e, err := s.inner.Escalation(ctx, id)
	if err != nil {
		return e, err
	}
	return s.openTicket(e)
}

// Timers implements store.Store, in name order.
func (s *sealed) Timers(ctx context.Context, patientID string) ([]store.Timer, error) {
	ts, err := s.inner.Timers(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if err := s.openTimers(ts); err != nil {
		return nil, err
	}
	slices.SortFunc(ts, func(a, b store.Timer) int { return cmp.Compare(a.Name, b.Name) })
	return ts, nil
}

// DueTimers implements store.Store. Timers due at the same time come by
// patient, then name, whatever order the sealed names have.
func (s *sealed) DueTimers(ctx context.Context, now time.Time, limit int) ([]store.Timer, error) {
	return s.openDue(s.inner.DueTimers(ctx, now, limit))
}

// openDue opens due timers' names and puts them back in due order, which
// the opened names may tie-break differently than the sealed ones did.
func (s *sealed) openDue(ts []store.Timer, err error) ([]store.Timer, error) {
	if err != nil {
		return nil, err
	}
	if err := s.openTimers(ts); err != nil {
		return nil, err
	}
	slices.SortStableFunc(ts, func(a, b store.Timer) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.PatientID, b.PatientID), cmp.Compare(a.Name, b.Name))
	})
	return ts, nil
}

// ClaimTimers passes store.TimerClaimer through, opening the names; a
// backend without claims answers with DueTimers.
func (s *sealed) ClaimTimers(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Timer, error) {
	tc, ok := s.inner.(store.TimerClaimer)
	if !ok {
		return s.DueTimers(ctx, now, limit)
	}
	return s.openDue(tc.ClaimTimers(ctx, now, limit, lease))
}

func (s *sealed) openTimers(ts []store.Timer) error {
	for i := range ts {
		name, err := s.keys.open(timerField(ts[i].PatientID), ts[i].Name)
		if err != nil {
			return fmt.Errorf("%w (patient %s)", err, ts[i].PatientID)
		}
		ts[i].Name = name
	}
	return nil
}

// ClaimOutbox implements store.Store. An entry it cannot open (sealed under
// a key this ring lacks, or altered) goes back to pending, due
// releaseDelay after now, instead of staying claimed, where its send would
// count as of unknown outcome. The error is returned only when no entry
// could be opened, since a caller drops the entries of a call that failed.
func (s *sealed) ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEntry, error) {
	got, err := s.inner.ClaimOutbox(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]store.OutboxEntry, 0, len(got))
	var errs []error
	for _, e := range got {
		o, err := s.openEntry(e)
		if err != nil {
			errs = append(errs, err)
			hold := store.Delivery{NotBefore: now.Add(releaseDelay)}
			if ferr := s.inner.Finish(context.WithoutCancel(ctx), e, hold); ferr != nil {
				errs = append(errs, fmt.Errorf("seal: putting back outbox entry %s: %w", e.ID, ferr))
			}
			continue
		}
		s.remember(e)
		out = append(out, o)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Claimed implements store.Store.
func (s *sealed) Claimed(ctx context.Context) ([]store.OutboxEntry, error) {
	got, err := s.inner.Claimed(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.OutboxEntry, len(got))
	for i, e := range got {
		if out[i], err = s.openEntry(e); err != nil {
			return nil, err
		}
	}
	for _, e := range got {
		s.remember(e)
	}
	return out, nil
}

// Finish implements store.Store. It hands the inner store the entry as the
// inner store gave it, or, when it no longer has that copy (another
// process claimed it), the caller's entry sealed again: a backend finds the
// entry by ID, and must never see its PHI in the clear.
func (s *sealed) Finish(ctx context.Context, entry store.OutboxEntry, d store.Delivery) error {
	s.mu.Lock()
	orig, ok := s.claimed[entry.ID]
	s.mu.Unlock()
	if !ok {
		orig = s.sealEntry(entry)
	}
	err := s.inner.Finish(ctx, orig, d)
	if ok && (err == nil || errors.Is(err, store.ErrNotFound)) {
		s.mu.Lock()
		delete(s.claimed, entry.ID)
		s.mu.Unlock()
	}
	return err
}

func (s *sealed) remember(e store.OutboxEntry) {
	s.mu.Lock()
	if len(s.claimed) < maxRemembered {
		s.claimed[e.ID] = e
	}
	s.mu.Unlock()
}

// OutboxDepth implements store.Store.
func (s *sealed) OutboxDepth(ctx context.Context) (int, error) { return s.inner.OutboxDepth(ctx) }

// DeadLetters implements store.Store.
func (s *sealed) DeadLetters(ctx context.Context, after string, limit int) ([]store.OutboxEntry, error) {
	got, err := s.inner.DeadLetters(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	for i := range got {
		if got[i], err = s.openEntry(got[i]); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// Resend implements store.Store.
func (s *sealed) Resend(ctx context.Context, id string, now time.Time) (store.OutboxEntry, error) {
	e, err := s.inner.Resend(ctx, id, now)
	if err != nil {
		return e, err
	}
	return s.openEntry(e)
}

// Discard implements store.Store.
func (s *sealed) Discard(ctx context.Context, id, reason string) (store.OutboxEntry, error) {
	e, err := s.inner.Discard(ctx, id, reason)
	if err != nil {
		return e, err
	}
	return s.openEntry(e)
}

// OutboxPatient implements store.Store: entry and patient ids are not
// sealed.
func (s *sealed) OutboxPatient(ctx context.Context, id string) (string, error) {
	return s.inner.OutboxPatient(ctx, id)
}

// Once implements store.Store. A key can embed patient data (a hash of
// an address, a patient id): the inner store gets its keyed hash.
func (s *sealed) Once(ctx context.Context, key string, ttl time.Duration, now time.Time) (bool, error) {
	return s.inner.Once(ctx, s.keys.hashKey(hashOnce, key), ttl, now)
}

// PutCode implements store.Store. Codes are hashes of secrets and values
// patient ids: neither is PHI.
func (s *sealed) PutCode(ctx context.Context, code, value string, expires time.Time) error {
	return s.inner.PutCode(ctx, code, value, expires)
}

// TakeCode implements store.Store.
func (s *sealed) TakeCode(ctx context.Context, code string, now time.Time) (string, error) {
	return s.inner.TakeCode(ctx, code, now)
}

// Ready implements store.Store.
func (s *sealed) Ready(ctx context.Context) error { return s.inner.Ready(ctx) }

// Close closes the inner store.
func (s *sealed) Close() error {
	s.mu.Lock()
	clear(s.claimed)
	s.mu.Unlock()
	return s.inner.Close()
}

func (s *sealed) sealPatient(p store.Patient) store.Patient {
	k := s.keys
	p.Phone = k.sealDeterministic(fieldPhone, p.Phone)
	if p.Addresses != nil {
		as := make(map[string]string, len(p.Addresses))
		for ch, a := range p.Addresses {
			as[ch] = k.sealDeterministic(addressField(ch), a)
		}
		p.Addresses = as
	}
	if p.Medications != nil {
		ms := make([]store.Medication, len(p.Medications))
		for i, m := range p.Medications {
			m.ID = k.sealRandom(fieldMedicationID, m.ID)
			m.Display = k.sealRandom(fieldMedicationDsp, m.Display)
			ms[i] = m
		}
		p.Medications = ms
	}
	if p.Refills != nil {
		rs := make([]store.Refill, len(p.Refills))
		for i, r := range p.Refills {
			r.Medication = k.sealRandom(fieldRefill, r.Medication)
			r.Date = k.sealRandom(fieldRefillDate, r.Date)
			rs[i] = r
		}
		p.Refills = rs
	}
	p.Programs = s.sealAll(fieldProgram, p.Programs)
	p.Conditions = s.sealAll(fieldCondition, p.Conditions)
	p.SocialNeeds = s.sealAll(fieldSocialNeed, p.SocialNeeds)
	if p.Dispenses != nil {
		ds := make([]store.Dispense, len(p.Dispenses))
		for i, d := range p.Dispenses {
			d.Medication = k.sealRandom(fieldRefill, d.Medication)
			d.Date = k.sealRandom(fieldRefillDate, d.Date)
			ds[i] = d
		}
		p.Dispenses = ds
	}
	if p.Appointments != nil {
		as := make([]store.Appointment, len(p.Appointments))
		for i, a := range p.Appointments {
			a.ID = k.sealRandom(fieldApptID, a.ID)
			a.At = k.sealRandom(fieldApptAt, a.At)
			as[i] = a
		}
		p.Appointments = as
	}
	return p
}

func (s *sealed) openPatient(p store.Patient) (store.Patient, error) {
	k := s.keys
	bad := func(err error) (store.Patient, error) {
		return store.Patient{}, fmt.Errorf("%w (patient %s)", err, p.ID)
	}
	var err error
	if p.Phone, err = k.open(fieldPhone, p.Phone); err != nil {
		return bad(err)
	}
	if p.Addresses != nil {
		as := make(map[string]string, len(p.Addresses))
		for ch, a := range p.Addresses {
			if as[ch], err = k.open(addressField(ch), a); err != nil {
				return bad(err)
			}
		}
		p.Addresses = as
	}
	if p.Medications != nil {
		ms := make([]store.Medication, len(p.Medications))
		for i, m := range p.Medications {
			if m.ID, err = k.open(fieldMedicationID, m.ID); err != nil {
				return bad(err)
			}
			if m.Display, err = k.open(fieldMedicationDsp, m.Display); err != nil {
				return bad(err)
			}
			ms[i] = m
		}
		p.Medications = ms
	}
	if p.Refills != nil {
		rs := make([]store.Refill, len(p.Refills))
		for i, r := range p.Refills {
			if r.Medication, err = k.open(fieldRefill, r.Medication); err != nil {
				return bad(err)
			}
			if r.Date, err = k.open(fieldRefillDate, r.Date); err != nil {
				return bad(err)
			}
			rs[i] = r
		}
		p.Refills = rs
	}
	if p.Programs, err = s.openAll(fieldProgram, p.Programs); err != nil {
		return bad(err)
	}
	if p.Conditions, err = s.openAll(fieldCondition, p.Conditions); err != nil {
		return bad(err)
	}
	if p.SocialNeeds, err = s.openAll(fieldSocialNeed, p.SocialNeeds); err != nil {
		return bad(err)
	}
	if p.Dispenses != nil {
		ds := make([]store.Dispense, len(p.Dispenses))
		for i, d := range p.Dispenses {
			if d.Medication, err = k.open(fieldRefill, d.Medication); err != nil {
				return bad(err)
			}
			if d.Date, err = k.open(fieldRefillDate, d.Date); err != nil {
				return bad(err)
			}
			ds[i] = d
		}
		p.Dispenses = ds
	}
	if p.Appointments != nil {
		as := make([]store.Appointment, len(p.Appointments))
		for i, a := range p.Appointments {
			if a.ID, err = k.open(fieldApptID, a.ID); err != nil {
				return bad(err)
			}
			if a.At, err = k.open(fieldApptAt, a.At); err != nil {
				return bad(err)
			}
			as[i] = a
		}
		p.Appointments = as
	}
	return p, nil
}

// eventField is a sealed string field of an event: its name (the
// additional authenticated data) and where it is, nil when the event's
// type keeps it in the clear.
type eventField struct {
	name string
	of   func(*store.Event) *string
}

// eventFields are the sealed fields of an event. Status is sealed only
// where it is the patient's answer (an adherence event's taken, not_taken,
// not_yet or no_answer; a quiz event's correctness, below): elsewhere it
// is a delivery status the backend advances, or a fixed word.
var eventFields = []eventField{
	{fieldEventText, func(e *store.Event) *string {
		if e.Type == "lesson" {
			return nil // it holds the sealed answer (sealAnswer)
		}
		return &e.Text
	}},
	{fieldEventMed, func(e *store.Event) *string { return &e.Medication }},
	{fieldEventReason, func(e *store.Event) *string { return &e.Reason }},
	{fieldEventQuiz, func(e *store.Event) *string { return &e.Quiz }},
	{fieldEventQuestion, func(e *store.Event) *string { return &e.Question }},
	{fieldEventFlow, func(e *store.Event) *string { return &e.Flow }},
	{fieldEventKind, func(e *store.Event) *string { return &e.Kind }},
	{fieldEventReading, func(e *store.Event) *string { return &e.Value }},
	{fieldEventCond, func(e *store.Event) *string { return &e.Condition }},
	{fieldEventRule, func(e *store.Event) *string { return &e.Rule }},
	{fieldEventDate, func(e *store.Event) *string { return &e.Date }},
	{fieldEventValue, func(e *store.Event) *string {
		if e.Type != "adherence" && e.Type != "lesson" && e.Type != "risk" {
			return nil
		}
		return &e.Status
	}},
}

// Quiz answers: a quiz event's Correct, a bool, is stored as a sealed
// Status ("correct" or "incorrect") with Correct nil, and opened back.
const (
	answerCorrect   = "correct"
	answerIncorrect = "incorrect"
)

func (s *sealed) sealEvent(e store.Event) store.Event {
	for _, f := range eventFields {
		if v := f.of(&e); v != nil {
			*v = s.keys.sealRandom(f.name, *v)
		}
	}
	s.sealAnswer(&e)
	return e
}

// sealAnswer moves a quiz event's Correct into a sealed Status, and a
// lesson event's (whose Status is the item's outcome) into a sealed Text.
func (s *sealed) sealAnswer(e *store.Event) {
	if e.Correct == nil {
		return
	}
	into := answerField(e)
	if into == nil || *into != "" {
		return
	}
	a := answerIncorrect
	if *e.Correct {
		a = answerCorrect
	}
	*into, e.Correct = s.keys.sealRandom(fieldEventAnswer, a), nil
}

// answerField is where an event's sealed answer is kept, nil for events
// that have none.
func answerField(e *store.Event) *string {
	switch e.Type {
	case "quiz":
		return &e.Status
	case "lesson":
		return &e.Text
	}
	return nil
}

func (s *sealed) openEvent(e store.Event) (store.Event, error) {
	for _, f := range eventFields {
		if v := f.of(&e); v != nil {
			o, err := s.keys.open(f.name, *v)
			if err != nil {
				return e, err
			}
			*v = o
		}
	}
	if into := answerField(&e); into != nil && e.Correct == nil && keyIDOf(*into) != "" {
		a, err := s.keys.open(fieldEventAnswer, *into)
		if err != nil {
			return e, err
		}
		correct := a == answerCorrect
		e.Correct, *into = &correct, ""
	}
	return e, nil
}

// resealEvent seals what UpdateEvent's fn returned (now), given the event
// as stored (orig) and as fn saw it (before): a field fn left unchanged
// keeps its stored value when that is sealed under the active key.
func (s *sealed) resealEvent(orig, before, now store.Event) store.Event {
	out := now
	for _, f := range eventFields {
		if v := f.of(&out); v != nil {
			*v = s.reseal(f.name, *f.of(&orig), *f.of(&before), *v)
		}
	}
	s.sealAnswer(&out)
	return out
}

// staleEvent reports whether a stored event holds a value that is not
// sealed under the active key (in the clear, or under an older key).
func (s *sealed) staleEvent(e store.Event) bool {
	active := s.keys.Active()
	stale := func(v string) bool { return v != "" && keyIDOf(v) != active }
	for _, f := range eventFields {
		if v := f.of(&e); v != nil && stale(*v) {
			return true
		}
	}
	if into := answerField(&e); into != nil {
		return e.Correct != nil || stale(*into)
	}
	return false
}

func (s *sealed) sealEntry(e store.OutboxEntry) store.OutboxEntry {
	e.To = s.keys.sealRandom(fieldOutboxTo, e.To)
	e.Text = s.keys.sealRandom(fieldOutboxText, e.Text)
	e.Labels = s.sealAll(fieldOutboxLabel, e.Labels)
	e.Vars = s.sealAll(fieldOutboxVar, e.Vars)
	return e
}

func (s *sealed) openEntry(e store.OutboxEntry) (store.OutboxEntry, error) {
	var err error
	if e.To, err = s.keys.open(fieldOutboxTo, e.To); err != nil {
		return e, fmt.Errorf("%w (outbox entry %s)", err, e.ID)
	}
	if e.Text, err = s.keys.open(fieldOutboxText, e.Text); err != nil {
		return e, fmt.Errorf("%w (outbox entry %s)", err, e.ID)
	}
	if e.Labels, err = s.openAll(fieldOutboxLabel, e.Labels); err != nil {
		return e, fmt.Errorf("%w (outbox entry %s)", err, e.ID)
	}
	if e.Vars, err = s.openAll(fieldOutboxVar, e.Vars); err != nil {
		return e, fmt.Errorf("%w (outbox entry %s)", err, e.ID)
	}
	return e, nil
}

// sealAll seals each value of vs with a random nonce into a new slice,
// leaving the caller's alone; nil stays nil.
func (s *sealed) sealAll(field string, vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = s.keys.sealRandom(field, v)
	}
	return out
}

// openAll opens each value of vs into a new slice, so that a sealed
// entry kept for Finish keeps its sealed values.
func (s *sealed) openAll(field string, vs []string) ([]string, error) {
	if vs == nil {
		return nil, nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		var err error
		if out[i], err = s.keys.open(field, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}
