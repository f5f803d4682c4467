package embedded

import (
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// PutJob implements store.Store.
func (s *Store) PutJob(ctx context.Context, j store.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.ID == "" {
		return ErrInvalid
	}
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bJobs).Put([]byte(j.ID), data) })
}

// Job implements store.Store. A job past its retention is reported
// missing here and forgotten by Prune.
func (s *Store) Job(ctx context.Context, id string, now time.Time) (store.Job, error) {
	if err := ctx.Err(); err != nil {
		return store.Job{}, err
	}
	var j store.Job
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bJobs).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &j)
	})
	if err == nil && expiredJob(j, now) {
		return store.Job{}, store.ErrNotFound
	}
	return j, err
}

func expiredJob(j store.Job, now time.Time) bool {
	return !now.Before(j.Updated.Add(store.JobRetention))
}

// pruneJobs deletes the jobs past their retention at now. Jobs are few
// (one per bulk request), so a scan is cheap.
func pruneJobs(tx *bolt.Tx, now time.Time) (int, error) {
	b := tx.Bucket(bJobs)
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var j store.Job
		if json.Unmarshal(v, &j) == nil && expiredJob(j, now) {
			old = append(old, k)
		}
		return nil
	})
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), err
}
