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

// Timeline implements store.Store: the patient's event list, in commit
// order.
func (s *Store) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, err := s.rdb.LRange(ctx, s.k.timeline(patientID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: timeline: %w", err)
	}
	var evs []store.Event
	for _, r := range raw {
		var e store.Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("redis: event of %s: %w", patientID, err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// UpdateEvent implements store.Store as an optimistic transaction (WATCH
// on the patient's timeline, MULTI/EXEC), retried when a concurrent write
// to the timeline wins: fn may then run more than once, and must be quick
// and not call the store.
func (s *Store) UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*store.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if patientID == "" || eventID == "" {
		return store.ErrNotFound
	}
	tl, idx := s.k.timeline(patientID), s.k.eventIdx(patientID)
	txf := func(tx *goredis.Tx) error {
		pos, err := tx.HGet(ctx, idx, eventID).Int64()
		if errors.Is(err, goredis.Nil) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		// Positions count from the first event ever; the cap trimmed
		// base events off the front.
		trimmed, err := tx.HGet(ctx, idx, "").Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		pos -= trimmed
		raw, err := tx.LIndex(ctx, tl, pos).Result()
		if errors.Is(err, goredis.Nil) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var e store.Event
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return fmt.Errorf("event %s of %s: %w", eventID, patientID, err)
		}
		if !fn(&e) {
			return nil
		}
		e.ID = eventID // the index depends on it
		b, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.LSet(ctx, tl, pos, b)
			return nil
		})
		return err
	}
	for {
		err := s.rdb.Watch(ctx, txf, tl, idx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, goredis.TxFailedErr):
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		case errors.Is(err, store.ErrNotFound):
			return err
		}
		return fmt.Errorf("redis: update event: %w", err)
	}
}

// TrimTimeline drops a patient's timeline events from before a time, oldest
// first (events are in commit order), and returns how many it dropped. It is
// safe beside running turns, which only append, and beside another sweep.
func (s *Store) TrimTimeline(ctx context.Context, patientID string, before time.Time) (int, error) {
	tl, idx := s.k.timeline(patientID), s.k.eventIdx(patientID)
	for range 5 {
		trimmed, err := s.rdb.HGet(ctx, idx, "").Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return 0, err
		}
		raw, err := s.rdb.LRange(ctx, tl, 0, -1).Result()
		if err != nil {
			return 0, err
		}
		n := 0
		for _, r := range raw {
			var e struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal([]byte(r), &e) != nil || !e.At.Before(before) {
				break
			}
			n++
		}
		if n == 0 {
			return 0, nil
		}
		got, err := trimScript.Run(ctx, s.rdb, []string{tl, idx}, n, trimmed).Int()
		if err != nil || got > 0 {
			return got, err
		}
		// Another sweep trimmed this timeline since it was read: again.
	}
	return 0, nil
}

// SweepTimelines trims every enrolled patient's timeline to the events at
// or after before (the retention limit), and returns how many it dropped.
func (s *Store) SweepTimelines(ctx context.Context, before time.Time) (int, error) {
	total := 0
	err := s.PatientIDs(ctx, func(id string) error {
		n, err := s.TrimTimeline(ctx, id, before)
		total += n
		return err
	})
	return total, err
}

// trimScript drops the first ARGV[1] events of a timeline (those a
// retention sweep found too old), unless another sweep trimmed it since it
// was read (ARGV[2] is the trimmed count then). It returns how many it
// dropped. KEYS: 1 tl:<id>, 2 tli:<id>.
var trimScript = goredis.NewScript(`
local trimmed = tonumber(redis.call('HGET', KEYS[2], '')) or 0
if trimmed ~= tonumber(ARGV[2]) then return 0 end
local old = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for j, raw in ipairs(old) do
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == 'table' and type(v.id) == 'string' and v.id ~= '' and
      tonumber(redis.call('HGET', KEYS[2], v.id)) == trimmed + j - 1 then
    redis.call('HDEL', KEYS[2], v.id)
  end
end
redis.call('LTRIM', KEYS[1], #old, -1)
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[2], '', trimmed + #old)
else
  redis.call('DEL', KEYS[2])
end
return #old
`)
