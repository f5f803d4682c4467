package embedded

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// Timers implements store.Store, in name order.
func (s *Store) Timers(ctx context.Context, patientID string) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Timer
	prefix := prefixed([]byte(patientID), "")
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bTimers).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			out = append(out, store.Timer{PatientID: patientID, Name: string(k[len(prefix):]), Due: keyTime(v)})
		}
		return nil
	})
	return out, err
}

// DueTimers implements store.Store; a limit of 0 or less means no limit.
// A Due outside the years 1678 to 2262 is stored clamped to that range.
func (s *Store) DueTimers(ctx context.Context, now time.Time, limit int) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Timer
	end := timeKey(now)
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bTimersDue).Cursor()
		for k, _ := cur.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
			if bytes.Compare(k[:8], end) > 0 {
				break
			}
			pid, name, ok := bytes.Cut(k[8:], []byte{0})
			if !ok {
				return fmt.Errorf("embedded: bad timer key %x", k)
			}
			out = append(out, store.Timer{PatientID: string(pid), Name: string(name), Due: keyTime(k[:8])})
		}
		return nil
	})
	return out, err
}

// applyTimers deletes the commit's DeleteTimers, then sets its SetTimers,
// so a name in both ends up set.
func (p *prepared) applyTimers(tx *bolt.Tx) error {
	if len(p.c.DeleteTimers) == 0 && len(p.c.SetTimers) == 0 {
		return nil
	}
	timers, due := tx.Bucket(bTimers), tx.Bucket(bTimersDue)
	for _, name := range p.c.DeleteTimers {
		if err := deleteTimer(timers, due, prefixed(p.pid, name)); err != nil {
			return err
		}
	}
	for _, tm := range p.c.SetTimers {
		k := prefixed(p.pid, tm.Name)
		if err := deleteTimer(timers, due, k); err != nil {
			return err
		}
		at := timeKey(tm.Due)
		if err := timers.Put(k, at); err != nil {
			return err
		}
		if err := due.Put(concat(at, k), nil); err != nil {
			return err
		}
	}
	return nil
}

func deleteTimer(timers, due *bolt.Bucket, k []byte) error {
	at := timers.Get(k)
	if at == nil {
		return nil
	}
	dk := concat(at, k)
	if err := timers.Delete(k); err != nil {
		return err
	}
	return due.Delete(dk)
}
