package embedded

import (
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// PutLogin implements store.Store.
func (s *Store) PutLogin(ctx context.Context, id string, l store.Login) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bLogins).Put([]byte(id), data) })
}

// Login implements store.Store. An expired session is deleted when found.
func (s *Store) Login(ctx context.Context, id string, now time.Time) (store.Login, error) {
	if err := ctx.Err(); err != nil {
		return store.Login{}, err
	}
	var l store.Login
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bLogins).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &l)
	})
	if err == nil && !now.Before(l.Expires) {
		s.DeleteLogin(ctx, id)
		return store.Login{}, store.ErrNotFound
	}
	return l, err
}

// DeleteLogin implements store.Store.
func (s *Store) DeleteLogin(ctx context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bLogins).Delete([]byte(id)) })
}
