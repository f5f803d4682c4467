package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/audit"
)

// appendAuditScript appends ARGV[2] when the log still holds ARGV[1]
// records: the record was sealed after the last one, and another
// replica's append in between makes it retry.
var appendAuditScript = goredis.NewScript(`
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1
`)

// AppendAudit implements store.Store: read the last record, seal after it,
// append if nothing came between (a script), else read again. Appends of
// one process take turns (under load, dozens of them racing each other
// would mostly retry, and could run out of tries); replicas still race,
// and back off a random few milliseconds after losing.
func (s *Store) AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error) {
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	key := s.k.auditLog()
	for attempt := range 100 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return r, ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))):
			}
		}
		var prev *audit.Record
		last, err := s.rdb.LIndex(ctx, key, -1).Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return r, fmt.Errorf("redis: audit: %w", err)
		default:
			prev = new(audit.Record)
			if err := json.Unmarshal([]byte(last), prev); err != nil {
				return r, fmt.Errorf("redis: audit: %w", err)
			}
		}
		rec := r
		audit.Seal(&rec, prev)
		data, err := json.Marshal(&rec)
		if err != nil {
			return r, err
		}
		ok, err := appendAuditScript.Run(ctx, s.rdb, []string{key}, rec.Seq-1, data).Int()
		if err != nil {
			return r, fmt.Errorf("redis: audit: %w", err)
		}
		if ok == 1 {
			return rec, nil
		}
	}
	return r, errors.New("redis: audit: too many concurrent appends")
}

// AuditRecords implements store.Store: the list in pages of 1000.
func (s *Store) AuditRecords(ctx context.Context, fn func(audit.Record) error) error {
	const page = 1000
	for start := int64(0); ; start += page {
		vals, err := s.rdb.LRange(ctx, s.k.auditLog(), start, start+page-1).Result()
		if err != nil {
			return fmt.Errorf("redis: audit: %w", err)
		}
		for _, v := range vals {
			var r audit.Record
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				return fmt.Errorf("redis: audit: %w", err)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(vals) < page {
			return nil
		}
	}
}
