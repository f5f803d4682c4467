package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Commit implements store.Store with one script in the patient's shard: a
// turn is one round trip. The checks run in the embedded store's order, so
// a provider's retry of a committed turn is ErrDuplicate whatever else
// changed: dedupe key, enrollment, version, phone, Telegram chat.
//
// Two things live outside the patient's shard and take extra steps:
//   - A new phone number or Telegram chat is claimed in its own shard
//     before the commit (the commit asks for the claims when the patient's
//     number or chat changes), and the old one is released after it. A
//     claim that the commit does not use is released again.
//   - On a cluster, the dedupe key of a patient's commit is taken in its
//     own shard first (when that is not the patient's) and kept in the
//     patient's shard by the commit itself, so that a retry of the same
//     turn is refused atomically. A standalone or Sentinel Redis checks the
//     global key inside the commit script.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.prepare(c)
	if err != nil || p == nil {
		return err
	}
	pid := c.PatientID

	var undo []func(context.Context)
	defer func() {
		uctx := context.WithoutCancel(ctx)
		for _, u := range undo {
			u(uctx)
		}
	}()
	if p.gate {
		ddKey := s.k.dedupe(c.DedupeKey)
		r, err := gateScript.Run(ctx, s.rdb, []string{ddKey}, pid, p.retentionMs).Text()
		if err != nil {
			return fmt.Errorf("redis: commit: dedupe key: %w", err)
		}
		switch r {
		case "DUP":
			return store.ErrDuplicate
		case "CREATED":
			undo = append(undo, func(ctx context.Context) {
				// Unless a concurrent commit of this turn landed: its copy
				// in the patient's shard is there.
				if n, err := s.rdb.Exists(ctx, p.keys[2]).Result(); err != nil || n > 0 {
					return
				}
				delIfScript.Run(ctx, s.rdb, []string{ddKey}, pid)
			})
		}
	}

	asks := 0
	for {
		res, err := commitScript.Run(ctx, s.rdb, p.keys, p.args...).StringSlice()
		if err != nil {
			// The outcome is unknown: keep the dedupe key and phone
			// claims, which are harmless if the commit did not land and
			// needed if it did.
			undo = nil
			return fmt.Errorf("redis: commit: %w", err)
		}
		switch res[0] {
		case "OK":
			undo = nil
			// Best effort: an index record left behind is ignored by
			// PatientByPhone (PatientByTelegram) and taken over by the
			// next claim.
			for i, idx := range []uniqueIndex{phoneIndex, chatIndex} {
				if len(res) > i+1 && res[i+1] != "" {
					indexReleaseScript.Run(context.WithoutCancel(ctx), s.rdb, []string{idx.key(&s.k, res[i+1])}, pid)
				}
			}
			return nil
		case "NEED":
			asks++
			if asks > 3 {
				return fmt.Errorf("redis: commit: claims asked for %d times", asks)
			}
			for i, need := range []struct {
				idx  uniqueIndex
				v    string
				mode int
			}{{phoneIndex, c.Patient.Phone, argPhoneMode}, {chatIndex, c.Patient.Telegram, argChatMode}} {
				if len(res) <= i+1 || res[i+1] != "1" {
					continue
				}
				idx, v := need.idx, need.v
				created, taken, err := s.claim(ctx, idx, v, pid)
				if err != nil {
					return err
				}
				switch {
				case taken:
					p.args[need.mode] = "T"
				case created:
					p.args[need.mode] = "1"
					undo = append(undo, func(ctx context.Context) { s.unclaim(ctx, idx, v, pid) })
				default:
					p.args[need.mode] = "1"
				}
			}
			continue
		case "DUP":
			return store.ErrDuplicate
		case "NOTFOUND":
			return store.ErrNotFound
		case "CONFLICT":
			return store.ErrConflict
		case "TAKEN":
			return store.ErrPhoneTaken
		case "CHATTAKEN":
			return store.ErrChatTaken
		}
		return fmt.Errorf("redis: commit: unexpected reply %q", res)
	}
}

// prepared is a validated commit as the commit script's keys and
// arguments.
type prepared struct {
	keys        []string
	args        []any
	gate        bool // take the dedupe key in its own shard first
	retentionMs int64
}

// Positions in prepared.args (ARGV is 1-based, args 0-based).
const (
	argPhoneMode = 7
	argChatMode  = 12
)

// prepare validates c as the embedded store does and encodes it. It
// returns nil for a commit that writes nothing.
func (s *Store) prepare(c store.Commit) (*prepared, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pid := c.PatientID
	if pid == "" && c.DedupeKey == "" && len(c.Outbox) == 0 {
		return nil, nil
	}

	p := &prepared{retentionMs: max(s.retention.Milliseconds(), 1)}
	var patient, phone, chat string
	if c.Patient != nil {
		pt := *c.Patient
		pt.ID = pid
		b, err := json.Marshal(&pt)
		if err != nil {
			return nil, err
		}
		patient, phone, chat = string(b), pt.Phone, pt.Telegram
	}

	// The shard of the commit: the patient's, or for a reply to an unknown
	// number the dedupe key's (or its first entry's).
	var n int
	switch {
	case pid != "":
		n = shardOf(pid)
	case c.DedupeKey != "":
		n = shardOf(c.DedupeKey)
	default:
		n = shardOf(c.Outbox[0].ID)
	}
	base := s.k.base[n]

	hasSession, session := "0", ""
	if c.Session != nil {
		hasSession, session = "1", string(c.Session)
	}
	hasDedupe := "0"
	ddKey := base + "ses:" + pid // unused; keeps KEYS in the slot
	if c.DedupeKey != "" {
		hasDedupe = "1"
		switch {
		case pid == "" || !s.cluster:
			ddKey = s.k.dedupe(c.DedupeKey)
		default:
			ddKey = base + "dd:" + c.DedupeKey
			p.gate = shardOf(c.DedupeKey) != n
		}
	}
	p.keys = []string{
		base + "pat:" + pid, base + "ses:" + pid, ddKey,
		base + "tl:" + pid, base + "tli:" + pid, base + "tm:" + pid,
		s.k.due(n), s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n),
		base + "obp:" + pid, s.k.escalations(n),
	}
	args := make([]any, 0, 18+2*len(c.Events)+3*(len(c.Outbox)+len(c.SetTimers)+len(c.Escalations))+len(c.DeleteTimers))
	args = append(args, base, pid, strconv.FormatUint(c.Version, 10), hasSession, session,
		patient, phone, "0", hasDedupe, p.retentionMs, s.tlMax, chat, "0")

	args = append(args, len(c.Events))
	for i := range c.Events {
		b, err := json.Marshal(&c.Events[i])
		if err != nil {
			return nil, err
		}
		args = append(args, c.Events[i].ID, string(b))
	}
	args = append(args, len(c.Outbox))
	for _, e := range c.Outbox {
		switch {
		case e.PatientID == "":
			e.PatientID = pid
		case e.PatientID != pid:
			// An entry lives in its patient's shard, where DeletePatient
			// and Finish find it; a commit writes one shard.
			return nil, fmt.Errorf("redis: %w: outbox entry %s of patient %s in a commit for %q", ErrInvalid, e.ID, e.PatientID, pid)
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		st := stampOf(e.NotBefore)
		args = append(args, e.ID, st.score(), st.sub6()+string(b))
	}
	args = append(args, len(c.DeleteTimers))
	for _, name := range c.DeleteTimers {
		args = append(args, name)
	}
	args = append(args, len(c.SetTimers))
	for _, tm := range c.SetTimers {
		st := stampOf(tm.Due)
		args = append(args, tm.Name, st.sub6(), st.score())
	}
	args = append(args, len(c.Escalations))
	for _, e := range c.Escalations {
		switch {
		case e.PatientID == "":
			e.PatientID = pid
		case e.PatientID != pid:
			// A ticket lives in its patient's shard, where a commit
			// replacing it finds it.
			return nil, fmt.Errorf("redis: %w: escalation %s of patient %s in a commit for %s", ErrInvalid, e.ID, e.PatientID, pid)
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		args = append(args, e.ID, e.Status, string(b))
	}
	p.args = args
	return p, nil
}

// commitScript writes one turn. Its checks run in the embedded store's
// order (dedupe key, enrollment, version, phone, Telegram chat) and all of
// them come before the first write, so a refused commit writes nothing.
//
// KEYS: 1 pat:<id>, 2 ses:<id>, 3 dedupe key (KEYS[2] when there is none),
// 4 tl:<id>, 5 tli:<id>, 6 tm:<id>, 7 due, 8 ob, 9 obdue, 10 obclaim,
// 11 obp:<id>, 12 esc.
//
// ARGV: 1 shard base, 2 patient id ("" for a reply to an unknown number),
// 3 expected version, 4 "1" when there is a session, 5 session, 6 patient
// JSON ("" to keep the enrollment), 7 its phone, 8 phone mode ("0": ask
// for a claim when the phone is new to the patient, "1": the caller
// claimed it, "T": the caller found it taken), 9 "1" when there is a
// dedupe key, 10 dedupe retention in ms, 11 timeline cap (0: none), 12 its
// Telegram chat, 13 chat mode (as the phone mode), then counted lists:
// events (id, JSON), outbox entries (id, ms, record), timers to delete
// (name), timers to set (name, sub6, ms), escalations (id, status, JSON).
//
// It returns {"OK", old phone to unindex or "", old chat to unindex or ""},
// {"NEED", "1" when the phone needs a claim, "1" when the chat does} or
// {code}: DUP, NOTFOUND, CONFLICT, TAKEN (the phone), CHATTAKEN.
var commitScript = goredis.NewScript(`
local base, pid = ARGV[1], ARGV[2]
local i = 14
local function count() local n = tonumber(ARGV[i]); i = i + 1; return n end
local evIDs, evs, obs, dels, sets, escs = {}, {}, {}, {}, {}, {}
for k = 1, count() do evIDs[k] = ARGV[i]; evs[k] = ARGV[i+1]; i = i + 2 end
for k = 1, count() do obs[k] = {ARGV[i], ARGV[i+1], ARGV[i+2]}; i = i + 3 end
for k = 1, count() do dels[k] = ARGV[i]; i = i + 1 end
for k = 1, count() do sets[k] = {ARGV[i], ARGV[i+1], ARGV[i+2]}; i = i + 3 end
for k = 1, count() do escs[k] = {ARGV[i], ARGV[i+1], ARGV[i+2]}; i = i + 3 end

local function field(json, name)
  local ok, v = pcall(cjson.decode, json)
  if ok and type(v) == 'table' and type(v[name]) == 'string' then return v[name] end
  return ''
end

if ARGV[9] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {'DUP'} end
local oldPhone, oldChat, ver = '', '', '0'
if pid ~= '' then
  local old = redis.call('GET', KEYS[1])
  if not old and ARGV[6] == '' then return {'NOTFOUND'} end
  local sv = redis.call('GET', KEYS[2])
  if sv then ver = string.sub(sv, 1, string.find(sv, ':', 1, true) - 1) end
  if ver ~= ARGV[3] then return {'CONFLICT'} end
  if ARGV[6] ~= '' then
    if old then oldPhone, oldChat = field(old, 'phone'), field(old, 'telegram') end
    local phone, chat = ARGV[7], ARGV[12]
    local newPhone = phone ~= '' and phone ~= oldPhone
    local newChat = chat ~= '' and chat ~= oldChat
    local askPhone = newPhone and ARGV[8] == '0'
    local askChat = newChat and ARGV[13] == '0'
    if askPhone or askChat then
      return {'NEED', askPhone and '1' or '', askChat and '1' or ''}
    end
    if newPhone and ARGV[8] == 'T' then return {'TAKEN'} end
    if newChat and ARGV[13] == 'T' then return {'CHATTAKEN'} end
    if oldPhone == phone then oldPhone = '' end
    if oldChat == chat then oldChat = '' end
  end
end

if pid ~= '' then
  if ARGV[6] ~= '' then redis.call('SET', KEYS[1], ARGV[6]) end
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[2], string.format('%d', tonumber(ver) + 1) .. ':' .. ARGV[5])
  end
  if #evs > 0 then
    -- In chunks: unpack has a limit, and an error after the first write
    -- would leave the commit half done.
    local len
    for s = 1, #evs, 500 do
      len = redis.call('RPUSH', KEYS[4], unpack(evs, s, math.min(s + 499, #evs)))
    end
    -- Positions in tli count from the patient's first event; field ""
    -- (no event id is empty in the index) holds how many the cap trimmed.
    local trimmed = tonumber(redis.call('HGET', KEYS[5], '')) or 0
    local idx = {}
    for k = 1, #evs do
      if evIDs[k] ~= '' then
        idx[#idx + 1] = evIDs[k]
        idx[#idx + 1] = trimmed + len - #evs + k - 1
      end
      if #idx >= 1000 or (k == #evs and #idx > 0) then
        redis.call('HSET', KEYS[5], unpack(idx))
        idx = {}
      end
    end
    local cap = tonumber(ARGV[11])
    if cap > 0 and len > cap then
      local n = len - cap
      local old = redis.call('LRANGE', KEYS[4], 0, n - 1)
      for j, raw in ipairs(old) do
        local id = field(raw, 'id')
        if id ~= '' and tonumber(redis.call('HGET', KEYS[5], id)) == trimmed + j - 1 then
          redis.call('HDEL', KEYS[5], id)
        end
      end
      redis.call('LTRIM', KEYS[4], n, -1)
      redis.call('HSET', KEYS[5], '', trimmed + n)
    end
  end
  local function deltimer(name)
    local v = redis.call('HGET', KEYS[6], name)
    if v then
      redis.call('ZREM', KEYS[7], string.sub(v, 1, 6) .. pid .. '\0' .. name)
      redis.call('HDEL', KEYS[6], name)
    end
  end
  for _, name in ipairs(dels) do deltimer(name) end
  for _, t in ipairs(sets) do
    deltimer(t[1])
    redis.call('HSET', KEYS[6], t[1], t[2] .. t[3])
    redis.call('ZADD', KEYS[7], t[3], t[2] .. pid .. '\0' .. t[1])
  end
  for _, e in ipairs(escs) do
    local old = redis.call('HGET', KEYS[12], e[1])
    if old then redis.call('SREM', base .. 'escst:' .. field(old, 'status'), e[1]) end
    redis.call('HSET', KEYS[12], e[1], e[3])
    redis.call('SADD', base .. 'escst:' .. e[2], e[1])
  end
end

for _, o in ipairs(obs) do
  local id = o[1]
  local old = redis.call('HGET', KEYS[8], id)
  if old then
    -- The same ID again replaces the entry, pending or claimed.
    redis.call('ZREM', KEYS[9], string.sub(old, 1, 6) .. id)
    redis.call('ZREM', KEYS[10], id)
    local op = field(string.sub(old, 7), 'patient_id')
    if op ~= '' then redis.call('SREM', base .. 'obp:' .. op, id) end
  end
  redis.call('HSET', KEYS[8], id, o[3])
  redis.call('ZADD', KEYS[9], o[2], string.sub(o[3], 1, 6) .. id)
  if pid ~= '' then redis.call('SADD', KEYS[11], id) end
end

if ARGV[9] == '1' then redis.call('SET', KEYS[3], pid, 'PX', ARGV[10]) end
return {'OK', oldPhone, oldChat}
`)

// gateScript takes a dedupe key in its own shard for a patient's commit on
// a cluster, where the commit itself runs in the patient's shard. It
// returns DUP when another patient (or a reply to an unknown number)
// committed the key, OWNED when this patient holds it already, CREATED when
// it took it now.
//
// KEYS: 1 dd:<key>. ARGV: 1 patient id, 2 retention in ms.
var gateScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  if v == ARGV[1] then return 'OWNED' end
  return 'DUP'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'CREATED'
`)

// delIfScript deletes KEYS[1] when it holds ARGV[1]: the undo of a gate.
var delIfScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
