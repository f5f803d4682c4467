package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// ClaimOutbox implements store.Store; a limit of 0 or less means no limit.
// Entries come in NotBefore order, then by ID.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.OutboxEntry
	end := timeKey(now)
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		o := outboxBuckets(tx)
		var keys [][]byte
		cur := o.due.Cursor()
		for k, _ := cur.First(); k != nil && (limit <= 0 || len(keys) < limit); k, _ = cur.Next() {
			if bytes.Compare(k[:8], end) > 0 {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			id := k[8:]
			if err := o.due.Delete(k); err != nil {
				return err
			}
			v := o.entries.Get(id)
			if v == nil {
				continue // a stale index entry
			}
			var e store.OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if err := o.claimed.Put(id, nil); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Claimed implements store.Store, in NotBefore order, then by ID.
func (s *Store) Claimed(ctx context.Context) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		o := outboxBuckets(tx)
		return o.claimed.ForEach(func(id, _ []byte) error {
			v := o.entries.Get(id)
			if v == nil {
				return nil
			}
			var e store.OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b store.OutboxEntry) int {
		return cmp.Or(a.NotBefore.Compare(b.NotBefore), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Finish implements store.Store. It fails with an error wrapping
// store.ErrNotFound when entry is not claimed. Delivery.Status and ErrorCode
// are written to the message.out event only when Status is set, so a hold
// for quiet hours does not erase the last outcome; Delivery.Channel
// whenever it is set, to the entry (when it goes back to pending) and to
// the event.
func (s *Store) Finish(ctx context.Context, entry store.OutboxEntry, d store.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := []byte(entry.ID)
	var result error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		result = nil
		o := outboxBuckets(tx)
		data := o.entries.Get(id)
		if data == nil || o.claimed.Get(id) == nil {
			result = fmt.Errorf("embedded: outbox entry %s is not claimed: %w", entry.ID, store.ErrNotFound)
			return nil
		}
		var e store.OutboxEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		if d.Done && d.DeadAt.IsZero() {
			if err := o.remove(id, data); err != nil {
				return err
			}
			if err := addDepth(tx, -1); err != nil {
				return err
			}
		} else if err := o.keep(tx, id, &e, d); err != nil {
			return err
		}
		if (d.Status == "" && d.Channel == "") || e.PatientID == "" {
			return nil
		}
		_, err := updateEvent(tx, e.PatientID, e.ID, func(ev *store.Event) bool {
			if d.Channel != "" {
				ev.Channel = d.Channel
			}
			if d.Status == "" {
				return true
			}
			if d.ProviderID != "" {
				ev.ProviderID = d.ProviderID
			}
			if store.StatusAdvances(ev.Status, d.Status) {
				ev.Status, ev.ErrorCode, ev.Reason = d.Status, d.ErrorCode, d.Reason
			}
			return true
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("embedded: finish: %w", err)
	}
	return result
}

// keep writes the outcome of a claimed entry e that stays in the outbox:
// back to pending, due at d.NotBefore, or a dead letter (d.DeadAt).
func (o outbox) keep(tx *bolt.Tx, id []byte, e *store.OutboxEntry, d store.Delivery) error {
	dead := !d.DeadAt.IsZero()
	if d.Attempted {
		e.Attempts++
	}
	if d.Channel != "" {
		e.Channel = d.Channel
	}
	if d.Attempted || dead {
		e.LastError, e.ErrorCode = d.Reason, d.ErrorCode
	}
	if dead {
		e.FailedAt = d.DeadAt
	} else {
		e.NotBefore = d.NotBefore
		if !d.RetryUntil.IsZero() {
			e.RetryUntil = d.RetryUntil
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := o.entries.Put(id, b); err != nil {
		return err
	}
	if err := o.claimed.Delete(id); err != nil {
		return err
	}
	if dead {
		if err := o.dead.Put(id, nil); err != nil {
			return err
		}
		return addDepth(tx, -1)
	}
	return o.due.Put(concat(timeKey(e.NotBefore), id), nil)
}

// DeadLetters implements store.Store; a limit of 0 or less means no limit.
func (s *Store) DeadLetters(ctx context.Context, after string, limit int) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		o := outboxBuckets(tx)
		cur := o.dead.Cursor()
		k, _ := cur.Seek([]byte(after))
		if k != nil && after != "" && string(k) == after {
			k, _ = cur.Next()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
			v := o.entries.Get(k)
			if v == nil {
				continue
			}
			var e store.OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Resend implements store.Store.
func (s *Store) Resend(ctx context.Context, id string, now time.Time) (store.OutboxEntry, error) {
	return s.settleDead(ctx, id, func(tx *bolt.Tx, o outbox, e *store.OutboxEntry) error {
		e.NotBefore, e.Attempts, e.RetryUntil = now, 0, time.Time{}
		e.LastError, e.ErrorCode, e.FailedAt = "", 0, time.Time{}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		key := []byte(e.ID)
		if err := o.entries.Put(key, b); err != nil {
			return err
		}
		if err := o.dead.Delete(key); err != nil {
			return err
		}
		if err := o.due.Put(concat(timeKey(now), key), nil); err != nil {
			return err
		}
		if err := addDepth(tx, 1); err != nil {
			return err
		}
		return setEventStatus(tx, e, "queued", "")
	})
}

// Discard implements store.Store.
func (s *Store) Discard(ctx context.Context, id, reason string) (store.OutboxEntry, error) {
	return s.settleDead(ctx, id, func(tx *bolt.Tx, o outbox, e *store.OutboxEntry) error {
		key := []byte(e.ID)
		if err := o.remove(key, o.entries.Get(key)); err != nil {
			return err
		}
		return setEventStatus(tx, e, "cancelled", reason)
	})
}

// settleDead runs fn on dead letter id in one transaction, and returns
// the entry as fn left it.
func (s *Store) settleDead(ctx context.Context, id string, fn func(*bolt.Tx, outbox, *store.OutboxEntry) error) (store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return store.OutboxEntry{}, err
	}
	var e store.OutboxEntry
	var result error
	err := s.db.Update(func(tx *bolt.Tx) error {
		result = nil
		o := outboxBuckets(tx)
		data := o.entries.Get([]byte(id))
		switch {
		case data == nil:
			result = fmt.Errorf("embedded: outbox entry %s: %w", id, store.ErrNotFound)
			return nil
		case o.dead.Get([]byte(id)) == nil:
			result = fmt.Errorf("embedded: outbox entry %s: %w", id, store.ErrNotDead)
			return nil
		}
		e = store.OutboxEntry{}
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		return fn(tx, o, &e)
	})
	if err != nil {
		return store.OutboxEntry{}, fmt.Errorf("embedded: %w", err)
	}
	if result != nil {
		return store.OutboxEntry{}, result
	}
	return e, nil
}

// setEventStatus writes an operator's decision on a dead letter to its
// message.out event, whatever the status was: a resend takes it back.
func setEventStatus(tx *bolt.Tx, e *store.OutboxEntry, status, reason string) error {
	_, err := updateEvent(tx, e.PatientID, e.ID, func(ev *store.Event) bool {
		ev.Status, ev.Reason, ev.ErrorCode = status, reason, 0
		return true
	})
	return err
}

// OutboxDepth implements store.Store from a counter, without a scan.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kOutboxDepth); len(v) == 8 {
			n = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

func (p *prepared) applyOutbox(tx *bolt.Tx) error {
	o := outboxBuckets(tx)
	added := 0
	for _, e := range p.outbox {
		if old := o.entries.Get(e.id); old != nil {
			// The same ID again replaces the entry; the depth stays, unless
			// it was a dead letter, which the depth does not count.
			if o.dead.Get(e.id) != nil {
				added++
			}
			if err := o.remove(e.id, old); err != nil {
				return err
			}
		} else {
			added++
		}
		if err := o.entries.Put(e.id, e.data); err != nil {
			return err
		}
		if err := o.due.Put(concat(timeKey(e.notBefore), e.id), nil); err != nil {
			return err
		}
		if len(e.patient) > 0 {
			if err := o.byPatient.Put(prefixed(e.patient, string(e.id)), nil); err != nil {
				return err
			}
			if err := p.putOwner(tx, e); err != nil {
				return err
			}
		}
	}
	return addDepth(tx, added)
}

// putOwner remembers the patient of entry e for OutboxPatient, after the
// entry itself is gone; Prune forgets it with the dedupe keys.
func (p *prepared) putOwner(tx *bolt.Tx, e preparedEntry) error {
	at := timeKey(p.now)
	if err := tx.Bucket(bOutboxOwner).Put(e.id, concat(at, e.patient)); err != nil {
		return err
	}
	return tx.Bucket(bOutboxOwnerAt).Put(concat(at, e.id), nil)
}

// OutboxPatient implements store.Outbox.
func (s *Store) OutboxPatient(ctx context.Context, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var pid string
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bOutboxOwner).Get([]byte(id))
		if len(v) <= 8 {
			return store.ErrNotFound
		}
		pid = string(v[8:])
		return nil
	})
	return pid, err
}

// outbox groups the outbox buckets of one transaction.
type outbox struct {
	entries, due, claimed, byPatient, dead *bolt.Bucket
}

func outboxBuckets(tx *bolt.Tx) outbox {
	return outbox{
		entries:   tx.Bucket(bOutbox),
		due:       tx.Bucket(bOutboxDue),
		claimed:   tx.Bucket(bOutboxClaimed),
		byPatient: tx.Bucket(bOutboxPatient),
		dead:      tx.Bucket(bOutboxDead),
	}
}

// remove deletes entry id, whose stored record is data, from every outbox
// bucket. It leaves the depth to the caller.
func (o outbox) remove(id, data []byte) error {
	var e store.OutboxEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	id = bytes.Clone(id)
	if err := o.entries.Delete(id); err != nil {
		return err
	}
	if err := o.due.Delete(concat(timeKey(e.NotBefore), id)); err != nil {
		return err
	}
	if err := o.claimed.Delete(id); err != nil {
		return err
	}
	if err := o.dead.Delete(id); err != nil {
		return err
	}
	if e.PatientID != "" {
		return o.byPatient.Delete(prefixed([]byte(e.PatientID), string(id)))
	}
	return nil
}

func addDepth(tx *bolt.Tx, n int) error {
	if n == 0 {
		return nil
	}
	meta := tx.Bucket(bMeta)
	var d int64
	if v := meta.Get(kOutboxDepth); len(v) == 8 {
		d = int64(binary.BigEndian.Uint64(v))
	}
	d = max(d+int64(n), 0)
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(d))
	return meta.Put(kOutboxDepth, v[:])
}
