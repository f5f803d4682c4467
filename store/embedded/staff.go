package embedded

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// PutStaff implements store.Store: one record in the staff bucket.
func (s *Store) PutStaff(ctx context.Context, a staff.Account, create bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bStaff)
		if create && b.Get([]byte(a.Email)) != nil {
			return staff.ErrExists
		}
		return b.Put([]byte(a.Email), data)
	})
}

// StaffAccount implements store.Store.
func (s *Store) StaffAccount(ctx context.Context, email string) (staff.Account, error) {
	if err := ctx.Err(); err != nil {
		return staff.Account{}, err
	}
	var a staff.Account
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bStaff).Get([]byte(email))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &a)
	})
	return a, err
}

// StaffAccounts implements store.Store: the bucket in key (email) order.
func (s *Store) StaffAccounts(ctx context.Context) ([]staff.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []staff.Account
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bStaff).ForEach(func(_, v []byte) error {
			var a staff.Account
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}
