package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// Commit implements store.Store. The checks run in this order, so that a
// provider's retry of a committed turn is ErrDuplicate whatever else
// changed: dedupe key, enrollment, version, phone, addresses. Timers are
// deleted before they are set, so a name in both ends up set. A commit's outbox entries
// without PatientID get the commit's, and so do its escalations.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := prepare(c, s.now())
	if err != nil {
		return err
	}
	p.tlMax = s.tlMax
	var result error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this more than once: after a rollback caused by
		// another commit of the batch, or alone. Start clean each time.
		result = nil
		var err error
		result, err = p.apply(tx, p.now.Add(-s.retention))
		return err
	})
	if err != nil {
		return fmt.Errorf("embedded: commit: %w", err)
	}
	return result
}

// prepared is a validated commit with its records encoded, so that the
// transaction, which holds bbolt's single writer lock, only moves bytes.
type prepared struct {
	c       store.Commit
	pid     []byte
	patient []byte
	events  [][]byte
	outbox  []preparedEntry
	escs    []preparedEscalation
	now     time.Time
	tlMax   int // Options.TimelineMax
}

type preparedEntry struct {
	id, patient []byte
	notBefore   time.Time
	data        []byte
}

type preparedEscalation struct {
	e    store.Escalation
	data []byte
}

// prepare encodes a commit that c.Validate accepted, giving the patient,
// its outbox entries and its escalations the commit's patient ID.
func prepare(c store.Commit, now time.Time) (*prepared, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &prepared{c: c, now: now, pid: []byte(c.PatientID)}
	if c.Patient != nil {
		pt := *c.Patient
		pt.ID = c.PatientID
		p.c.Patient = &pt
		var err error
		if p.patient, err = json.Marshal(&pt); err != nil {
			return nil, err
		}
	}
	p.events = make([][]byte, len(c.Events))
	for i := range c.Events {
		b, err := json.Marshal(&c.Events[i])
		if err != nil {
			return nil, err
		}
		p.events[i] = b
	}
	p.outbox = make([]preparedEntry, len(c.Outbox))
	for i, e := range c.Outbox {
		if e.PatientID == "" {
			e.PatientID = c.PatientID
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		p.outbox[i] = preparedEntry{id: []byte(e.ID), patient: []byte(e.PatientID), notBefore: e.NotBefore, data: b}
	}
	p.escs = make([]preparedEscalation, len(c.Escalations))
	for i, e := range c.Escalations {
		if e.PatientID == "" {
			e.PatientID = c.PatientID
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		p.escs[i] = preparedEscalation{e: e, data: b}
	}
	return p, nil
}

// apply checks the commit against tx and writes it. It returns the store
// error that refused the commit, having written nothing, or a bbolt error
// that must roll the transaction back.
func (p *prepared) apply(tx *bolt.Tx, dedupeCutoff time.Time) (refused, err error) {
	c := &p.c
	dedupe := tx.Bucket(bDedupe)
	if c.DedupeKey != "" && dedupe.Get([]byte(c.DedupeKey)) != nil {
		return store.ErrDuplicate, nil
	}
	if c.PatientID != "" {
		if refused, err := p.applyPatient(tx); refused != nil || err != nil {
			return refused, err
		}
	}
	if len(p.outbox) > 0 {
		if err := p.applyOutbox(tx); err != nil {
			return nil, err
		}
		if _, err := pruneBefore(tx.Bucket(bOutboxOwnerAt), tx.Bucket(bOutboxOwner), timeKey(dedupeCutoff), false, pruneBatch); err != nil {
			return nil, err
		}
	}
	if c.DedupeKey != "" {
		k := []byte(c.DedupeKey)
		at := timeKey(p.now)
		// The committing patient follows the time, so that ErasePatient
		// finds the keys of a patient's turns.
		if err := dedupe.Put(k, concat(at, []byte(c.PatientID))); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bDedupeAt).Put(concat(at, k), nil); err != nil {
			return nil, err
		}
		if err := pruneDedupe(tx, dedupeCutoff, pruneBatch); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// applyPatient checks and writes everything of a commit that belongs to its
// patient: all checks come before the first write.
func (p *prepared) applyPatient(tx *bolt.Tx) (refused, err error) {
	version, old, refused := p.checkPatient(tx)
	if refused != nil {
		return refused, nil
	}
	if p.c.Patient != nil {
		if err := p.writePatient(tx, old); err != nil {
			return nil, err
		}
	}
	if p.c.Session != nil {
		v := make([]byte, 8+len(p.c.Session))
		binary.BigEndian.PutUint64(v, version+1)
		copy(v[8:], p.c.Session)
		if err := tx.Bucket(bSessions).Put(p.pid, v); err != nil {
			return nil, err
		}
	}
	if len(p.events) > 0 {
		if err := p.applyEvents(tx); err != nil {
			return nil, err
		}
	}
	if err := p.applyTimers(tx); err != nil {
		return nil, err
	}
	if len(p.escs) > 0 {
		if err := p.applyEscalations(tx); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// checkPatient returns the store error that refuses the commit, or the
// stored session version and enrollment (nil for a new patient). The
// checks run in the order Commit's comment gives.
func (p *prepared) checkPatient(tx *bolt.Tx) (version uint64, old []byte, refused error) {
	c, pid := &p.c, p.pid
	old = tx.Bucket(bPatients).Get(pid)
	if old == nil && c.Patient == nil {
		return 0, nil, store.ErrNotFound
	}
	if sv := tx.Bucket(bSessions).Get(pid); len(sv) >= 8 {
		version = binary.BigEndian.Uint64(sv)
	}
	if version != c.Version {
		return 0, nil, store.ErrConflict
	}
	if c.Patient == nil {
		return version, old, nil
	}
	if c.Patient.Phone != "" {
		if owner := tx.Bucket(bPhones).Get([]byte(c.Patient.Phone)); owner != nil && !bytes.Equal(owner, pid) {
			return 0, nil, store.ErrPhoneTaken
		}
	}
	if addressTaken(tx.Bucket(bAddresses), c.Patient.Addresses, pid) {
		return 0, nil, store.ErrAddressTaken
	}
	return version, old, nil
}
