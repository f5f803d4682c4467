package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Escalations implements store.Store: every shard's tickets of the status
// (a set of ids per status and shard), oldest first.
func (s *Store) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var raw []string
	if status == "" {
		cmds := make([]*goredis.StringSliceCmd, Shards)
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for n := range Shards {
				cmds[n] = p.HVals(ctx, s.k.escalations(n))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redis: escalations: %w", err)
		}
		for _, c := range cmds {
			raw = append(raw, c.Val()...)
		}
	} else {
		calls := make([]evalCall, Shards)
		for n := range Shards {
			calls[n] = evalCall{keys: []string{s.k.escStatus(n, status), s.k.escalations(n)}}
		}
		recs, err := s.listAll(ctx, calls)
		if err != nil {
			return nil, fmt.Errorf("redis: escalations: %w", err)
		}
		raw = recs
	}
	out := make([]store.Escalation, 0, len(raw))
	for _, r := range raw {
		var e store.Escalation
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("redis: escalation: %w", err)
		}
		if status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.Escalation) int {
		return cmp.Or(cmp.Compare(nanos(a.OpenedAt), nanos(b.OpenedAt)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Escalation implements store.Store. A ticket is kept in its patient's
// shard, which its id does not name: one pipelined HGET per shard finds it.
func (s *Store) Escalation(ctx context.Context, id string) (store.Escalation, error) {
	cmds := make([]*goredis.StringCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.HGet(ctx, s.k.escalations(n), id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.Escalation{}, fmt.Errorf("redis: escalation: %w", err)
	}
	for _, c := range cmds {
		raw, err := c.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return store.Escalation{}, fmt.Errorf("redis: escalation: %w", err)
		}
		var e store.Escalation
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return store.Escalation{}, fmt.Errorf("redis: escalation: %w", err)
		}
		return e, nil
	}
	return store.Escalation{}, store.ErrNotFound
}
