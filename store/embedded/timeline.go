package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

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
	return nil
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
