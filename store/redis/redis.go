package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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
	auditMu   sync.Mutex // AppendAudit
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.PatientLister = (*Store)(nil)
)

// Open connects to Redis, checks that it answers, loads the scripts and
// migrates data of an older layout (migrate.go).
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
	if err := s.migrate(ctx); err != nil {
		rdb.Close()
		return nil, err
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

// listAll runs listScript once per call in one pipeline and returns all
// the records.
func (s *Store) listAll(ctx context.Context, calls []evalCall) ([]string, error) {
	return s.listAllWith(ctx, listScript, calls)
}

// listAllWith is listAll with another script that returns records.
func (s *Store) listAllWith(ctx context.Context, sc *goredis.Script, calls []evalCall) ([]string, error) {
	cmds, err := s.evalAll(ctx, sc, calls)
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

// PubSub returns the client and the name of this store's pub/sub channel
// for live changes (package live), so that replicas sharing one store,
// and only those, hear each other.
func (s *Store) PubSub() (goredis.UniversalClient, string) {
	return s.rdb, strings.TrimPrefix(s.k.base[0], "{s:0}:") + "live"
}
