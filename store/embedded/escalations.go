package embedded

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// Escalations implements store.Store, reading only the index of the
// requested status.
func (s *Store) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Escalation
	err := s.db.View(func(tx *bolt.Tx) error {
		index, prefix := tx.Bucket(bEscAt), []byte(nil)
		if status != "" {
			index, prefix = tx.Bucket(bEscStatus), prefixed([]byte(status), "")
		}
		escs := tx.Bucket(bEscalations)
		cur := index.Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			v := escs.Get(k[len(prefix)+8:])
			if v == nil {
				continue
			}
			var e store.Escalation
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Escalation implements store.Store.
func (s *Store) Escalation(ctx context.Context, id string) (store.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return store.Escalation{}, err
	}
	var e store.Escalation
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bEscalations).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &e)
	})
	return e, err
}

func (p *prepared) applyEscalations(tx *bolt.Tx) error {
	escs, byAt, byStatus := tx.Bucket(bEscalations), tx.Bucket(bEscAt), tx.Bucket(bEscStatus)
	for _, pe := range p.escs {
		id := []byte(pe.e.ID)
		if old := escs.Get(id); old != nil {
			var o store.Escalation
			if err := json.Unmarshal(old, &o); err != nil {
				return err
			}
			at := timeKey(o.OpenedAt)
			if err := byAt.Delete(concat(at, id)); err != nil {
				return err
			}
			if err := byStatus.Delete(concat(prefixed([]byte(o.Status), ""), at, id)); err != nil {
				return err
			}
		}
		at := timeKey(pe.e.OpenedAt)
		if err := escs.Put(id, pe.data); err != nil {
			return err
		}
		if err := byAt.Put(concat(at, id), nil); err != nil {
			return err
		}
		if err := byStatus.Put(concat(prefixed([]byte(pe.e.Status), ""), at, id), nil); err != nil {
			return err
		}
	}
	return nil
}
