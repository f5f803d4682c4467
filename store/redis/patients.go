package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Load implements store.Store in one round trip (MGET of the patient's
// enrollment and session, which share a slot).
func (s *Store) Load(ctx context.Context, patientID string) (store.Patient, store.Session, error) {
	var (
		p    store.Patient
		sess store.Session
	)
	if err := ctx.Err(); err != nil {
		return p, sess, err
	}
	vals, err := s.rdb.MGet(ctx, s.k.patient(patientID), s.k.session(patientID)).Result()
	if err != nil {
		return p, sess, fmt.Errorf("redis: load: %w", err)
	}
	pv, ok := vals[0].(string)
	if !ok {
		return p, sess, store.ErrNotFound
	}
	if err := json.Unmarshal([]byte(pv), &p); err != nil {
		return p, sess, fmt.Errorf("redis: patient %s: %w", patientID, err)
	}
	if sv, ok := vals[1].(string); ok {
		if sess, err = parseSession(sv); err != nil {
			return p, sess, fmt.Errorf("redis: session of %s: %w", patientID, err)
		}
	}
	return p, sess, nil
}

// parseSession reads a "<version>:<data>" record.
func parseSession(v string) (store.Session, error) {
	ver, data, ok := strings.Cut(v, ":")
	if !ok {
		return store.Session{}, errors.New("no version")
	}
	n, err := strconv.ParseUint(ver, 10, 64)
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{Version: n, Data: []byte(data)}, nil
}

func (s *Store) getPatient(ctx context.Context, patientID string) (store.Patient, error) {
	var p store.Patient
	v, err := s.rdb.Get(ctx, s.k.patient(patientID)).Result()
	if errors.Is(err, goredis.Nil) {
		return p, store.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("redis: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return p, fmt.Errorf("redis: patient %s: %w", patientID, err)
	}
	return p, nil
}

// DeletePatient implements store.Store: one script in the patient's shard,
// then the phone's and the addresses' index records in their shards.
func (s *Store) DeletePatient(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := shardOf(patientID)
	res, err := deleteScript.Run(ctx, s.rdb, []string{
		s.k.patient(patientID), s.k.session(patientID), s.k.timers(patientID), s.k.due(n),
		s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n), s.k.outboxOf(patientID), s.k.outboxDead(n),
	}, patientID).StringSlice()
	if err != nil {
		return fmt.Errorf("redis: delete patient: %w", err)
	}
	if res[0] == "NOTFOUND" {
		return store.ErrNotFound
	}
	s.release(ctx, res[1:], patientID)
	return nil
}

// scanCount is the COUNT hint of the SCAN calls of PatientIDs: keys
// Redis looks at per call, which bounds how long each call holds it.
const scanCount = 1000

// PatientIDs implements store.PatientLister with SCAN MATCH over this
// store's enrollment keys (its KeyPrefix only), on every master of a
// cluster, one after the other. Unlike KEYS, SCAN does not hold Redis for
// the whole keyspace, and fn runs between its calls, so it may write. As
// SCAN does, it may list an id twice when Redis resizes its tables
// meanwhile.
func (s *Store) PatientIDs(ctx context.Context, fn func(id string) error) error {
	return s.scan(ctx, "list patients", "pat:", fn)
}

// scan calls fn with the name of each key "<kind><name>" of this store, as
// PatientIDs says: SCAN on every master, fn between the calls. It returns
// fn's first error as it is, and its own as "redis: <what>: ...".
func (s *Store) scan(ctx context.Context, what, kind string, fn func(name string) error) error {
	return s.scanKeys(ctx, what, kind, func(key string) error {
		if name, ok := s.k.nameOf(kind, key); ok {
			return fn(name)
		}
		return nil
	})
}

// scanKeys is scan with the whole key name, whatever shard it is in (a
// dedupe key's copy in its patient's shard).
func (s *Store) scanKeys(ctx context.Context, what, kind string, fn func(key string) error) error {
	nodes := []goredis.Cmdable{s.rdb}
	if cc, ok := s.rdb.(*goredis.ClusterClient); ok {
		// ForEachMaster runs its function on all masters at once; fn is
		// not meant to run concurrently, so only collect them here.
		var mu sync.Mutex
		nodes = nodes[:0]
		err := cc.ForEachMaster(ctx, func(_ context.Context, c *goredis.Client) error {
			mu.Lock()
			nodes = append(nodes, c)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return fmt.Errorf("redis: %s: %w", what, err)
		}
	}
	match := s.k.match(kind)
	for _, node := range nodes {
		for cursor := uint64(0); ; {
			keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return fmt.Errorf("redis: %s: %w", what, err)
			}
			for _, key := range keys {
				if err := fn(key); err != nil {
					return err
				}
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
	return nil
}

// deleteScript unenrolls a patient: enrollment, session, timers, pending
// outbox entries and dead letters go; claimed entries, the timeline and
// escalations stay. It returns {NOTFOUND} or {OK, phone to unindex, then
// channel, address pairs to unindex}.
//
// KEYS: 1 pat:<id>, 2 ses:<id>, 3 tm:<id>, 4 due, 5 ob, 6 obdue,
// 7 obclaim, 8 obp:<id>, 9 obdead. ARGV: 1 patient id.
var deleteScript = goredis.NewScript(`
local pid = ARGV[1]
local old = redis.call('GET', KEYS[1])
if not old then return {'NOTFOUND'} end
local out = {'OK', ''}
local ok, p = pcall(cjson.decode, old)
if ok and type(p) == 'table' then
  if type(p.phone) == 'string' then out[2] = p.phone end
  if type(p.addresses) == 'table' then
    for ch, a in pairs(p.addresses) do
      if type(ch) == 'string' and type(a) == 'string' and a ~= '' then
        out[#out + 1] = ch
        out[#out + 1] = a
      end
    end
  end
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
    redis.call('ZREM', KEYS[9], id)
    redis.call('SREM', KEYS[8], id)
  end
end
return out
`)
