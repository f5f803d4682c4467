package redis

import (
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"time"
)

// Shards is how many hash tags the store spreads its keys over. A patient's
// keys, and the cross-patient indexes of the shard they fall in, share one
// tag, so one script commits a turn. It is part of the data layout: changing
// it needs a migration.
const Shards = 16

// shardOf is the shard of a patient id, phone number, address,
// dedupe key, Once key or single-use code.
func shardOf(s string) int { return int(crc32.ChecksumIEEE([]byte(s)) % Shards) }

// keyspace names the keys of one store: "{s:<n>}:<prefix>:<name>", with the
// shard's hash tag first so that it alone decides the slot.
type keyspace struct {
	base [Shards]string
}

func newKeyspace(prefix string) keyspace {
	var k keyspace
	for n := range Shards {
		k.base[n] = fmt.Sprintf("{s:%d}:", n)
		if prefix != "" {
			k.base[n] += prefix + ":"
		}
	}
	return k
}

// Per patient, in the patient's shard.
func (k *keyspace) patient(pid string) string  { return k.base[shardOf(pid)] + "pat:" + pid }
func (k *keyspace) session(pid string) string  { return k.base[shardOf(pid)] + "ses:" + pid }
func (k *keyspace) timeline(pid string) string { return k.base[shardOf(pid)] + "tl:" + pid }
func (k *keyspace) eventIdx(pid string) string { return k.base[shardOf(pid)] + "tli:" + pid }
func (k *keyspace) timers(pid string) string   { return k.base[shardOf(pid)] + "tm:" + pid }
func (k *keyspace) outboxOf(pid string) string { return k.base[shardOf(pid)] + "obp:" + pid }

// match is a SCAN MATCH pattern for the keys "<kind><name>" of every shard
// (kind "pat:": the enrollment keys). The prefix is escaped, so that a
// prefix with glob characters matches only itself; nameOf then checks each
// key exactly.
func (k *keyspace) match(kind string) string {
	rest := strings.TrimPrefix(k.base[0], "{s:0}:")
	return "{s:*}:" + globEscaper.Replace(rest) + kind + "*"
}

var globEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`)

// nameOf returns the name of a key "<kind><name>" of this keyspace (the
// patient id of an enrollment key): the key must be in that name's shard.
func (k *keyspace) nameOf(kind, key string) (string, bool) {
	n, _, ok := strings.Cut(strings.TrimPrefix(key, "{s:"), "}")
	if !ok || len(n) > 2 {
		return "", false
	}
	shard, err := strconv.Atoi(n)
	if err != nil || shard < 0 || shard >= Shards {
		return "", false
	}
	name, ok := strings.CutPrefix(key, k.base[shard]+kind)
	if !ok || name == "" || shardOf(name) != shard {
		return "", false
	}
	return name, true
}

// Per shard.
func (k *keyspace) due(n int) string           { return k.base[n] + "due" }
func (k *keyspace) outbox(n int) string        { return k.base[n] + "ob" }
func (k *keyspace) outboxDue(n int) string     { return k.base[n] + "obdue" }
func (k *keyspace) outboxClaimed(n int) string { return k.base[n] + "obclaim" }
func (k *keyspace) outboxDead(n int) string    { return k.base[n] + "obdead" }

// outboxOwner is the patient of outbox entry id (OutboxPatient), in the
// patient's shard n, where the commit that queued the entry wrote it.
func (k *keyspace) outboxOwner(n int, id string) string { return k.base[n] + "obo:" + id }
func (k *keyspace) escalations(n int) string            { return k.base[n] + "esc" }
func (k *keyspace) escStatus(n int, st string) string   { return k.base[n] + "escst:" + st }

// staff is the hash of staff accounts (email → JSON), in shard 0: a
// handful of records, read at sign-in.
func (k *keyspace) staff() string { return k.base[0] + "staff" }

// login is a console session, in the shard of its id.
func (k *keyspace) login(id string) string { return k.base[shardOf(id)] + "login:" + id }

// job is a bulk request's progress, in the shard of its id.
func (k *keyspace) job(id string) string { return k.base[shardOf(id)] + "job:" + id }

// auditLog is the audit log, a list in shard 0 (one chain for the store).
func (k *keyspace) auditLog() string { return k.base[0] + "audit" }

// In the shard of their own key.
func (k *keyspace) dedupe(key string) string  { return k.base[shardOf(key)] + "dd:" + key }
func (k *keyspace) phone(phone string) string { return k.base[shardOf(phone)] + "ph:" + phone }

// address is the index key of addr on channel, in the shard of addr alone
// (as the Telegram chat index of schema 1 was: migrate.go). A channel name
// has no ':' (store.ValidChannel), so the key is unambiguous.
func (k *keyspace) address(channel, addr string) string {
	return k.base[shardOf(addr)] + "ad:" + channel + ":" + addr
}
func (k *keyspace) once(key string) string  { return k.base[shardOf(key)] + "once:" + key }
func (k *keyspace) code(code string) string { return k.base[shardOf(code)] + "code:" + code }

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos is t in Unix nanoseconds, clamped to what an int64 holds (the
// years 1678 to 2262), as the embedded store's index keys are.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// stamp is an index position: a score in whole Unix milliseconds (exact in
// a float64) and the nanoseconds within that millisecond, written as six
// digits at the start of index members so that equal scores sort by time.
type stamp struct {
	ms  int64
	sub int64 // 0 to 999,999
}

func stampOf(t time.Time) stamp {
	ns := nanos(t)
	ms, sub := ns/1e6, ns%1e6
	if sub < 0 {
		ms, sub = ms-1, sub+1e6
	}
	return stamp{ms, sub}
}

func (s stamp) score() string { return strconv.FormatInt(s.ms, 10) }
func (s stamp) sub6() string  { return fmt.Sprintf("%06d", s.sub) }

func (s stamp) time() time.Time { return time.Unix(0, s.ms*1e6+s.sub).UTC() }

// due reports whether an index member scored ms whose sub6 prefix is sub
// is at or before s.
func (s stamp) covers(ms int64, sub string) bool {
	return ms < s.ms || (ms == s.ms && sub <= s.sub6())
}

// parseStamp reads a score and the sub6 prefix of a member or record.
func parseStamp(ms int64, rec string) (stamp, error) {
	if len(rec) < 6 {
		return stamp{}, fmt.Errorf("redis: short index member %q", rec)
	}
	sub, err := strconv.ParseInt(rec[:6], 10, 64)
	if err != nil {
		return stamp{}, fmt.Errorf("redis: index member %q: %w", rec, err)
	}
	return stamp{ms, sub}, nil
}

// hexTime encodes t as 16 hex digits that sort like the times: Unix
// nanoseconds with the sign bit flipped.
func hexTime(t time.Time) string {
	var b [8]byte
	u := uint64(nanos(t)) ^ (1 << 63)
	for i := 7; i >= 0; i-- {
		b[i] = byte(u)
		u >>= 8
	}
	return hex.EncodeToString(b[:])
}

// unixMs is t in whole Unix milliseconds.
func unixMs(t time.Time) int64 { return stampOf(t).ms }
