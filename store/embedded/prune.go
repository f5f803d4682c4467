package embedded

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Prune forgets every dedupe key and outbox entry's patient
// (OutboxPatient) committed more than DedupeRetention before now, every Once key and single-use code expired at now and every
// job past store.JobRetention, and
// reports how many keys it forgot. Writes prune a few keys each on their own; Prune is for
// catching up after a quiet period or before a backup.
func (s *Store) Prune(ctx context.Context, now time.Time) (int, error) {
	const chunk = 1000 // keys per transaction, to keep each one short
	total := 0
	for _, p := range []struct {
		index, b  []byte
		end       []byte
		inclusive bool
	}{
		{bDedupeAt, bDedupe, timeKey(now.Add(-s.retention)), false},
		{bOutboxOwnerAt, bOutboxOwner, timeKey(now.Add(-s.retention)), false},
		{bOnceAt, bOnce, timeKey(now), true},
		{bCodesAt, bCodes, timeKey(now), true},
	} {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			var n int
			err := s.db.Update(func(tx *bolt.Tx) error {
				var err error
				n, err = pruneBefore(tx.Bucket(p.index), tx.Bucket(p.b), p.end, p.inclusive, chunk)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("embedded: prune: %w", err)
			}
			total += n
			if n < chunk {
				break
			}
		}
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = pruneJobs(tx, now)
		return err
	})
	if err != nil {
		return total, fmt.Errorf("embedded: prune jobs: %w", err)
	}
	return total + n, nil
}

// pruneDedupe forgets up to limit dedupe keys committed before cutoff
// (limit < 0: all of them).
func pruneDedupe(tx *bolt.Tx, cutoff time.Time, limit int) error {
	_, err := pruneBefore(tx.Bucket(bDedupeAt), tx.Bucket(bDedupe), timeKey(cutoff), false, limit)
	return err
}

// pruneBefore deletes up to limit index keys T‖key whose T is before end
// (or at end, with inclusive), and key from b, whose value starts with T.
// It returns how many it deleted.
func pruneBefore(index, b *bolt.Bucket, end []byte, inclusive bool, limit int) (int, error) {
	var old [][]byte
	cur := index.Cursor()
	for k, _ := cur.First(); k != nil && (limit < 0 || len(old) < limit); k, _ = cur.Next() {
		c := bytes.Compare(k[:8], end)
		if c > 0 || (c == 0 && !inclusive) {
			break
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := index.Delete(k); err != nil {
			return 0, err
		}
		// Only when b still holds this time for the key: a key set again
		// later has a newer index entry of its own.
		if v := b.Get(k[8:]); len(v) >= 8 && bytes.Equal(v[:8], k[:8]) {
			if err := b.Delete(k[8:]); err != nil {
				return 0, err
			}
		}
	}
	return len(old), nil
}

// pruneBatch is how many expired dedupe or Once keys a write removes on its
// way: more than it adds, so the backlog shrinks, and few enough to keep the
// write short.
const pruneBatch = 8
