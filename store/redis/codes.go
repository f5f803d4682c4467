package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// codeGrace is how long Redis keeps a single-use code after its expiry, by
// the store's clock, before its TTL removes it. The expiry TakeCode checks
// is the caller's now; the TTL only cleans up codes nobody took.
const codeGrace = time.Hour

// maxCodeTTL bounds the TTL of a code, so that a far expiry cannot
// overflow it.
const maxCodeTTL = 366 * 24 * time.Hour

// PutCode implements store.Store: one SET in the code's shard, with a TTL
// that ends codeGrace after the expiry by the store's clock (never sooner
// than codeGrace from now), only to clean up codes nobody took: the now
// given to TakeCode decides the expiry. A code put again replaces its value
// and expiry.
func (s *Store) PutCode(ctx context.Context, code, value string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if code == "" {
		return fmt.Errorf("redis: %w: empty code", ErrInvalid)
	}
	ttl := min(max(expires.Sub(s.now()), 0), maxCodeTTL) + codeGrace
	if err := s.rdb.Set(ctx, s.k.code(code), hexTime(expires)+":"+value, ttl).Err(); err != nil {
		return fmt.Errorf("redis: put code: %w", err)
	}
	return nil
}

// TakeCode implements store.Store: one script in the code's shard deletes
// the code and returns it, so that of two concurrent takes one gets it;
// the code is then valid when now is before its expiry.
func (s *Store) TakeCode(ctx context.Context, code string, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if code == "" {
		return "", store.ErrNotFound
	}
	rec, err := takeCodeScript.Run(ctx, s.rdb, []string{s.k.code(code)}).Text()
	if errors.Is(err, goredis.Nil) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redis: take code: %w", err)
	}
	exp, value, ok := strings.Cut(rec, ":")
	if !ok || len(exp) != 16 {
		return "", fmt.Errorf("redis: bad code record")
	}
	if hexTime(now) >= exp {
		return "", store.ErrNotFound
	}
	return value, nil
}

// Once implements store.Store as a fixed window decided by the given now:
// a call that returns false does not extend it. Redis forgets a key ttl of
// real time after it fired; with a clock that runs slower than real time
// (a simulation), a key may fire again early.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	px := max((ttl+time.Millisecond-1)/time.Millisecond, 1)
	n, err := onceScript.Run(ctx, s.rdb, []string{s.k.once(key)}, hexTime(now), hexTime(now.Add(ttl)), int64(px)).Int()
	if err != nil {
		return false, fmt.Errorf("redis: once: %w", err)
	}
	return n == 1, nil
}

// onceScript is a fixed window: it fires, and records the window's end
// (a sortable hex time), unless the stored end is after now.
//
// KEYS: 1 once:<key>. ARGV: 1 now, 2 end of the window (both hex times),
// 3 ttl in ms.
var onceScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and ARGV[1] < v then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// takeCodeScript deletes a single-use code and returns its record, or nil
// when there is none: of two concurrent takes, one gets the record. The
// caller decides whether it had expired. KEYS: 1 code:<code>.
var takeCodeScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
return v
`)
