package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// PutStaff implements store.Store: one field of the staff hash; a create is
// HSETNX, so of two creates of one email one wins.
func (s *Store) PutStaff(ctx context.Context, a staff.Account, create bool) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if !create {
		if err := s.rdb.HSet(ctx, s.k.staff(), a.Email, data).Err(); err != nil {
			return fmt.Errorf("redis: put staff: %w", err)
		}
		return nil
	}
	ok, err := s.rdb.HSetNX(ctx, s.k.staff(), a.Email, data).Result()
	if err != nil {
		return fmt.Errorf("redis: put staff: %w", err)
	}
	if !ok {
		return staff.ErrExists
	}
	return nil
}

// StaffAccount implements store.Store.
func (s *Store) StaffAccount(ctx context.Context, email string) (staff.Account, error) {
	raw, err := s.rdb.HGet(ctx, s.k.staff(), email).Result()
	if errors.Is(err, goredis.Nil) {
		return staff.Account{}, store.ErrNotFound
	}
	if err != nil {
		return staff.Account{}, fmt.Errorf("redis: staff: %w", err)
	}
	var a staff.Account
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return staff.Account{}, fmt.Errorf("redis: staff: %w", err)
	}
	return a, nil
}

// StaffAccounts implements store.Store.
func (s *Store) StaffAccounts(ctx context.Context) ([]staff.Account, error) {
	vals, err := s.rdb.HVals(ctx, s.k.staff()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: staff: %w", err)
	}
	out := make([]staff.Account, 0, len(vals))
	for _, v := range vals {
		var a staff.Account
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			return nil, fmt.Errorf("redis: staff: %w", err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y staff.Account) int { return cmp.Compare(x.Email, y.Email) })
	return out, nil
}
