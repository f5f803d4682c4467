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
	raw, err := s.rdb.Get(ctx, s.k.job(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Job{}, store.ErrNotFound
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("redis: job: %w", err)
	}
	var j store.Job
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		return store.Job{}, fmt.Errorf("redis: job: %w", err)
	}
	if !now.Before(j.Updated.Add(store.JobRetention)) {
		return store.Job{}, store.ErrNotFound
	}
	return j, nil
}
