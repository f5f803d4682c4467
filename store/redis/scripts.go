package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Each one touches the keys of one shard only (one hash
// slot), except commitScript in standalone mode, whose dedupe key may live
// in another shard: Redis checks slots only in a cluster, where Commit
// takes the dedupe key in its own shard first (gateScript).
//
// Conventions shared by the scripts and the Go code (see keys.go):
//   - a time index member starts with six digits, the nanoseconds within
//     the millisecond that is its score, so that members of one score sort
//     by time first: "<sub6><id>" for outbox entries and
//     "<sub6><patient>\0<name>" for timers;
//   - an outbox record is "<sub6><entry JSON>", so that its index member
//     can be rebuilt without decoding the JSON;
//   - a timer record is "<sub6><ms>";
//   - a session record is "<version>:<data>";
//   - a phone or Telegram chat index record is "<claimed at, unix ms>:<patient id>";
//   - a single-use code record is "<expiry, hex time>:<value>";
//   - decoding a stored record never fails a script half way through its
//     writes: pcall guards cjson on stored data.

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

// indexClaimScript claims a phone number or a Telegram chat for a patient
// in the shard of the number or chat. It returns {CREATED}, {OWNED} when
// the patient holds it already, or {OTHER, record} when somebody else
// does.
//
// KEYS: 1 ph:<phone> or tg:<chat>. ARGV: 1 patient id, 2 now in unix ms.
var indexClaimScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[1])
  return {'CREATED'}
end
local owner = string.sub(v, (string.find(v, ':', 1, true) or 0) + 1)
if owner == ARGV[1] then return {'OWNED'} end
return {'OTHER', v}
`)

// casScript replaces KEYS[1] by ARGV[2] when it still holds ARGV[1].
var casScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// indexReleaseScript removes a phone's or chat's index record when it
// names the patient ARGV[1].
var indexReleaseScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, (string.find(v, ':', 1, true) or 0) + 1) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// deleteScript unenrolls a patient: enrollment, session, timers and
// pending outbox entries go; claimed entries, the timeline and escalations
// stay. It returns {NOTFOUND} or {OK, phone to unindex, chat to unindex}.
//
// KEYS: 1 pat:<id>, 2 ses:<id>, 3 tm:<id>, 4 due, 5 ob, 6 obdue,
// 7 obclaim, 8 obp:<id>. ARGV: 1 patient id.
var deleteScript = goredis.NewScript(`
local pid = ARGV[1]
local old = redis.call('GET', KEYS[1])
if not old then return {'NOTFOUND'} end
local phone, chat = '', ''
local ok, p = pcall(cjson.decode, old)
if ok and type(p) == 'table' then
  if type(p.phone) == 'string' then phone = p.phone end
  if type(p.telegram) == 'string' then chat = p.telegram end
end
redis.call('DEL', KEYS[1], KEYS[2])
local tms = redis.call('HGETALL', KEYS[3])
for k = 1, #tms, 2 do
  redis.call('ZREM', KEYS[4], string.sub(tms[k + 1], 1, 6) .. pid .. '\0' .. tms[k])
end
redis.call('DEL', KEYS[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  if not redis.call('ZSCORE', KEYS[7], id) then
    local v = redis.call('HGET', KEYS[5], id)
    if v then
      redis.call('ZREM', KEYS[6], string.sub(v, 1, 6) .. id)
      redis.call('HDEL', KEYS[5], id)
    end
    redis.call('SREM', KEYS[8], id)
  end
end
return {'OK', phone, chat}
`)

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
// the event take it, whatever the status).
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
  e.not_before = ARGV[7]
  if ARGV[8] == '1' then e.attempts = (tonumber(e.attempts) or 0) + 1 end
  if channel ~= '' then e.channel = channel end
  redis.call('HSET', KEYS[1], id, ARGV[6] .. cjson.encode(e))
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6] .. id)
end
if ev then redis.call('LSET', KEYS[4], pos, cjson.encode(ev)) end
return {'OK'}
`)

// listScript reads the records of one shard's hash KEYS[2] whose ids are
// in the index KEYS[1]: a set, or with ARGV[1] the members of a sorted set
// scored at most ARGV[1]. Records gone in between are skipped.
var listScript = goredis.NewScript(`
local ids
if ARGV[1] then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
else
  ids = redis.call('SMEMBERS', KEYS[1])
end
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then out[#out + 1] = v end
end
return out
`)

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

var allScripts = []*goredis.Script{
	commitScript, gateScript, delIfScript, indexClaimScript, casScript,
	indexReleaseScript, deleteScript, claimScript, finishScript, listScript, onceScript,
	takeCodeScript,
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
