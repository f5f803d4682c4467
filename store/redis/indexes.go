package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// phoneGrace is how long a phone (or address) claim is respected
// even when its owner does not (yet) have the phone: the time an
// enrollment takes between claiming the number and committing.
const phoneGrace = time.Minute

// uniqueIndex is a value of an enrollment that no two enrolled patients
// share, indexed in the shard of the value: the phone number, or an
// address on one channel (addressIndex).
type uniqueIndex struct {
	what string
	key  func(*keyspace, string) string
	of   func(store.Patient) string
}

var phoneIndex = uniqueIndex{"phone", (*keyspace).phone, func(p store.Patient) string { return p.Phone }}

// addressIndex is the index of the addresses on channel.
func addressIndex(channel string) uniqueIndex {
	return uniqueIndex{
		what: channel + " address",
		key:  func(k *keyspace, addr string) string { return k.address(channel, addr) },
		of:   func(p store.Patient) string { return p.Address(channel) },
	}
}

// PatientByPhone implements store.Store in two round trips: the phone's
// index record, in the phone's shard, then the patient. An index record
// whose patient no longer has the number (left by a crash between the
// steps of an enrollment) is not an answer.
func (s *Store) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	return s.byIndex(ctx, phoneIndex, phone)
}

// PatientByAddress implements store.Store as PatientByPhone does, with
// the address's index record in the address's shard.
func (s *Store) PatientByAddress(ctx context.Context, channel, addr string) (store.Patient, error) {
	return s.byIndex(ctx, addressIndex(channel), addr)
}

func (s *Store) byIndex(ctx context.Context, idx uniqueIndex, v string) (store.Patient, error) {
	if err := ctx.Err(); err != nil {
		return store.Patient{}, err
	}
	if v == "" {
		return store.Patient{}, store.ErrNotFound
	}
	rec, err := s.rdb.Get(ctx, idx.key(&s.k, v)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Patient{}, store.ErrNotFound
	}
	if err != nil {
		return store.Patient{}, fmt.Errorf("redis: %s: %w", idx.what, err)
	}
	_, owner := parsePhoneRecord(rec)
	p, err := s.getPatient(ctx, owner)
	if err != nil {
		return store.Patient{}, err
	}
	if idx.of(p) != v {
		return store.Patient{}, store.ErrNotFound
	}
	return p, nil
}

// parsePhoneRecord reads "<claimed at, unix ms>:<patient id>", the record
// of a phone or address index.
func parsePhoneRecord(rec string) (at int64, owner string) {
	ms, owner, _ := strings.Cut(rec, ":")
	at, _ = strconv.ParseInt(ms, 10, 64)
	return at, owner
}

// claim claims a phone number or address v for pid in the shard of v. It
// reports whether it created the claim (to be released if the commit
// fails) or found v taken. A claim older than phoneGrace whose owner does
// not have v is stale (a crash between the steps of an enrollment) and is
// taken over.
func (s *Store) claim(ctx context.Context, idx uniqueIndex, v, pid string) (created, taken bool, err error) {
	key := idx.key(&s.k, v)
	for range 3 {
		now := unixMs(s.now())
		res, err := indexClaimScript.Run(ctx, s.rdb, []string{key}, pid, now).StringSlice()
		if err != nil {
			return false, false, fmt.Errorf("redis: commit: claim %s: %w", idx.what, err)
		}
		switch res[0] {
		case "CREATED":
			return true, false, nil
		case "OWNED":
			return false, false, nil
		}
		rec := res[1]
		at, owner := parsePhoneRecord(rec)
		if now-at < phoneGrace.Milliseconds() {
			return false, true, nil
		}
		op, err := s.getPatient(ctx, owner)
		switch {
		case err == nil && idx.of(op) == v:
			return false, true, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return false, false, err
		}
		ok, err := casScript.Run(ctx, s.rdb, []string{key}, rec, strconv.FormatInt(now, 10)+":"+pid).Int()
		if err != nil {
			return false, false, fmt.Errorf("redis: commit: claim %s: %w", idx.what, err)
		}
		if ok == 1 {
			return true, false, nil
		}
	}
	return false, true, nil
}

// unclaim releases a phone or address claim that a failed commit made,
// unless the patient has the value after all: a concurrent enrollment of
// the same patient that found the claim its own and committed.
func (s *Store) unclaim(ctx context.Context, idx uniqueIndex, v, pid string) {
	p, err := s.getPatient(ctx, pid)
	if err == nil && idx.of(p) == v {
		return
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return // unsure: leave it, it goes stale after phoneGrace
	}
	indexReleaseScript.Run(ctx, s.rdb, []string{idx.key(&s.k, v)}, pid)
}

// indexClaimScript claims a phone number or an address for a patient in
// the shard of the number or address. It returns {CREATED}, {OWNED} when
// the patient holds it already, or {OTHER, record} when somebody else
// does.
//
// KEYS: 1 ph:<phone> or ad:<channel>:<address>. ARGV: 1 patient id, 2 now in unix ms.
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

// indexReleaseScript removes a phone's or address's index record when it
// names the patient ARGV[1].
var indexReleaseScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, (string.find(v, ':', 1, true) or 0) + 1) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
