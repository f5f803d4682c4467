package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// PutJob implements store.Store: one key that Redis removes
// store.JobRetention after the last write (Job also checks Updated, on the
// caller's clock).
func (s *Store) PutJob(ctx context.Context, j store.Job) error {
	if j.ID == "" {
		return store.ErrInvalid
	}
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.k.job(j.ID), data, store.JobRetention).Err(); err != nil {
		return fmt.Errorf("redis: put job: %w", err)
	}
	return nil
}

// Job implements store.Store.
func (s *Store) Job(ctx context.Context, id string, now time.Time) (store.Job, error) {
	var j store.Job
	if err := s.getJSON(ctx, s.k.job(id), "job", &j); err != nil {
		return store.Job{}, err
	}
	if !now.Before(j.Updated.Add(store.JobRetention)) {
		return store.Job{}, store.ErrNotFound
	}
	return j, nil
}

// getJSON reads the JSON value at key into v: store.ErrNotFound when there
// is none, and what names the value in other errors.
func (s *Store) getJSON(ctx context.Context, key, what string, v any) error {
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return fmt.Errorf("redis: %s: %w", what, err)
	}
	return nil
}
