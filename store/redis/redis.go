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
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Options configure a Redis store. The connection comes from URL, Addrs or
// both (Addrs replaces the URL's address); everything else has a default.
type Options struct {
	// URL is redis://[user:password@]host:port/db or rediss:// for TLS,
	// parsed by go-redis (redis.ParseURL); its query may set timeouts and
	// the pool size.
	URL string
	// Addrs are the addresses to connect to: one server, the seeds of a
	// cluster (more than one address, or Cluster), or the Sentinels
	// (with SentinelMaster).
	Addrs []string
	// Cluster selects Redis Cluster with a single seed address.
	Cluster bool
	// SentinelMaster, when set, selects the failover client: Addrs are
	// Sentinels and this is the name of the master they watch.
	SentinelMaster   string
	SentinelPassword string
	// Username and Password authenticate (ACL); they override the URL's.
	Username, Password string
	// PoolSize, DialTimeout, ReadTimeout and WriteTimeout override
	// go-redis's defaults (and the URL's) when set.
	PoolSize                               int
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// KeyPrefix separates stores sharing one Redis: it follows the shard's
	// hash tag in every key ("{s:3}:<prefix>:pat:p1"). Empty by default.
	KeyPrefix string
	// Lease is how long a claimed outbox entry belongs to the replica that
	// claimed it: Claimed lists only claims older than their lease. Zero
	// means 2 minutes; a negative Lease makes claims expire at once, so
	// that Claimed lists every unfinished claim (one replica, tests).
	Lease time.Duration
	// TimelineMax caps each patient's timeline: a commit that makes it
	// longer drops the oldest events. Zero means 2,000 events (years of
	// daily reminders); a negative value keeps everything.
	TimelineMax int
	// DedupeRetention is how long a committed dedupe key is remembered.
	// Zero means 7 days.
	DedupeRetention time.Duration
	// Now is the clock of leases and phone claims; nil means time.Now.
	Now func() time.Time
}

// DefaultTimelineMax is the number of events a patient's timeline keeps.
const DefaultTimelineMax = 2000

// ErrInvalid is store.ErrInvalid: a commit or call that no backend could
// apply (store.Commit.Validate), or that this backend cannot place, such
// as an outbox entry of another patient than the commit's, and options it
// cannot connect with.
var ErrInvalid = store.ErrInvalid

// phoneGrace is how long a phone (or Telegram chat) claim is respected
// even when its owner does not (yet) have the phone: the time an
// enrollment takes between claiming the number and committing.
const phoneGrace = time.Minute

// codeGrace is how long Redis keeps a single-use code after its expiry, by
// the store's clock, before its TTL removes it. The expiry TakeCode checks
// is the caller's now; the TTL only cleans up codes nobody took.
const codeGrace = time.Hour

// maxCodeTTL bounds the TTL of a code, so that a far expiry cannot
// overflow it.
const maxCodeTTL = 366 * 24 * time.Hour

// uniqueIndex is a value of an enrollment that no two enrolled patients
// share, indexed in the shard of the value: the phone number, the Telegram
// chat.
type uniqueIndex struct {
	what string
	key  func(*keyspace, string) string
	of   func(store.Patient) string
}

var (
	phoneIndex = uniqueIndex{"phone", (*keyspace).phone, func(p store.Patient) string { return p.Phone }}
	chatIndex  = uniqueIndex{"telegram chat", (*keyspace).telegram, func(p store.Patient) string { return p.Telegram }}
)

// Store is a store.Store kept in Redis. It is safe for concurrent use, and
// any number of replicas may share one Redis.
type Store struct {
	rdb       goredis.UniversalClient
	k         keyspace
	cluster   bool
	lease     time.Duration
	retention time.Duration
	tlMax     int
	now       func() time.Time

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.PatientLister = (*Store)(nil)
)

// Open connects to Redis, checks that it answers and loads the scripts.
func Open(ctx context.Context, opts Options) (*Store, error) {
	uo, err := opts.universal()
	if err != nil {
		return nil, err
	}
	rdb := goredis.NewUniversalClient(uo)
	s := &Store{
		rdb:       rdb,
		k:         newKeyspace(opts.KeyPrefix),
		lease:     cmp.Or(opts.Lease, 2*time.Minute),
		retention: cmp.Or(opts.DedupeRetention, 7*24*time.Hour),
		tlMax:     cmp.Or(opts.TimelineMax, DefaultTimelineMax),
		now:       opts.Now,
	}
	if s.tlMax < 0 {
		s.tlMax = 0
	}
	_, s.cluster = rdb.(*goredis.ClusterClient)
	if s.now == nil {
		s.now = time.Now
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: open: %w", err)
	}
	// Scripts run with EVALSHA; loading them now saves the first call of
	// each a fallback to EVAL. A flushed script cache is handled too.
	for _, sc := range allScripts {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("redis: open: load script: %w", err)
		}
	}
	return s, nil
}

func (o Options) universal() (*goredis.UniversalOptions, error) {
	u := &goredis.UniversalOptions{ClientName: "tend"}
	if o.URL != "" {
		ro, err := goredis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis: URL: %w", err)
		}
		u.Addrs = []string{ro.Addr}
		u.Username, u.Password, u.DB, u.TLSConfig = ro.Username, ro.Password, ro.DB, ro.TLSConfig
		u.PoolSize, u.DialTimeout, u.ReadTimeout, u.WriteTimeout = ro.PoolSize, ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout
	}
	if len(o.Addrs) > 0 {
		u.Addrs = o.Addrs
	}
	if len(u.Addrs) == 0 {
		return nil, fmt.Errorf("redis: %w: no Redis address (URL or Addrs)", ErrInvalid)
	}
	if o.Username != "" {
		u.Username = o.Username
	}
	if o.Password != "" {
		u.Password = o.Password
	}
	u.MasterName, u.SentinelPassword = o.SentinelMaster, o.SentinelPassword
	u.IsClusterMode = o.Cluster
	if (o.Cluster || len(u.Addrs) > 1) && o.SentinelMaster == "" && u.DB != 0 {
		return nil, fmt.Errorf("redis: %w: Redis Cluster has only database 0, not %d", ErrInvalid, u.DB)
	}
	if o.PoolSize > 0 {
		u.PoolSize = o.PoolSize
	}
	if o.DialTimeout != 0 {
		u.DialTimeout = o.DialTimeout
	}
	if o.ReadTimeout != 0 {
		u.ReadTimeout = o.ReadTimeout
	}
	if o.WriteTimeout != 0 {
		u.WriteTimeout = o.WriteTimeout
	}
	return u, nil
}

// Close closes the connections. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.rdb.Close() })
	return s.closeErr
}

// Ready pings Redis (on a cluster, the node of one key).
func (s *Store) Ready(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

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

// PatientByPhone implements store.Store in two round trips: the phone's
// index record, in the phone's shard, then the patient. An index record
// whose patient no longer has the number (left by a crash between the
// steps of an enrollment) is not an answer.
func (s *Store) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	return s.byIndex(ctx, phoneIndex, phone)
}

// PatientByTelegram implements store.Store as PatientByPhone does, with
// the chat's index record in the chat's shard.
func (s *Store) PatientByTelegram(ctx context.Context, chat string) (store.Patient, error) {
	return s.byIndex(ctx, chatIndex, chat)
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
// of a phone or chat index.
func parsePhoneRecord(rec string) (at int64, owner string) {
	ms, owner, _ := strings.Cut(rec, ":")
	at, _ = strconv.ParseInt(ms, 10, 64)
	return at, owner
}

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

// unclaim releases a phone or chat claim that a failed commit made,
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

// claim claims a phone number or chat v for pid in the shard of v. It
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

// DeletePatient implements store.Store: one script in the patient's shard,
// then the phone's and the chat's index records in their shards.
func (s *Store) DeletePatient(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := shardOf(patientID)
	res, err := deleteScript.Run(ctx, s.rdb, []string{
		s.k.patient(patientID), s.k.session(patientID), s.k.timers(patientID), s.k.due(n),
		s.k.outbox(n), s.k.outboxDue(n), s.k.outboxClaimed(n), s.k.outboxOf(patientID),
	}, patientID).StringSlice()
	if err != nil {
		return fmt.Errorf("redis: delete patient: %w", err)
	}
	if res[0] == "NOTFOUND" {
		return store.ErrNotFound
	}
	// Best effort: the patient is gone, and an index record left behind
	// is ignored by PatientByPhone (PatientByTelegram) and taken over by
	// the next claim.
	for i, idx := range []uniqueIndex{phoneIndex, chatIndex} {
		if len(res) > i+1 && res[i+1] != "" {
			indexReleaseScript.Run(context.WithoutCancel(ctx), s.rdb, []string{idx.key(&s.k, res[i+1])}, patientID)
		}
	}
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
			return fmt.Errorf("redis: list patients: %w", err)
		}
	}
	match := s.k.patientMatch()
	for _, node := range nodes {
		for cursor := uint64(0); ; {
			keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return fmt.Errorf("redis: list patients: %w", err)
			}
			for _, key := range keys {
				if id, ok := s.k.patientOf(key); ok {
					if err := fn(id); err != nil {
						return err
					}
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

// Timeline implements store.Store: the patient's event list, in commit
// order.
func (s *Store) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, err := s.rdb.LRange(ctx, s.k.timeline(patientID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: timeline: %w", err)
	}
	var evs []store.Event
	for _, r := range raw {
		var e store.Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("redis: event of %s: %w", patientID, err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// TrimTimeline drops a patient's timeline events from before a time, oldest
// first (events are in commit order), and returns how many it dropped. It is
// safe beside running turns, which only append, and beside another sweep.
func (s *Store) TrimTimeline(ctx context.Context, patientID string, before time.Time) (int, error) {
	tl, idx := s.k.timeline(patientID), s.k.eventIdx(patientID)
	for range 5 {
		trimmed, err := s.rdb.HGet(ctx, idx, "").Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return 0, err
		}
		raw, err := s.rdb.LRange(ctx, tl, 0, -1).Result()
		if err != nil {
			return 0, err
		}
		n := 0
		for _, r := range raw {
			var e struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal([]byte(r), &e) != nil || !e.At.Before(before) {
				break
			}
			n++
		}
		if n == 0 {
			return 0, nil
		}
		got, err := trimScript.Run(ctx, s.rdb, []string{tl, idx}, n, trimmed).Int()
		if err != nil || got > 0 {
			return got, err
		}
		// Another sweep trimmed this timeline since it was read: again.
	}
	return 0, nil
}

// SweepTimelines trims every enrolled patient's timeline to the events at
// or after before (the retention limit), and returns how many it dropped.
func (s *Store) SweepTimelines(ctx context.Context, before time.Time) (int, error) {
	total := 0
	err := s.PatientIDs(ctx, func(id string) error {
		n, err := s.TrimTimeline(ctx, id, before)
		total += n
		return err
	})
	return total, err
}

// UpdateEvent implements store.Store as an optimistic transaction (WATCH
// on the patient's timeline, MULTI/EXEC), retried when a concurrent write
// to the timeline wins: fn may then run more than once, and must be quick
// and not call the store.
func (s *Store) UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*store.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if patientID == "" || eventID == "" {
		return store.ErrNotFound
	}
	tl, idx := s.k.timeline(patientID), s.k.eventIdx(patientID)
	txf := func(tx *goredis.Tx) error {
		pos, err := tx.HGet(ctx, idx, eventID).Int64()
		if errors.Is(err, goredis.Nil) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		// Positions count from the first event ever; the cap trimmed
		// base events off the front.
		trimmed, err := tx.HGet(ctx, idx, "").Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		pos -= trimmed
		raw, err := tx.LIndex(ctx, tl, pos).Result()
		if errors.Is(err, goredis.Nil) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var e store.Event
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return fmt.Errorf("event %s of %s: %w", eventID, patientID, err)
		}
		if !fn(&e) {
			return nil
		}
		e.ID = eventID // the index depends on it
		b, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.LSet(ctx, tl, pos, b)
			return nil
		})
		return err
	}
	for {
		err := s.rdb.Watch(ctx, txf, tl, idx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, goredis.TxFailedErr):
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		case errors.Is(err, store.ErrNotFound):
			return err
		}
		return fmt.Errorf("redis: update event: %w", err)
	}
}

// Escalations implements store.Store: every shard's tickets of the status
// (a set of ids per status and shard), oldest first.
func (s *Store) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var raw []string
	if status == "" {
		cmds := make([]*goredis.StringSliceCmd, Shards)
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for n := range Shards {
				cmds[n] = p.HVals(ctx, s.k.escalations(n))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redis: escalations: %w", err)
		}
		for _, c := range cmds {
			raw = append(raw, c.Val()...)
		}
	} else {
		calls := make([]evalCall, Shards)
		for n := range Shards {
			calls[n] = evalCall{keys: []string{s.k.escStatus(n, status), s.k.escalations(n)}}
		}
		recs, err := s.listAll(ctx, calls)
		if err != nil {
			return nil, fmt.Errorf("redis: escalations: %w", err)
		}
		raw = recs
	}
	out := make([]store.Escalation, 0, len(raw))
	for _, r := range raw {
		var e store.Escalation
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("redis: escalation: %w", err)
		}
		if status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.Escalation) int {
		return cmp.Or(cmp.Compare(nanos(a.OpenedAt), nanos(b.OpenedAt)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// listAll runs listScript once per call in one pipeline and returns all
// the records.
func (s *Store) listAll(ctx context.Context, calls []evalCall) ([]string, error) {
	cmds, err := s.evalAll(ctx, listScript, calls)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cmds {
		recs, err := c.StringSlice()
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

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

// indexed is an index member read back with its position.
type indexed struct {
	shard  int
	st     stamp
	member string
}

func compareIndexed(a, b indexed) int {
	return cmp.Or(cmp.Compare(a.st.ms, b.st.ms), strings.Compare(a.member, b.member))
}

// dueMembers reads, in one pipeline over all shards, the members of the
// time index key(n) at or before now, at most limit of each shard (none
// for limit <= 0), and returns the first limit of them in time order.
func (s *Store) dueMembers(ctx context.Context, key func(int) string, now time.Time, limit int) ([]indexed, error) {
	end := stampOf(now)
	by := &goredis.ZRangeBy{Min: "-inf", Max: end.score()}
	if limit > 0 {
		by.Count = int64(limit)
	}
	cmds := make([]*goredis.ZSliceCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.ZRangeByScoreWithScores(ctx, key(n), by)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []indexed
	for n, c := range cmds {
		for _, z := range c.Val() {
			m, _ := z.Member.(string)
			st, err := parseStamp(int64(z.Score), m)
			if err != nil {
				return nil, err
			}
			if !end.covers(st.ms, m[:6]) {
				break // members of the last millisecond sort by time
			}
			out = append(out, indexed{shard: n, st: st, member: m})
		}
	}
	slices.SortFunc(out, compareIndexed)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
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
	done, attempted := "0", "0"
	if d.Done {
		done = "1"
	}
	if d.Attempted {
		attempted = "1"
	}
	var nbMs, nbSub, nbJSON string
	if !d.Done {
		b, err := json.Marshal(d.NotBefore)
		if err != nil {
			return fmt.Errorf("redis: finish: %w", err)
		}
		st := stampOf(d.NotBefore)
		nbMs, nbSub, nbJSON = st.score(), st.sub6(), strings.Trim(string(b), `"`)
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
					s.k.base[n] + "tl:" + entry.PatientID, s.k.base[n] + "tli:" + entry.PatientID},
				args: []any{s.k.base[n], entry.ID, entry.PatientID, done, nbMs, nbSub, nbJSON, attempted,
					d.Status, d.ProviderID, d.ErrorCode, allow.String(), deny.String(), d.Channel},
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

// OutboxDepth implements store.Store: the sizes of the shards' outbox
// hashes, in one pipeline.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cmds := make([]*goredis.IntCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.HLen(ctx, s.k.outbox(n))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis: outbox depth: %w", err)
	}
	total := 0
	for _, c := range cmds {
		total += int(c.Val())
	}
	return total, nil
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

// evalCall is one run of a script in a pipeline.
type evalCall struct {
	keys []string
	args []any
}

// evalAll runs sc once per call in one pipeline with EVALSHA; calls that
// found the script missing from the server's cache (a restart, a failover,
// SCRIPT FLUSH) did nothing and run again with EVAL. It returns an error
// when a call failed.
func (s *Store) evalAll(ctx context.Context, sc *goredis.Script, calls []evalCall) ([]*goredis.Cmd, error) {
	cmds := make([]*goredis.Cmd, len(calls))
	run := func(idx []int, eval bool) {
		_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, i := range idx {
				if eval {
					cmds[i] = sc.Eval(ctx, p, calls[i].keys, calls[i].args...)
				} else {
					cmds[i] = sc.EvalSha(ctx, p, calls[i].keys, calls[i].args...)
				}
			}
			return nil
		})
	}
	all := make([]int, len(calls))
	for i := range all {
		all[i] = i
	}
	run(all, false)
	var redo []int
	for i, c := range cmds {
		if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			redo = append(redo, i)
		}
	}
	if len(redo) > 0 {
		run(redo, true)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return cmds, err
		}
	}
	return cmds, nil
}
