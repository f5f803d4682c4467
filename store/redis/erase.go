package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// ErasePatient implements store.Eraser: it unenrolls the patient
// (DeletePatient), then removes what unenrolling keeps: the timeline,
// claimed outbox entries, what OutboxPatient knows of the patient's
// entries, the patient's tickets, the dedupe keys the patient's turns committed and the single-use codes that stand for the
// patient. The audit log stays. ErrNotFound when the store holds nothing
// of the patient.
//
// Tickets, dedupe keys, outbox owners and codes have no index by patient:
// they are found by reading every ticket and by SCAN over those keys,
// which is slow on a large keyspace but runs once per erasure request.
// The steps are not one transaction; a failure leaves the rest for a
// second run, which finishes the job.
func (s *Store) ErasePatient(ctx context.Context, patientID string) error {
	found := true
	if err := s.DeletePatient(ctx, patientID); errors.Is(err, store.ErrNotFound) {
		found = false
	} else if err != nil {
		return err
	}
	n := shardOf(patientID)
	res, err := eraseScript.Run(ctx, s.rdb, []string{
		s.k.timeline(patientID), s.k.eventIdx(patientID), s.k.outboxOf(patientID),
		s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n), s.k.outboxDead(n),
	}).Int()
	if err != nil {
		return fmt.Errorf("redis: erase patient: %w", err)
	}
	found = found || res > 0
	tickets, err := s.eraseTickets(ctx, patientID)
	if err != nil {
		return err
	}
	found = found || tickets > 0
	if err := s.eraseByValue(ctx, "dd:", func(v string) bool { return v == patientID }); err != nil {
		return err
	}
	if err := s.eraseByValue(ctx, "obo:", func(v string) bool { return v == patientID }); err != nil {
		return err
	}
	err = s.eraseByValue(ctx, "code:", func(v string) bool {
		_, value, _ := strings.Cut(v, ":")
		return value == patientID
	})
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	return nil
}

// eraseTickets removes the patient's tickets from their shard (where a
// commit keeps them) and returns how many there were.
func (s *Store) eraseTickets(ctx context.Context, patientID string) (int, error) {
	all, err := s.Escalations(ctx, "")
	if err != nil {
		return 0, err
	}
	n := shardOf(patientID)
	count := 0
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, e := range all {
			if e.PatientID != patientID {
				continue
			}
			count++
			p.HDel(ctx, s.k.escalations(n), e.ID)
			p.SRem(ctx, s.k.escStatus(n, e.Status), e.ID)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis: erase tickets: %w", err)
	}
	return count, nil
}

// eraseByValue deletes every string key of kind whose value match says
// is the patient's.
func (s *Store) eraseByValue(ctx context.Context, kind string, match func(v string) bool) error {
	return s.scanKeys(ctx, "erase patient", kind, func(key string) error {
		v, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("redis: erase patient: %w", err)
		}
		if !match(v) {
			return nil
		}
		if err := s.rdb.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("redis: erase patient: %w", err)
		}
		return nil
	})
}

// eraseScript removes a patient's timeline and every outbox entry still
// listed for the patient (claimed ones and any DeletePatient left). It
// returns how many keys and entries it removed.
//
// KEYS: 1 tl:<id>, 2 tli:<id>, 3 obp:<id>, 4 ob, 5 obdue, 6 obclaim,
// 7 obdead.
var eraseScript = goredis.NewScript(`
local n = redis.call('DEL', KEYS[1], KEYS[2])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local v = redis.call('HGET', KEYS[4], id)
  if v then
    redis.call('ZREM', KEYS[5], string.sub(v, 1, 6) .. id)
    redis.call('HDEL', KEYS[4], id)
    n = n + 1
  end
  redis.call('ZREM', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
end
redis.call('DEL', KEYS[3])
return n
`)
