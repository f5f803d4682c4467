package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tendcare/tend/store"
)

// PutLogin implements store.Store: one key that Redis removes an hour after
// the session's absolute end (Login checks the end itself).
func (s *Store) PutLogin(ctx context.Context, id string, l store.Login) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	ttl := max(l.Expires.Sub(s.now()), 0) + time.Hour
	if err := s.rdb.Set(ctx, s.k.login(id), data, ttl).Err(); err != nil {
		return fmt.Errorf("redis: put login: %w", err)
	}
	return nil
}

// Login implements store.Store.
func (s *Store) Login(ctx context.Context, id string, now time.Time) (store.Login, error) {
	var l store.Login
	if err := s.getJSON(ctx, s.k.login(id), "login", &l); err != nil {
		return store.Login{}, err
	}
	if !now.Before(l.Expires) {
		return store.Login{}, store.ErrNotFound
	}
	return l, nil
}

// DeleteLogin implements store.Store.
func (s *Store) DeleteLogin(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.k.login(id)).Err(); err != nil {
		return fmt.Errorf("redis: delete login: %w", err)
	}
	return nil
}
