package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Commit implements store.Store with one script in the patient's shard: a
// turn is one round trip. The checks run in the embedded store's order, so
// a provider's retry of a committed turn is ErrDuplicate whatever else
// changed: dedupe key, enrollment, version, phone, addresses.
//
// Two things live outside the patient's shard and take extra steps:
//   - A new phone number or address is claimed in its own shard before the
//     commit (the commit asks for the claims when the patient's number or
//     an address changes), and the old one is released after it. A claim
//     that the commit does not use is released again.
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
		u, err := s.gate(ctx, p, c.DedupeKey, pid)
		if err != nil {
			return err
		}
		undo = append(undo, u...)
	}

	for asks := 0; ; asks++ {
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
			s.release(ctx, res[1:], pid)
			return nil
		case "NEED":
			if asks == 3 {
				return fmt.Errorf("redis: commit: claims asked for %d times", asks+1)
			}
			u, err := s.claimAsked(ctx, p, res[1:], pid)
			undo = append(undo, u...)
			if err != nil {
				return err
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
		case "ADDRTAKEN":
			return store.ErrAddressTaken
		}
		return fmt.Errorf("redis: commit: unexpected reply %q", res)
	}
}

// gate takes the commit's dedupe key in its own shard (a cluster, where
// the commit runs in the patient's), and returns how to give it back if
// the commit fails.
func (s *Store) gate(ctx context.Context, p *prepared, dedupeKey, pid string) ([]func(context.Context), error) {
	ddKey := s.k.dedupe(dedupeKey)
	r, err := gateScript.Run(ctx, s.rdb, []string{ddKey}, pid, p.retentionMs).Text()
	if err != nil {
		return nil, fmt.Errorf("redis: commit: dedupe key: %w", err)
	}
	switch r {
	case "DUP":
		return nil, store.ErrDuplicate
	case "CREATED":
		return []func(context.Context){func(ctx context.Context) {
			// Unless a concurrent commit of this turn landed: its copy
			// in the patient's shard is there.
			if n, err := s.rdb.Exists(ctx, p.keys[2]).Result(); err != nil || n > 0 {
				return
			}
			delIfScript.Run(ctx, s.rdb, []string{ddKey}, pid)
		}}, nil
	}
	return nil, nil
}

// claimAsked claims the phone number and addresses the commit script asked
// for (need[i] == "1" for p.claims[i]) and tells the script, in p.args,
// which it got and which it found taken. It returns how to release the
// claims it created if the commit fails.
func (s *Store) claimAsked(ctx context.Context, p *prepared, need []string, pid string) ([]func(context.Context), error) {
	var undo []func(context.Context)
	for i, cl := range p.claims {
		if i >= len(need) || need[i] != "1" {
			continue
		}
		created, taken, err := s.claim(ctx, cl.idx, cl.v, pid)
		if err != nil {
			return undo, err
		}
		switch {
		case taken:
			p.args[cl.mode] = "T"
		case created:
			p.args[cl.mode] = "1"
			undo = append(undo, func(ctx context.Context) { s.unclaim(ctx, cl.idx, cl.v, pid) })
		default:
			p.args[cl.mode] = "1"
		}
	}
	return undo, nil
}

// release removes the index records a commit or an unenrollment left
// without their patient: old is the phone number ("" for none), then
// channel, address pairs. Best effort: a record left behind is ignored by
// PatientByPhone (PatientByAddress) and taken over by the next claim.
func (s *Store) release(ctx context.Context, old []string, pid string) {
	ctx = context.WithoutCancel(ctx)
	if len(old) > 0 && old[0] != "" {
		indexReleaseScript.Run(ctx, s.rdb, []string{s.k.phone(old[0])}, pid)
	}
	for i := 1; i+1 < len(old); i += 2 {
		if old[i+1] != "" {
			indexReleaseScript.Run(ctx, s.rdb, []string{s.k.address(old[i], old[i+1])}, pid)
		}
	}
}

// prepared is a validated commit as the commit script's keys and
// arguments.
type prepared struct {
	keys        []string
	args        []any
	claims      []claimArg // the phone's first, then the addresses'
	gate        bool       // take the dedupe key in its own shard first
	retentionMs int64
}

// claimArg is a unique value of the commit's enrollment that the script
// may ask Commit to claim, and where in the args it says how that went.
type claimArg struct {
	idx  uniqueIndex
	v    string
	mode int
}

// argPhoneMode is the position of the phone's mode in prepared.args (ARGV
// is 1-based, args 0-based).
const argPhoneMode = 7

// prepare validates c and encodes it as the commit script's keys and
// arguments. It returns nil for a commit that writes nothing.
func (s *Store) prepare(c store.Commit) (*prepared, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pid := c.PatientID
	if pid == "" && c.DedupeKey == "" && len(c.Outbox) == 0 {
		return nil, nil
	}
	p := &prepared{retentionMs: max(s.retention.Milliseconds(), 1)}
	n := commitShard(c)
	base := s.k.base[n]
	ddKey := base + "ses:" + pid // unused; keeps KEYS in the slot
	if c.DedupeKey != "" {
		switch {
		case pid == "" || !s.cluster:
			ddKey = s.k.dedupe(c.DedupeKey)
		default:
			ddKey = base + "dd:" + c.DedupeKey // the patient's copy
			p.gate = shardOf(c.DedupeKey) != n
		}
	}
	// The patient's keys are built on the commit's shard, not with
	// keyspace's methods: without a patient they must still share its slot.
	p.keys = []string{
		base + "pat:" + pid, base + "ses:" + pid, ddKey,
		base + "tl:" + pid, base + "tli:" + pid, base + "tm:" + pid,
		s.k.due(n), s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n),
		base + "obp:" + pid, s.k.escalations(n),
	}
	if err := p.encode(c, base, s.tlMax); err != nil {
		return nil, err
	}
	return p, nil
}

// commitShard is the shard a commit runs in: the patient's, or for a reply
// to an unknown number the dedupe key's (or its first entry's).
func commitShard(c store.Commit) int {
	switch {
	case c.PatientID != "":
		return shardOf(c.PatientID)
	case c.DedupeKey != "":
		return shardOf(c.DedupeKey)
	}
	return shardOf(c.Outbox[0].ID)
}

// encode writes the commit script's ARGV (see commitScript) to p.args.
func (p *prepared) encode(c store.Commit, base string, tlMax int) error {
	pid := c.PatientID
	hasSession, session := "0", ""
	if c.Session != nil {
		hasSession, session = "1", string(c.Session)
	}
	hasDedupe := "0"
	if c.DedupeKey != "" {
		hasDedupe = "1"
	}
	var patient, phone string
	var addrs []string // channel, address pairs
	if c.Patient != nil {
		pt := *c.Patient
		pt.ID = pid
		b, err := json.Marshal(&pt)
		if err != nil {
			return err
		}
		patient, phone = string(b), pt.Phone
		for _, ch := range slices.Sorted(maps.Keys(pt.Addresses)) {
			if a := pt.Addresses[ch]; a != "" {
				addrs = append(addrs, ch, a)
			}
		}
	}
	p.args = make([]any, 0, 12+3*len(addrs)/2+2*len(c.Events)+3*(len(c.Outbox)+len(c.SetTimers)+len(c.Escalations))+len(c.DeleteTimers))
	p.args = append(p.args, base, pid, strconv.FormatUint(c.Version, 10), hasSession, session,
		patient, phone, "0", hasDedupe, p.retentionMs, tlMax)
	p.claims = append(p.claims, claimArg{phoneIndex, phone, argPhoneMode})

	p.args = append(p.args, len(addrs)/2)
	for i := 0; i < len(addrs); i += 2 {
		p.claims = append(p.claims, claimArg{addressIndex(addrs[i]), addrs[i+1], len(p.args) + 2})
		p.args = append(p.args, addrs[i], addrs[i+1], "0")
	}
	if err := p.encodeEvents(c.Events); err != nil {
		return err
	}
	if err := p.encodeOutbox(c.Outbox, pid); err != nil {
		return err
	}
	p.args = append(p.args, len(c.DeleteTimers))
	for _, name := range c.DeleteTimers {
		p.args = append(p.args, name)
	}
	p.args = append(p.args, len(c.SetTimers))
	for _, tm := range c.SetTimers {
		st := stampOf(tm.Due)
		p.args = append(p.args, tm.Name, st.sub6(), st.score())
	}
	return p.encodeEscalations(c.Escalations, pid)
}

func (p *prepared) encodeEvents(evs []store.Event) error {
	p.args = append(p.args, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			return err
		}
		p.args = append(p.args, evs[i].ID, string(b))
	}
	return nil
}

func (p *prepared) encodeOutbox(entries []store.OutboxEntry, pid string) error {
	p.args = append(p.args, len(entries))
	for _, e := range entries {
		switch {
		case e.PatientID == "":
			e.PatientID = pid
		case e.PatientID != pid:
			// An entry lives in its patient's shard, where DeletePatient
			// and Finish find it; a commit writes one shard.
			return fmt.Errorf("redis: %w: outbox entry %s of patient %s in a commit for %q", ErrInvalid, e.ID, e.PatientID, pid)
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		st := stampOf(e.NotBefore)
		p.args = append(p.args, e.ID, st.score(), st.sub6()+string(b))
	}
	return nil
}

func (p *prepared) encodeEscalations(escs []store.Escalation, pid string) error {
	p.args = append(p.args, len(escs))
	for _, e := range escs {
		switch {
		case e.PatientID == "":
			e.PatientID = pid
		case e.PatientID != pid:
			// A ticket lives in its patient's shard, where a commit
			// replacing it finds it.
			return fmt.Errorf("redis: %w: escalation %s of patient %s in a commit for %s", ErrInvalid, e.ID, e.PatientID, pid)
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		p.args = append(p.args, e.ID, e.Status, string(b))
	}
	return nil
}

// commitScript writes one turn. Its checks run in the embedded store's
// order (dedupe key, enrollment, version, phone, addresses) and all of
// them come before the first write, so a refused commit writes nothing.
//
// KEYS: 1 pat:<id>, 2 ses:<id>, 3 dedupe key (KEYS[2] when there is none),
// 4 tl:<id>, 5 tli:<id>, 6 tm:<id>, 7 due, 8 ob, 9 obdue, 10 obclaim,
// 11 obp:<id>, 12 esc. Each outbox entry's obo:<entry id> (OutboxPatient)
// is built from the shard base, in the patient's slot.
//
// ARGV: 1 shard base, 2 patient id ("" for a reply to an unknown number),
// 3 expected version, 4 "1" when there is a session, 5 session, 6 patient
// JSON ("" to keep the enrollment), 7 its phone, 8 phone mode ("0": ask
// for a claim when the phone is new to the patient, "1": the caller
// claimed it, "T": the caller found it taken), 9 "1" when there is a
// dedupe key, 10 dedupe (and obo:) retention in ms, 11 timeline cap (0: none), then
// counted lists: the patient's addresses (channel, address, mode as the
// phone's), events (id, JSON), outbox entries (id, ms, record), timers to
// delete (name), timers to set (name, sub6, ms), escalations (id, status,
// JSON).
//
// It returns {"OK", old phone to unindex or "", then channel, address
// pairs to unindex}, {"NEED", "1" when the phone needs a claim, then "1"
// for each address (in ARGV's order) that does} or {code}: DUP, NOTFOUND,
// CONFLICT, TAKEN (the phone), ADDRTAKEN.
var commitScript = goredis.NewScript(`
local base, pid = ARGV[1], ARGV[2]
local i = 12
local function count() local n = tonumber(ARGV[i]); i = i + 1; return n end
local addrs, evIDs, evs, obs, dels, sets, escs = {}, {}, {}, {}, {}, {}, {}
for k = 1, count() do addrs[k] = {ARGV[i], ARGV[i+1], ARGV[i+2]}; i = i + 3 end
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

-- addresses returns a patient JSON's addresses, channel -> address.
local function addresses(json)
  local out = {}
  local ok, v = pcall(cjson.decode, json)
  if ok and type(v) == 'table' and type(v.addresses) == 'table' then
    for ch, a in pairs(v.addresses) do
      if type(ch) == 'string' and type(a) == 'string' and a ~= '' then out[ch] = a end
    end
  end
  return out
end

if ARGV[9] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {'DUP'} end
local oldPhone, released, ver = '', {}, '0'
if pid ~= '' then
  local old = redis.call('GET', KEYS[1])
  if not old and ARGV[6] == '' then return {'NOTFOUND'} end
  local sv = redis.call('GET', KEYS[2])
  if sv then ver = string.sub(sv, 1, string.find(sv, ':', 1, true) - 1) end
  if ver ~= ARGV[3] then return {'CONFLICT'} end
  if ARGV[6] ~= '' then
    local oldAddrs = {}
    if old then oldPhone, oldAddrs = field(old, 'phone'), addresses(old) end
    local phone = ARGV[7]
    local newPhone = phone ~= '' and phone ~= oldPhone
    local askPhone = newPhone and ARGV[8] == '0'
    local ask, asks, now = askPhone, {}, {}
    for k, a in ipairs(addrs) do
      a.new = a[2] ~= oldAddrs[a[1]]
      asks[k] = (a.new and a[3] == '0') and '1' or ''
      if asks[k] == '1' then ask = true end
      now[a[1]] = a[2]
    end
    if ask then return {'NEED', askPhone and '1' or '', unpack(asks)} end
    if newPhone and ARGV[8] == 'T' then return {'TAKEN'} end
    for _, a in ipairs(addrs) do
      if a.new and a[3] == 'T' then return {'ADDRTAKEN'} end
    end
    if oldPhone == phone then oldPhone = '' end
    for ch, a in pairs(oldAddrs) do
      if now[ch] ~= a then
        released[#released + 1] = ch
        released[#released + 1] = a
      end
    end
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
    -- The same ID again replaces the entry, pending, claimed or dead.
    redis.call('ZREM', KEYS[9], string.sub(old, 1, 6) .. id)
    redis.call('ZREM', KEYS[10], id)
    redis.call('ZREM', base .. 'obdead', id)
    local op = field(string.sub(old, 7), 'patient_id')
    if op ~= '' then redis.call('SREM', base .. 'obp:' .. op, id) end
  end
  redis.call('HSET', KEYS[8], id, o[3])
  redis.call('ZADD', KEYS[9], o[2], string.sub(o[3], 1, 6) .. id)
  if pid ~= '' then
    redis.call('SADD', KEYS[11], id)
    redis.call('SET', base .. 'obo:' .. id, pid, 'PX', ARGV[10])
  end
end

if ARGV[9] == '1' then redis.call('SET', KEYS[3], pid, 'PX', ARGV[10]) end
return {'OK', oldPhone, unpack(released)}
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
