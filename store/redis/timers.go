package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Timers implements store.Store, in name order.
func (s *Store) Timers(ctx context.Context, patientID string) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.rdb.HGetAll(ctx, s.k.timers(patientID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: timers: %w", err)
	}
	out := make([]store.Timer, 0, len(m))
	for name, rec := range m {
		if len(rec) < 7 {
			return nil, fmt.Errorf("redis: timer %s of %s: bad record %q", name, patientID, rec)
		}
		ms, err := strconv.ParseInt(rec[6:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: timer %s of %s: %w", name, patientID, err)
		}
		st, err := parseStamp(ms, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Timer{PatientID: patientID, Name: name, Due: st.time()})
	}
	slices.SortFunc(out, func(a, b store.Timer) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// DueTimers implements store.Store: one pipeline over the shards' due
// indexes. A limit of 0 or less means no limit; a Due outside the years
// 1678 to 2262 is indexed clamped to that range, as in the embedded store.
func (s *Store) DueTimers(ctx context.Context, now time.Time, limit int) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	due, err := s.dueMembers(ctx, s.k.due, now, limit)
	if err != nil {
		return nil, fmt.Errorf("redis: due timers: %w", err)
	}
	out := make([]store.Timer, 0, len(due))
	for _, d := range due {
		pid, name, ok := strings.Cut(d.member[6:], "\x00")
		if !ok {
			return nil, fmt.Errorf("redis: bad timer index member %q", d.member)
		}
		out = append(out, store.Timer{PatientID: pid, Name: name, Due: d.st.time()})
	}
	return out, nil
}

// ClaimTimers implements store.TimerClaimer in two round trips: a pipeline
// reading every shard's due timers, then one script per shard claiming
// those still as read.
func (s *Store) ClaimTimers(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	due, err := s.dueMembers(ctx, s.k.due, now, limit)
	if err != nil || len(due) == 0 {
		return nil, err
	}
	byShard := map[int][]any{}
	var order []int
	for _, d := range due {
		if _, ok := byShard[d.shard]; !ok {
			order = append(order, d.shard)
			byShard[d.shard] = []any{s.k.base[d.shard], unixMs(s.now().Add(lease))}
		}
		byShard[d.shard] = append(byShard[d.shard], d.member, strconv.FormatInt(d.st.ms, 10))
	}
	calls := make([]evalCall, len(order))
	for i, n := range order {
		calls[i] = evalCall{keys: []string{s.k.due(n)}, args: byShard[n]}
	}
	cmds, err := s.evalAll(ctx, claimTimersScript, calls)
	if err != nil {
		return nil, fmt.Errorf("redis: claim timers: %w", err)
	}
	var out []store.Timer
	for _, c := range cmds {
		vals, err := c.StringSlice()
		if err != nil {
			return nil, fmt.Errorf("redis: claim timers: %w", err)
		}
		for i := 0; i+1 < len(vals); i += 2 {
			pid, name, ok := strings.Cut(vals[i][6:], "\x00")
			v := vals[i+1]
			ms, perr := strconv.ParseInt(v[min(6, len(v)):], 10, 64)
			if !ok || len(v) < 7 || perr != nil {
				return nil, fmt.Errorf("redis: bad claimed timer %q", vals[i])
			}
			st, err := parseStamp(ms, v)
			if err != nil {
				return nil, err
			}
			out = append(out, store.Timer{PatientID: pid, Name: name, Due: st.time()})
		}
	}
	slices.SortFunc(out, func(a, b store.Timer) int { return a.Due.Compare(b.Due) })
	return out, nil
}

// claimTimersScript claims due timers of one shard: each member whose score
// is still the one read (no other replica claimed or moved it since) gets
// the lease's expiry as its score. The timer's own due time, in the
// patient's timer hash, is not changed: it is returned with the member, so
// that the turn firing the timer sees the due time it was set for.
//
// KEYS: 1 due. ARGV: 1 shard base, 2 lease expiry ms, then member, score
// pairs. It returns member, "<sub6><due ms>" pairs.
var claimTimersScript = goredis.NewScript(`
local out = {}
for i = 3, #ARGV, 2 do
  local m = ARGV[i]
  local sc = redis.call('ZSCORE', KEYS[1], m)
  if sc and tonumber(sc) == tonumber(ARGV[i + 1]) then
    local rest = string.sub(m, 7)
    local z = string.find(rest, '\0', 1, true)
    if z then
      local v = redis.call('HGET', ARGV[1] .. 'tm:' .. string.sub(rest, 1, z - 1), string.sub(rest, z + 1))
      if v then
        redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m)
        out[#out + 1] = m
        out[#out + 1] = v
      end
    end
  end
end
return out
`)
