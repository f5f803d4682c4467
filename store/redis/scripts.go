package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts live beside the Go code that runs them (commitScript in
// commit.go, claimTimersScript in timers.go, ...); this file has what they
// share. Each one touches the keys of one shard only (one hash slot),
// except commitScript in standalone mode, whose dedupe key may live in
// another shard: Redis checks slots only in a cluster, where Commit takes
// the dedupe key in its own shard first (gateScript).
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
//   - a phone or address index record is "<claimed at, unix ms>:<patient id>";
//   - a single-use code record is "<expiry, hex time>:<value>";
//   - decoding a stored record never fails a script half way through its
//     writes: pcall guards cjson on stored data.

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

// allScripts are loaded by Open.
var allScripts = []*goredis.Script{
	commitScript, gateScript, delIfScript, indexClaimScript, casScript,
	indexReleaseScript, deleteScript, claimScript, finishScript, listScript, onceScript,
	takeCodeScript, moveChatScript, deadListScript, deadScript,
}
