package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// ClaimOutbox implements store.Store in two round trips: a pipeline that
// reads every shard's due entries, then a pipeline of one script per shard
// that claims the oldest limit of them, each only if it is still pending
// (another replica may have claimed it in between: then fewer come back).
// A limit of 0 or less means no limit. Entries come in NotBefore order,
// then by ID; NotBefore is indexed clamped to the years 1678 to 2262.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	due, err := s.dueMembers(ctx, s.k.outboxDue, now, limit)
	if err != nil {
		return nil, fmt.Errorf("redis: claim outbox: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	expiry := s.now()
	if s.lease > 0 {
		expiry = expiry.Add(s.lease)
	}
	byShard := map[int][]any{}
	var order []int
	for _, d := range due {
		if _, ok := byShard[d.shard]; !ok {
			order = append(order, d.shard)
			byShard[d.shard] = []any{unixMs(expiry)}
		}
		byShard[d.shard] = append(byShard[d.shard], d.member)
	}
	calls := make([]evalCall, len(order))
	for i, n := range order {
		calls[i] = evalCall{keys: []string{s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n)}, args: byShard[n]}
	}
	cmds, err := s.evalAll(ctx, claimScript, calls)
	claimed := map[string]string{}
	for _, c := range cmds {
		vals, cerr := c.StringSlice()
		if cerr != nil {
			continue
		}
		for i := 0; i+1 < len(vals); i += 2 {
			claimed[vals[i]] = vals[i+1]
		}
	}
	// Entries claimed are returned even when another shard's script
	// failed: dropping them would leave them claimed and unsent.
	out := make([]store.OutboxEntry, 0, len(claimed))
	for _, d := range due {
		rec, ok := claimed[d.member[6:]]
		if !ok {
			continue
		}
		e, derr := decodeEntry(rec)
		if derr != nil {
			return out, derr
		}
		out = append(out, e)
	}
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("redis: claim outbox: %w", err)
	}
	return out, nil
}

// decodeEntry reads an outbox record "<sub6><JSON>".
func decodeEntry(rec string) (store.OutboxEntry, error) {
	var e store.OutboxEntry
	if len(rec) < 6 {
		return e, fmt.Errorf("redis: bad outbox record %q", rec)
	}
	if err := json.Unmarshal([]byte(rec[6:]), &e); err != nil {
		return e, fmt.Errorf("redis: outbox record: %w", err)
	}
	return e, nil
}

// Claimed implements store.Store, in NotBefore order, then by ID, with a
// difference that several replicas need: it lists only claims whose lease
// has expired. A live replica's claims are being sent right now and are
// not "claimed and never finished"; a dead replica's show up here once
// their lease ran out. With a negative Options.Lease every claim has
// expired at once, which is the embedded store's behavior.
func (s *Store) Claimed(ctx context.Context) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	expired := strconv.FormatInt(unixMs(s.now()), 10)
	calls := make([]evalCall, Shards)
	for n := range Shards {
		calls[n] = evalCall{keys: []string{s.k.outboxClaimed(n), s.k.outbox(n)}, args: []any{expired}}
	}
	recs, err := s.listAll(ctx, calls)
	if err != nil {
		return nil, fmt.Errorf("redis: claimed: %w", err)
	}
	out := make([]store.OutboxEntry, 0, len(recs))
	for _, r := range recs {
		e, err := decodeEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.OutboxEntry) int {
		return cmp.Or(a.NotBefore.Compare(b.NotBefore), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// knownStatuses are the message statuses whose order Finish tells its
// script up front (a status outside it costs one more round trip): all
// the store's (store.Statuses), which also owns the order.
var knownStatuses = store.Statuses()

// Finish implements store.Store with one script in the entry's shard. It
// fails with an error wrapping store.ErrNotFound when entry is not
// claimed. Delivery.Status and ErrorCode are written to the message.out
// event only when Status is set and store.StatusAdvances allows it;
// ProviderID whenever it is set with a Status; Channel whenever it is set,
// to the event and to the entry when it goes back to pending. An entry
// without PatientID (a reply to an unknown number) is looked for in every
// shard.
func (s *Store) Finish(ctx context.Context, entry store.OutboxEntry, d store.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dead := !d.DeadAt.IsZero()
	done, attempted := "0", "0"
	if d.Done && !dead {
		done = "1"
	}
	if d.Attempted {
		attempted = "1"
	}
	var nbMs, nbSub, nbJSON, untilJSON, deadJSON string
	var err error
	if done == "0" {
		st := stampOf(d.NotBefore)
		nbMs, nbSub = st.score(), st.sub6()
		if nbJSON, err = jsonTime(d.NotBefore); err != nil {
			return fmt.Errorf("redis: finish: %w", err)
		}
	}
	if !d.RetryUntil.IsZero() {
		if untilJSON, err = jsonTime(d.RetryUntil); err != nil {
			return fmt.Errorf("redis: finish: %w", err)
		}
	}
	if dead {
		if deadJSON, err = jsonTime(d.DeadAt); err != nil {
			return fmt.Errorf("redis: finish: %w", err)
		}
	}
	statuses := knownStatuses
	for range 8 {
		var allow, deny strings.Builder
		allow.WriteByte(0)
		deny.WriteByte(0)
		for _, st := range statuses {
			b := &deny
			if store.StatusAdvances(st, d.Status) {
				b = &allow
			}
			b.WriteString(st)
			b.WriteByte(0)
		}
		shards := []int{shardOf(entry.PatientID)}
		if entry.PatientID == "" {
			shards = shards[:0]
			for n := range Shards {
				shards = append(shards, n)
			}
		}
		calls := make([]evalCall, len(shards))
		for i, n := range shards {
			calls[i] = evalCall{
				keys: []string{s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n),
					s.k.base[n] + "tl:" + entry.PatientID, s.k.base[n] + "tli:" + entry.PatientID, s.k.outboxDead(n)},
				args: []any{s.k.base[n], entry.ID, entry.PatientID, done, nbMs, nbSub, nbJSON, attempted,
					d.Status, d.ProviderID, d.ErrorCode, allow.String(), deny.String(), d.Channel,
					deadJSON, d.Reason, untilJSON},
			}
		}
		cmds, err := s.evalAll(ctx, finishScript, calls)
		if err != nil {
			return fmt.Errorf("redis: finish: %w", err)
		}
		var unknown string
		for _, c := range cmds {
			res, _ := c.StringSlice()
			if len(res) == 0 {
				continue
			}
			switch res[0] {
			case "OK":
				return nil
			case "STATUS":
				unknown = res[1]
			}
		}
		if unknown == "" || slices.Contains(statuses, unknown) {
			return fmt.Errorf("redis: outbox entry %s is not claimed: %w", entry.ID, store.ErrNotFound)
		}
		statuses = append(slices.Clone(statuses), unknown)
	}
	return fmt.Errorf("redis: finish %s: the event's status keeps changing", entry.ID)
}

// jsonTime is t as encoding/json writes it, without the quotes.
func jsonTime(t time.Time) (string, error) {
	b, err := json.Marshal(t)
	return strings.Trim(string(b), `"`), err
}

// OutboxDepth implements store.Store: the sizes of the shards' outbox
// hashes less their dead letters, in one pipeline.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	entries := make([]*goredis.IntCmd, Shards)
	dead := make([]*goredis.IntCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for n := range Shards {
			entries[n] = p.HLen(ctx, s.k.outbox(n))
			dead[n] = p.ZCard(ctx, s.k.outboxDead(n))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis: outbox depth: %w", err)
	}
	total := 0
	for n := range Shards {
		total += int(entries[n].Val() - dead[n].Val())
	}
	return max(total, 0), nil
}

// DeadLetters implements store.Store: one script per shard in one
// pipeline reads each shard's first limit after the cursor (an index
// sorted by ID), and the merge keeps the first limit of them all. A limit
// of 0 or less means no limit.
func (s *Store) DeadLetters(ctx context.Context, after string, limit int) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	from := "-"
	if after != "" {
		from = "(" + after
	}
	calls := make([]evalCall, Shards)
	for n := range Shards {
		calls[n] = evalCall{keys: []string{s.k.outboxDead(n), s.k.outbox(n)}, args: []any{from, max(limit, 0)}}
	}
	recs, err := s.listAllWith(ctx, deadListScript, calls)
	if err != nil {
		return nil, fmt.Errorf("redis: dead letters: %w", err)
	}
	out := make([]store.OutboxEntry, 0, len(recs))
	for _, r := range recs {
		e, err := decodeEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.OutboxEntry) int { return cmp.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Resend implements store.Store. The entry's shard is not known from its
// ID, so the script runs in every shard, in one pipeline.
func (s *Store) Resend(ctx context.Context, id string, now time.Time) (store.OutboxEntry, error) {
	st := stampOf(now)
	nowJSON, err := jsonTime(now)
	if err != nil {
		return store.OutboxEntry{}, fmt.Errorf("redis: resend: %w", err)
	}
	return s.settleDead(ctx, "resend", id, []any{"resend", st.score(), st.sub6(), nowJSON, "queued", ""})
}

// Discard implements store.Store, as Resend.
func (s *Store) Discard(ctx context.Context, id, reason string) (store.OutboxEntry, error) {
	return s.settleDead(ctx, "discard", id, []any{"discard", "", "", "", "cancelled", reason})
}

// settleDead runs deadScript with args in every shard and returns the
// entry the one that found it gave back.
func (s *Store) settleDead(ctx context.Context, what, id string, args []any) (store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return store.OutboxEntry{}, err
	}
	calls := make([]evalCall, Shards)
	for n := range Shards {
		calls[n] = evalCall{keys: []string{s.k.outbox(n), s.k.outboxDue(n), s.k.outboxDead(n)},
			args: append([]any{s.k.base[n], id}, args...)}
	}
	cmds, err := s.evalAll(ctx, deadScript, calls)
	if err != nil {
		return store.OutboxEntry{}, fmt.Errorf("redis: %s: %w", what, err)
	}
	notDead := false
	for _, c := range cmds {
		res, _ := c.StringSlice()
		if len(res) == 0 {
			continue
		}
		switch res[0] {
		case "OK":
			return decodeEntry(res[1])
		case "NOTDEAD":
			notDead = true
		}
	}
	if notDead {
		return store.OutboxEntry{}, fmt.Errorf("redis: outbox entry %s: %w", id, store.ErrNotDead)
	}
	return store.OutboxEntry{}, fmt.Errorf("redis: outbox entry %s: %w", id, store.ErrNotFound)
}

// claimScript claims the given pending entries of one shard: each one
// still pending moves to the claimed index with the lease's expiry as its
// score. It returns id, record pairs of the entries it claimed.
//
// KEYS: 1 ob, 2 obdue, 3 obclaim. ARGV: 1 lease expiry in unix ms, then
// index members ("<sub6><id>").
var claimScript = goredis.NewScript(`
local out = {}
for k = 2, #ARGV do
  local m = ARGV[k]
  if redis.call('ZREM', KEYS[2], m) == 1 then
    local id = string.sub(m, 7)
    local v = redis.call('HGET', KEYS[1], id)
    if v then
      redis.call('ZADD', KEYS[3], ARGV[1], id)
      out[#out + 1] = id
      out[#out + 1] = v
    end
  end
end
return out
`)

// finishScript records the outcome of a claimed entry. The message.out
// event's new status is decided by the caller's store.StatusAdvances,
// passed as two lists of the statuses it may and may not replace; a stored
// status in neither list makes the script return {STATUS, status} without
// writing, and the caller asks again with that status classified.
//
// KEYS: 1 ob, 2 obdue, 3 obclaim, 4 tl:<id>, 5 tli:<id> (of the caller's
// entry's patient). ARGV: 1 shard base, 2 entry id, 3 patient id, 4 "1"
// when done, 5 new NotBefore in ms, 6 its sub6, 7 its JSON, 8 "1" when
// attempted, 9 status, 10 provider id, 11 error code, 12 statuses that may
// be replaced, 13 statuses that may not (each "\0"-framed), 14 channel
// ("" to keep it; otherwise the entry, when it goes back to pending, and
// the event take it, whatever the status), 15 the JSON time the entry
// became a dead letter ("" when it did not), 16 reason (the event's with
// the status; the entry's last error after a failed attempt), 17 the JSON
// end of its retry window ("" to keep it). KEYS 6 obdead.
//
// It returns {OK}, {NOTCLAIMED} or {STATUS, stored status}.
var finishScript = goredis.NewScript(`
local base, id, pid = ARGV[1], ARGV[2], ARGV[3]
local v = redis.call('HGET', KEYS[1], id)
if not v or not redis.call('ZSCORE', KEYS[3], id) then return {'NOTCLAIMED'} end
local e = cjson.decode(string.sub(v, 7))
local epid = e.patient_id
if type(epid) ~= 'string' then epid = '' end

local pos, ev
local status, channel = ARGV[9], ARGV[14]
if (status ~= '' or channel ~= '') and epid ~= '' and epid == pid then
  pos = redis.call('HGET', KEYS[5], id)
  if pos then
    pos = tonumber(pos) - (tonumber(redis.call('HGET', KEYS[5], '')) or 0)
    local raw = redis.call('LINDEX', KEYS[4], pos)
    if raw then
      ev = cjson.decode(raw)
      if status ~= '' then
        local cur = ev.status
        if type(cur) ~= 'string' then cur = '' end
        local advance
        if string.find(ARGV[12], '\0' .. cur .. '\0', 1, true) then
          advance = true
        elseif string.find(ARGV[13], '\0' .. cur .. '\0', 1, true) then
          advance = false
        else
          return {'STATUS', cur}
        end
        if ARGV[10] ~= '' then ev.provider_id = ARGV[10] end
        if advance then
          ev.status = status
          local code = tonumber(ARGV[11])
          if code == 0 then ev.error_code = nil else ev.error_code = code end
          if ARGV[16] == '' then ev.reason = nil else ev.reason = ARGV[16] end
        end
      end
      if channel ~= '' then ev.channel = channel end
    end
  end
end

if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], string.sub(v, 1, 6) .. id)
  redis.call('ZREM', KEYS[3], id)
  if epid ~= '' then redis.call('SREM', base .. 'obp:' .. epid, id) end
else
  local dead = ARGV[15] ~= ''
  if ARGV[8] == '1' then e.attempts = (tonumber(e.attempts) or 0) + 1 end
  if channel ~= '' then e.channel = channel end
  if ARGV[8] == '1' or dead then
    if ARGV[16] == '' then e.last_error = nil else e.last_error = ARGV[16] end
    local code = tonumber(ARGV[11])
    if code == 0 then e.error_code = nil else e.error_code = code end
  end
  redis.call('ZREM', KEYS[3], id)
  if dead then
    e.failed_at = ARGV[15]
    redis.call('HSET', KEYS[1], id, string.sub(v, 1, 6) .. cjson.encode(e))
    redis.call('ZADD', KEYS[6], 0, id)
  else
    e.not_before = ARGV[7]
    if ARGV[17] ~= '' then e.retry_until = ARGV[17] end
    redis.call('HSET', KEYS[1], id, ARGV[6] .. cjson.encode(e))
    redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6] .. id)
  end
end
if ev then redis.call('LSET', KEYS[4], pos, cjson.encode(ev)) end
return {'OK'}
`)

// deadListScript reads one shard's dead letters: up to ARGV[2] ids (0: all)
// of the index KEYS[1] from ARGV[1] ("-" or "(<id>", ZRANGEBYLEX's), and
// their records in KEYS[2]. Records gone in between are skipped.
var deadListScript = goredis.NewScript(`
local ids
if tonumber(ARGV[2]) > 0 then
  ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
else
  ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+')
end
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then out[#out + 1] = v end
end
return out
`)

// deadScript resends or discards a dead letter of one shard, and writes
// the operator's decision to its message.out event whatever its status
// was (a resend takes it back to queued).
//
// KEYS: 1 ob, 2 obdue, 3 obdead. ARGV: 1 shard base, 2 entry id, 3
// "resend" or "discard", 4 now in ms, 5 its sub6, 6 its JSON (resend), 7
// the event's new status, 8 its reason.
//
// It returns {OK, record} (the new record of a resend, the old one of a
// discard), {NOTFOUND} or {NOTDEAD}.
var deadScript = goredis.NewScript(`
local base, id = ARGV[1], ARGV[2]
local v = redis.call('HGET', KEYS[1], id)
if not v then return {'NOTFOUND'} end
if not redis.call('ZSCORE', KEYS[3], id) then return {'NOTDEAD'} end
local ok, e = pcall(cjson.decode, string.sub(v, 7))
if not ok or type(e) ~= 'table' then return redis.error_reply('bad outbox record ' .. id) end
local pid = e.patient_id
if type(pid) ~= 'string' then pid = '' end

-- The event, read before any write.
local pos, ev
if pid ~= '' then
  local idx = base .. 'tli:' .. pid
  pos = redis.call('HGET', idx, id)
  if pos then
    pos = tonumber(pos) - (tonumber(redis.call('HGET', idx, '')) or 0)
    local raw = redis.call('LINDEX', base .. 'tl:' .. pid, pos)
    if raw then
      local dok, dv = pcall(cjson.decode, raw)
      if dok and type(dv) == 'table' then ev = dv end
    end
  end
end

local rec = v
redis.call('ZREM', KEYS[3], id)
if ARGV[3] == 'resend' then
  e.not_before = ARGV[6]
  e.attempts, e.retry_until, e.last_error, e.error_code, e.failed_at = nil, nil, nil, nil, nil
  rec = ARGV[5] .. cjson.encode(e)
  redis.call('HSET', KEYS[1], id, rec)
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5] .. id)
else
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], string.sub(v, 1, 6) .. id)
  if pid ~= '' then redis.call('SREM', base .. 'obp:' .. pid, id) end
end
if ev then
  ev.status, ev.error_code = ARGV[7], nil
  if ARGV[8] == '' then ev.reason = nil else ev.reason = ARGV[8] end
  redis.call('LSET', base .. 'tl:' .. pid, pos, cjson.encode(ev))
end
return {'OK', rec}
`)

// OutboxPatient implements store.Outbox. The commit wrote the entry's
// patient in the patient's shard, which the id alone does not name: one
// pipelined GET asks every shard.
func (s *Store) OutboxPatient(ctx context.Context, id string) (string, error) {
	cmds := make([]*goredis.StringCmd, Shards)
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.Get(ctx, s.k.outboxOwner(n, id))
		}
		return nil
	})
	// Each command's own error: the pipeline's is the first one, most
	// often the Nil of a shard without the key.
	for _, c := range cmds {
		pid, err := c.Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return "", fmt.Errorf("redis: outbox patient: %w", err)
		case pid != "":
			return pid, nil
		}
	}
	return "", store.ErrNotFound
}
