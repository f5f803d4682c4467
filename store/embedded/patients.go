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

// Load implements store.Store.
func (s *Store) Load(ctx context.Context, patientID string) (store.Patient, store.Session, error) {
	var (
		p    store.Patient
		sess store.Session
	)
	if err := ctx.Err(); err != nil {
		return p, sess, err
	}
	pid := []byte(patientID)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bPatients).Get(pid)
		if v == nil {
			return store.ErrNotFound
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("embedded: patient %s: %w", patientID, err)
		}
		if sv := tx.Bucket(bSessions).Get(pid); len(sv) >= 8 {
			sess.Version = binary.BigEndian.Uint64(sv)
			sess.Data = bytes.Clone(sv[8:])
		}
		return nil
	})
	return p, sess, err
}

// PatientByPhone implements store.Store.
func (s *Store) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	return s.byIndex(ctx, bPhones, []byte(phone))
}

// PatientByAddress implements store.Store.
func (s *Store) PatientByAddress(ctx context.Context, channel, addr string) (store.Patient, error) {
	if addr == "" {
		return store.Patient{}, store.ErrNotFound
	}
	return s.byIndex(ctx, bAddresses, addressKey(channel, addr))
}

// byIndex reads the patient that index (phones or addresses) has at key.
func (s *Store) byIndex(ctx context.Context, index, key []byte) (store.Patient, error) {
	var p store.Patient
	if err := ctx.Err(); err != nil {
		return p, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(index).Get(key)
		if id == nil {
			return store.ErrNotFound
		}
		v := tx.Bucket(bPatients).Get(id)
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &p)
	})
	return p, err
}

// DeletePatient implements store.Store. Claimed outbox entries stay until
// they are finished; dead letters go with the pending entries.
func (s *Store) DeletePatient(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return deletePatient(tx, []byte(patientID), false) })
}

// deletePatient unenrolls pid in tx (DeletePatient); withClaimed removes
// claimed outbox entries too (ErasePatient). ErrNotFound when pid is not
// enrolled, with the claimed entries removed all the same.
func deletePatient(tx *bolt.Tx, pid []byte, withClaimed bool) error {
	prefix := prefixed(pid, "")
	o := outboxBuckets(tx)
	removed := 0
	for _, k := range keysWithPrefix(o.byPatient, prefix) {
		id := k[len(prefix):]
		if o.claimed.Get(id) != nil && !withClaimed {
			continue
		}
		if data := o.entries.Get(id); data != nil {
			if o.dead.Get(id) == nil {
				removed++ // dead letters are not in the depth
			}
			if err := o.remove(id, data); err != nil {
				return err
			}
		} else if err := o.byPatient.Delete(k); err != nil {
			return err
		}
	}
	if err := addDepth(tx, -removed); err != nil {
		return err
	}

	patients := tx.Bucket(bPatients)
	old := patients.Get(pid)
	if old == nil {
		return store.ErrNotFound
	}
	was, err := indexedOf(old)
	if err != nil {
		return err
	}
	if err := unindex(tx.Bucket(bPhones), []byte(was.Phone), "", pid); err != nil {
		return err
	}
	if err := unindexAddresses(tx.Bucket(bAddresses), was.Addresses, nil, pid); err != nil {
		return err
	}
	if err := patients.Delete(pid); err != nil {
		return err
	}
	if err := tx.Bucket(bSessions).Delete(pid); err != nil {
		return err
	}
	timers, due := tx.Bucket(bTimers), tx.Bucket(bTimersDue)
	for _, k := range keysWithPrefix(timers, prefix) {
		if err := deleteTimer(timers, due, k); err != nil {
			return err
		}
	}
	return nil
}

// listBatch is how many patient ids PatientIDs reads per transaction.
const listBatch = 1000

// PatientIDs implements store.PatientLister, in id order. It reads the ids
// in short read transactions of listBatch ids and calls fn between them,
// never inside one: fn may then commit (a write transaction opened while
// the same goroutine holds a read one can deadlock when bbolt grows its
// memory map), and a long job does not keep a read transaction open that
// stops bbolt from reusing freed pages.
func (s *Store) PatientIDs(ctx context.Context, fn func(id string) error) error {
	var after []byte // the last id of the previous batch
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids := make([]string, 0, listBatch)
		err := s.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bPatients).Cursor()
			k, _ := cur.First()
			if after != nil {
				// Seek finds the next id even when after was unenrolled.
				if k, _ = cur.Seek(after); bytes.Equal(k, after) {
					k, _ = cur.Next()
				}
			}
			for ; k != nil && len(ids) < listBatch; k, _ = cur.Next() {
				ids = append(ids, string(k))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("embedded: list patients: %w", err)
		}
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		if len(ids) < listBatch {
			return nil
		}
		after = []byte(ids[len(ids)-1])
	}
}

// writePatient stores the commit's enrollment and moves the phone and
// address indexes from old (the stored enrollment, nil for a new patient)
// to it.
func (p *prepared) writePatient(tx *bolt.Tx, old []byte) error {
	pt, pid := p.c.Patient, p.pid
	phones, addrs := tx.Bucket(bPhones), tx.Bucket(bAddresses)
	if old != nil {
		was, err := indexedOf(old)
		if err != nil {
			return err
		}
		if err := unindex(phones, []byte(was.Phone), pt.Phone, pid); err != nil {
			return err
		}
		if err := unindexAddresses(addrs, was.Addresses, pt.Addresses, pid); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bPatients).Put(pid, p.patient); err != nil {
		return err
	}
	if pt.Phone != "" {
		if err := phones.Put([]byte(pt.Phone), pid); err != nil {
			return err
		}
	}
	for ch, addr := range pt.Addresses {
		if addr == "" {
			continue
		}
		if err := addrs.Put(addressKey(ch, addr), pid); err != nil {
			return err
		}
	}
	return nil
}

// addressTaken reports whether another patient than pid holds one of
// addrs (by channel) in the addresses index.
func addressTaken(index *bolt.Bucket, addrs map[string]string, pid []byte) bool {
	for ch, addr := range addrs {
		if addr == "" {
			continue
		}
		if owner := index.Get(addressKey(ch, addr)); owner != nil && !bytes.Equal(owner, pid) {
			return true
		}
	}
	return false
}

// indexed is what the phone and address indexes hold of a patient.
type indexed struct {
	Phone     string            `json:"phone"`
	Addresses map[string]string `json:"addresses"`
}

func indexedOf(patient []byte) (indexed, error) {
	var p indexed
	err := json.Unmarshal(patient, &p)
	return p, err
}

// unindex removes key (a phone number) from index when it still points at
// pid and the patient no longer has it (its value is now new).
func unindex(index *bolt.Bucket, key []byte, new string, pid []byte) error {
	if len(key) == 0 || string(key) == new {
		return nil
	}
	if owner := index.Get(key); bytes.Equal(owner, pid) {
		return index.Delete(key)
	}
	return nil
}

// unindexAddresses removes from the addresses index each of old that the
// patient pid no longer has in now.
func unindexAddresses(index *bolt.Bucket, old, now map[string]string, pid []byte) error {
	for ch, addr := range old {
		if addr == "" {
			continue
		}
		if err := unindex(index, addressKey(ch, addr), addressKeyOf(now, ch), pid); err != nil {
			return err
		}
	}
	return nil
}

// addressKeyOf is the index key of addrs[ch], or "" when there is none.
func addressKeyOf(addrs map[string]string, ch string) string {
	if addrs[ch] == "" {
		return ""
	}
	return string(addressKey(ch, addrs[ch]))
}
