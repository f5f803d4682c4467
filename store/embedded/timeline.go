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

// Timeline implements store.Store; an unknown patient has an empty timeline.
func (s *Store) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var evs []store.Event
	prefix := prefixed([]byte(patientID), "")
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bEvents).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var e store.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("embedded: event of %s: %w", patientID, err)
			}
			evs = append(evs, e)
		}
		return nil
	})
	return evs, err
}

// UpdateEvent implements store.Store. fn runs inside the write transaction:
// it must be quick and must not call the store.
func (s *Store) UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*store.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		found, err := updateEvent(tx, patientID, eventID, fn)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		return err
	})
}

// updateEvent applies fn to a stored event, writing it back when fn
// returns true. It reports whether the event exists.
func updateEvent(tx *bolt.Tx, patientID, eventID string, fn func(*store.Event) bool) (bool, error) {
	if patientID == "" || eventID == "" {
		return false, nil
	}
	pid := []byte(patientID)
	seq := tx.Bucket(bEventIDs).Get(prefixed(pid, eventID))
	if len(seq) != 8 {
		return false, nil
	}
	events := tx.Bucket(bEvents)
	k := concat(prefixed(pid, ""), seq)
	v := events.Get(k)
	if v == nil {
		return false, nil
	}
	var e store.Event
	if err := json.Unmarshal(v, &e); err != nil {
		return false, err
	}
	if !fn(&e) {
		return true, nil
	}
	e.ID = eventID // the index depends on it
	b, err := json.Marshal(&e)
	if err != nil {
		return false, err
	}
	return true, events.Put(k, b)
}

func (p *prepared) applyEvents(tx *bolt.Tx) error {
	events, ids := tx.Bucket(bEvents), tx.Bucket(bEventIDs)
	prefix := prefixed(p.pid, "")
	seq := lastSeq(events, prefix)
	for i, e := range p.c.Events {
		seq++
		var sk [8]byte
		binary.BigEndian.PutUint64(sk[:], seq)
		if err := events.Put(concat(prefix, sk[:]), p.events[i]); err != nil {
			return err
		}
		if e.ID != "" {
			if err := ids.Put(prefixed(p.pid, e.ID), sk[:]); err != nil {
				return err
			}
		}
	}
	if p.tlMax <= 0 {
		return nil
	}
	// Sequence numbers are contiguous (only the oldest events are ever
	// dropped), so the first key says how many there are.
	k, _ := events.Cursor().Seek(prefix)
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	first := binary.BigEndian.Uint64(k[len(prefix):])
	if over := int64(seq-first+1) - int64(p.tlMax); over > 0 {
		_, err := dropOldest(tx, p.pid, func(i int, _ store.Event) bool { return int64(i) < over })
		return err
	}
	return nil
}

// dropOldest deletes pid's events from the oldest on while drop says so
// (given the event's position among those looked at and the event), with
// their id index entries, and returns how many it deleted.
func dropOldest(tx *bolt.Tx, pid []byte, drop func(i int, e store.Event) bool) (int, error) {
	events, ids := tx.Bucket(bEvents), tx.Bucket(bEventIDs)
	prefix := prefixed(pid, "")
	var keys [][]byte
	var evIDs []string
	cur := events.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var e store.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, fmt.Errorf("event of %s: %w", pid, err)
		}
		if !drop(len(keys), e) {
			break
		}
		keys = append(keys, bytes.Clone(k))
		evIDs = append(evIDs, e.ID)
	}
	for i, k := range keys {
		if err := events.Delete(k); err != nil {
			return 0, err
		}
		if evIDs[i] == "" {
			continue
		}
		// Only when the index still points at this event.
		ik := prefixed(pid, evIDs[i])
		if bytes.Equal(ids.Get(ik), k[len(prefix):]) {
			if err := ids.Delete(ik); err != nil {
				return 0, err
			}
		}
	}
	return len(keys), nil
}

// TrimTimeline drops a patient's timeline events from before a time,
// oldest first (events are in commit order), and returns how many it
// dropped, as the Redis store's does.
func (s *Store) TrimTimeline(ctx context.Context, patientID string, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Most sweeps find nothing to drop: look first, so that they cost a
	// read, not a write and its fsync, per patient.
	prefix := prefixed([]byte(patientID), "")
	old := false
	err := s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bEvents).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		var e store.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("event of %s: %w", patientID, err)
		}
		old = e.At.Before(before)
		return nil
	})
	if err != nil || !old {
		return 0, err
	}
	n := 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = dropOldest(tx, []byte(patientID), func(_ int, e store.Event) bool { return e.At.Before(before) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("embedded: trim timeline: %w", err)
	}
	return n, nil
}

// SweepTimelines trims every enrolled patient's timeline to the events at
// or after before (the retention limit: tend serve passes the store's
// clock's now minus TEND_TIMELINE_RETENTION), one short transaction per
// patient, and returns how many events it dropped. Timelines of
// unenrolled patients are left, as on Redis.
func (s *Store) SweepTimelines(ctx context.Context, before time.Time) (int, error) {
	total := 0
	err := s.PatientIDs(ctx, func(id string) error {
		n, err := s.TrimTimeline(ctx, id, before)
		total += n
		return err
	})
	return total, err
}

// lastSeq returns the sequence number of the last key prefix‖seq in b, or 0.
func lastSeq(b *bolt.Bucket, prefix []byte) uint64 {
	end := concat(prefix, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	cur := b.Cursor()
	k, _ := cur.Seek(end)
	switch {
	case k == nil:
		k, _ = cur.Last()
	case !bytes.Equal(k, end):
		k, _ = cur.Prev()
	}
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(prefix):])
}
