package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// ErasePatient implements store.Eraser in one transaction: it unenrolls
// the patient as DeletePatient does and removes what unenrolling keeps:
// the timeline, claimed outbox entries and what OutboxPatient knows of the
// patient's entries, the patient's tickets, the dedupe keys of the
// patient's turns and the single-use codes that stand for the
// patient. The audit log stays. ErrNotFound when the store holds nothing
// of the patient.
//
// Tickets, dedupe keys, outbox owners and codes have no index by patient: the
// transaction reads those buckets whole, which is slow on a large store
// but runs once per erasure request. bbolt does not zero the pages it
// frees: the erased bytes (sealed, with a key file) stay in the file until
// bbolt reuses them (see the README, "PHI at rest").
func (s *Store) ErasePatient(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pid := []byte(patientID)
	err := s.db.Update(func(tx *bolt.Tx) error {
		found := true
		if err := deletePatient(tx, pid, true); errors.Is(err, store.ErrNotFound) {
			found = false
		} else if err != nil {
			return err
		}
		prefix := prefixed(pid, "")
		for _, name := range [][]byte{bEvents, bEventIDs} {
			b := tx.Bucket(name)
			for _, k := range keysWithPrefix(b, prefix) {
				found = true
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		n, err := eraseTickets(tx, patientID)
		if err != nil {
			return err
		}
		found = found || n > 0
		for _, bs := range [][2][]byte{{bDedupe, bDedupeAt}, {bCodes, bCodesAt}, {bOutboxOwner, bOutboxOwnerAt}} {
			n, err := eraseByValue(tx.Bucket(bs[0]), tx.Bucket(bs[1]), pid)
			if err != nil {
				return err
			}
			found = found || n > 0
		}
		if !found {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("embedded: erase patient: %w", err)
	}
	return err
}

// eraseTickets deletes the patient's tickets and their index entries and
// returns how many there were.
func eraseTickets(tx *bolt.Tx, patientID string) (int, error) {
	escs, byAt, byStatus := tx.Bucket(bEscalations), tx.Bucket(bEscAt), tx.Bucket(bEscStatus)
	var mine []store.Escalation
	err := escs.ForEach(func(_, v []byte) error {
		var e store.Escalation
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		if e.PatientID == patientID {
			mine = append(mine, e)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range mine {
		id, at := []byte(e.ID), timeKey(e.OpenedAt)
		if err := escs.Delete(id); err != nil {
			return 0, err
		}
		if err := byAt.Delete(concat(at, id)); err != nil {
			return 0, err
		}
		if err := byStatus.Delete(concat(prefixed([]byte(e.Status), ""), at, id)); err != nil {
			return 0, err
		}
	}
	return len(mine), nil
}

// eraseByValue deletes the keys of b (dedupe, codes or outbox owners) whose value is
// T ‖ pid, and their entries T ‖ key in index, and returns how many.
func eraseByValue(b, index *bolt.Bucket, pid []byte) (int, error) {
	var keys, at [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) >= 8 && bytes.Equal(v[8:], pid) {
			keys = append(keys, bytes.Clone(k))
			at = append(at, bytes.Clone(v[:8]))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
		if err := index.Delete(concat(at[i], k)); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
