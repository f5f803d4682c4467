package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/redis/redistest"
	"github.com/tendcare/tend/store/storetest"
)

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// prefixes hands every store of a test process its own key prefix, so
// that parallel tests can share one server.
var prefixes atomic.Int64

func newPrefix() string { return "t" + strconv.FormatInt(prefixes.Add(1), 10) }

func openStore(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// conformance runs the store suite on the Redis at addrs. Claims expire
// at once (Lease < 0): the suite expects Claimed to list every unfinished
// claim, as it does on a single replica.
func conformance(t *testing.T, addrs []string) {
	storetest.Run(t,
		func(t *testing.T) store.Store {
			return openStore(t, Options{Addrs: addrs, KeyPrefix: newPrefix(), Lease: -1})
		},
		func(t *testing.T, dir string) store.Store {
			// The same dir reaches the same data: the prefix is the dir's.
			h := fnv.New64a()
			h.Write([]byte(dir))
			return openStore(t, Options{Addrs: addrs, KeyPrefix: fmt.Sprintf("r%x", h.Sum64()), Lease: -1})
		},
	)
}

func TestConformance(t *testing.T) {
	conformance(t, []string{redistest.Start(t)})
}

func TestConformanceCluster(t *testing.T) {
	conformance(t, redistest.StartCluster(t, 3))
}

// keyCapture records the keys of the scripts a client runs.
type keyCapture struct {
	mu   sync.Mutex
	runs [][]string
}

func (h *keyCapture) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *keyCapture) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}
func (h *keyCapture) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			h.record(c)
		}
		return next(ctx, cmds)
	}
}

func (h *keyCapture) record(cmd goredis.Cmder) {
	name := strings.ToLower(cmd.Name())
	if name != "evalsha" && name != "eval" {
		return
	}
	args := cmd.Args()
	n, _ := strconv.Atoi(fmt.Sprint(args[2]))
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprint(args[3+i])
	}
	h.mu.Lock()
	h.runs = append(h.runs, keys)
	h.mu.Unlock()
}

// TestCommitOneSlot checks on a cluster that every script of a turn
// declares keys of a single slot, and that the keys a turn leaves behind
// (including those a script derives itself) share the patient's slot.
func TestCommitOneSlot(t *testing.T) {
	t.Parallel()
	addrs := redistest.StartCluster(t, 3)
	s := openStore(t, Options{Addrs: addrs, KeyPrefix: newPrefix()})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	capture := &keyCapture{}
	s.rdb.AddHook(capture)

	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en"}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Session: []byte("enrolled")}); err != nil {
		t.Fatal(err)
	}
	capture.mu.Lock()
	capture.runs = nil
	capture.mu.Unlock()
	c := store.Commit{
		PatientID: "p1", Version: 1, Session: []byte("s2"), DedupeKey: "SM-one-slot",
		Events:      []store.Event{{ID: "in-1", Type: "message.in", At: t0}, {ID: "out-1", Type: "message.out", At: t0, Status: "queued"}},
		Outbox:      []store.OutboxEntry{{ID: "out-1", PatientID: "p1", Channel: "sms", To: p.Phone, Text: "hi", NotBefore: t0}},
		SetTimers:   []store.Timer{{Name: "reply-timeout", Due: t0.Add(time.Hour)}},
		Escalations: []store.Escalation{{ID: "x1", Priority: "high", OpenedAt: t0, Status: "open"}},
	}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	cc := s.rdb.(*goredis.ClusterClient)
	slot := func(key string) int64 {
		t.Helper()
		n, err := cc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	patientSlot := slot(s.k.patient("p1"))
	capture.mu.Lock()
	runs := capture.runs
	capture.mu.Unlock()
	if len(runs) == 0 {
		t.Fatal("no script ran")
	}
	commits := 0
	for _, keys := range runs {
		first := slot(keys[0])
		for _, k := range keys {
			if got := slot(k); got != first {
				t.Errorf("script with keys %q: %s is in slot %d, %s in %d", keys, keys[0], first, k, got)
			}
		}
		if first == patientSlot {
			commits++
		}
	}
	if commits != 1 {
		t.Errorf("%d scripts ran in the patient's slot, want the one commit", commits)
	}
	if shardOf("SM-one-slot") != shardOf("p1") && len(runs) != 2 {
		t.Errorf("%d scripts ran for a turn whose dedupe key is in another shard, want 2 (key, commit)", len(runs))
	}
	// Every key of the patient's shard is in the patient's slot, including
	// those named inside the scripts (the status index of escalations).
	n := shardOf("p1")
	for _, key := range []string{s.k.escStatus(n, "open"), s.k.due(n), s.k.outboxDue(n), s.k.timeline("p1"), s.k.outboxOf("p1")} {
		if got := slot(key); got != patientSlot {
			t.Errorf("%s: slot %d, want the patient's %d", key, got, patientSlot)
		}
	}
	escs, err := s.Escalations(ctx, "open")
	if err != nil || len(escs) != 1 {
		t.Errorf("Escalations(open) = %v, %v; want x1", escs, err)
	}
}

// TestLease checks that Claimed lists a claim only once its lease ran
// out, so that a replica starting up does not settle the claims another
// replica is sending.
func TestLease(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := openStore(t, Options{
		Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: time.Minute,
		Now: func() time.Time { return time.Unix(0, now.Load()) },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	e := store.OutboxEntry{ID: "o1", Channel: "sms", To: "+15550000002", NotBefore: t0}
	if err := s.Commit(ctx, store.Commit{Outbox: []store.OutboxEntry{e}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, t0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutbox = %v, %v", got, err)
	}
	claimed := func() []string {
		t.Helper()
		left, err := s.Claimed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range left {
			ids = append(ids, e.ID)
		}
		return ids
	}
	if ids := claimed(); len(ids) != 0 {
		t.Errorf("Claimed within the lease: %v, want none", ids)
	}
	now.Store(t0.Add(time.Minute).UnixNano())
	if ids := claimed(); !slices.Equal(ids, []string{"o1"}) {
		t.Errorf("Claimed after the lease: %v, want [o1]", ids)
	}
	// An expired lease does not make the entry claimable again: its send's
	// outcome is unknown.
	if again, err := s.ClaimOutbox(ctx, t0.Add(time.Hour), 10); err != nil || len(again) != 0 {
		t.Errorf("ClaimOutbox after the lease: %v, %v; want nothing", again, err)
	}
	if err := s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "unknown"}); err != nil {
		t.Fatal(err)
	}
	if ids := claimed(); len(ids) != 0 {
		t.Errorf("Claimed after Finish: %v", ids)
	}
}

// TestStalePhoneClaim checks that a phone claim left by an enrollment
// that never committed is taken over once it is older than phoneGrace,
// and that an index record whose patient moved on is not an answer.
func TestStalePhoneClaim(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := openStore(t, Options{
		Addrs: []string{addr}, KeyPrefix: newPrefix(),
		Now: func() time.Time { return time.Unix(0, now.Load()) },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	const phone = "+15551230001"
	// A claim as a crashed enrollment of "ghost" left it.
	if err := s.rdb.Set(ctx, s.k.phone(phone), fmt.Sprintf("%d:ghost", t0.UnixMilli()), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PatientByPhone(ctx, phone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PatientByPhone of a claim without patient: %v, want ErrNotFound", err)
	}
	p := store.Patient{ID: "p1", Phone: phone}
	enroll := func() error { return s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p}) }
	if err := enroll(); !errors.Is(err, store.ErrPhoneTaken) {
		t.Fatalf("enrolling within the grace of another claim: %v, want ErrPhoneTaken", err)
	}
	now.Store(t0.Add(phoneGrace).UnixNano())
	if err := enroll(); err != nil {
		t.Fatalf("enrolling after the grace of a stale claim: %v", err)
	}
	got, err := s.PatientByPhone(ctx, phone)
	if err != nil || got.ID != "p1" {
		t.Errorf("PatientByPhone = %+v, %v; want p1", got, err)
	}

	// An owner that has the phone keeps it, however old its claim.
	now.Store(t0.Add(time.Hour).UnixNano())
	q := store.Patient{ID: "q1", Phone: phone}
	if err := s.Commit(ctx, store.Commit{PatientID: "q1", Patient: &q}); !errors.Is(err, store.ErrPhoneTaken) {
		t.Errorf("enrolling with the phone of an enrolled patient: %v, want ErrPhoneTaken", err)
	}
	if _, _, err := s.Load(ctx, "q1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load of the refused patient: %v, want ErrNotFound", err)
	}
}

// TestStaleChatClaim is TestStalePhoneClaim for Telegram chats, which
// share its claim code: a claim left by an enrollment that never committed
// is taken over after phoneGrace, and a claim whose patient does not have
// the chat is not an answer.
func TestStaleChatClaim(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := openStore(t, Options{
		Addrs: []string{addr}, KeyPrefix: newPrefix(),
		Now: func() time.Time { return time.Unix(0, now.Load()) },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	const chat = "123456789"
	if err := s.rdb.Set(ctx, s.k.address("telegram", chat), fmt.Sprintf("%d:ghost", t0.UnixMilli()), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PatientByAddress(ctx, "telegram", chat); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PatientByAddress of a claim without patient: %v, want ErrNotFound", err)
	}
	p := store.Patient{ID: "p1", Phone: "+15551230001", Addresses: map[string]string{"telegram": chat}}
	enroll := func() error { return s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p}) }
	if err := enroll(); !errors.Is(err, store.ErrAddressTaken) {
		t.Fatalf("enrolling within the grace of another claim: %v, want ErrAddressTaken", err)
	}
	// The refused enrollment released its phone claim.
	if n, err := s.rdb.Exists(ctx, s.k.phone(p.Phone)).Result(); err != nil || n != 0 {
		t.Errorf("phone claim after a refused enrollment: %d, %v; want none", n, err)
	}
	now.Store(t0.Add(phoneGrace).UnixNano())
	if err := enroll(); err != nil {
		t.Fatalf("enrolling after the grace of a stale claim: %v", err)
	}
	got, err := s.PatientByAddress(ctx, "telegram", chat)
	if err != nil || got.ID != "p1" {
		t.Errorf("PatientByAddress = %+v, %v; want p1", got, err)
	}
}

// TestCodeTTL checks that a code's TTL outlives its expiry by codeGrace
// by the store's clock, stays bounded for a far expiry, and that a code
// expired by that clock stays until TakeCode's now decides.
func TestCodeTTL(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{
		Addrs: []string{redistest.Start(t)}, KeyPrefix: newPrefix(),
		Now: func() time.Time { return t0 },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for _, tc := range []struct {
		expires  time.Time
		min, max time.Duration
	}{
		{t0.Add(10 * time.Minute), codeGrace, codeGrace + 10*time.Minute},
		{t0.Add(-time.Hour), codeGrace - time.Minute, codeGrace},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), maxCodeTTL, maxCodeTTL + codeGrace},
	} {
		if err := s.PutCode(ctx, "c", "p1", tc.expires); err != nil {
			t.Fatal(err)
		}
		ttl, err := s.rdb.PTTL(ctx, s.k.code("c")).Result()
		if err != nil || ttl < tc.min || ttl > tc.max {
			t.Errorf("TTL of a code expiring at %v: %v, %v; want %v to %v", tc.expires, ttl, err, tc.min, tc.max)
		}
	}
	if err := s.PutCode(ctx, "c", "p1", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.TakeCode(ctx, "c", t0.Add(-2*time.Hour)); err != nil || v != "p1" {
		t.Errorf("TakeCode before the expiry: %q, %v; want p1", v, err)
	}
}

// TestScriptCacheFlushed checks that a server that lost its scripts (a
// restart, a failover) keeps serving, in single calls and pipelines.
func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	e := store.OutboxEntry{ID: "o1", PatientID: "p1", To: p.Phone, NotBefore: t0}
	err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Outbox: []store.OutboxEntry{e},
		Events: []store.Event{{ID: "o1", Type: "message.out", Status: "queued"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, t0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutbox after SCRIPT FLUSH = %v, %v", got, err)
	}
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent"}); err != nil {
		t.Fatalf("Finish after SCRIPT FLUSH: %v", err)
	}
}

// TestFinishUnknownStatus checks that a stored status the store does not
// know is still ordered by store.StatusAdvances (rank 0: any status
// replaces it).
func TestFinishUnknownStatus(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	e := store.OutboxEntry{ID: "o1", PatientID: "p1", To: p.Phone, NotBefore: t0}
	err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Outbox: []store.OutboxEntry{e},
		Events: []store.Event{{ID: "o1", Type: "message.out", Status: "weird", Text: "héllo / \"quoted\" \u2028"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, t0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutbox = %v, %v", got, err)
	}
	if err := s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent", ProviderID: "SM1", ErrorCode: 0}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Timeline(ctx, "p1")
	if err != nil || len(evs) != 1 {
		t.Fatalf("Timeline = %v, %v", evs, err)
	}
	want := store.Event{ID: "o1", Type: "message.out", Status: "sent", ProviderID: "SM1", Text: "héllo / \"quoted\" \u2028"}
	if evs[0] != (want) {
		t.Errorf("event after Finish: %+v, want %+v", evs[0], want)
	}
}

// TestTimesKeepNanoseconds checks that times keep their precision through
// the indexes, and that the last millisecond before now is cut exactly.
func TestTimesKeepNanoseconds(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	due := t0.Add(1234567 * time.Nanosecond)
	before := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) // clamped to 1677, like the embedded store
	err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p,
		SetTimers: []store.Timer{{Name: "a", Due: due}, {Name: "b", Due: due.Add(-time.Nanosecond)}, {Name: "old", Due: before}},
		Outbox: []store.OutboxEntry{
			{ID: "late", PatientID: "p1", NotBefore: due.Add(time.Nanosecond)},
			{ID: "on-time", PatientID: "p1", NotBefore: due},
			{ID: "early", PatientID: "p1", NotBefore: due.Add(-time.Nanosecond)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	tms, err := s.DueTimers(ctx, due, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tm := range tms {
		got = append(got, tm.Name+"@"+tm.Due.Format(time.RFC3339Nano))
	}
	want := []string{
		"old@" + time.Unix(0, minTime.UnixNano()).UTC().Format(time.RFC3339Nano),
		"b@" + due.Add(-time.Nanosecond).Format(time.RFC3339Nano),
		"a@" + due.Format(time.RFC3339Nano),
	}
	if !slices.Equal(got, want) {
		t.Errorf("DueTimers:\n got %v\nwant %v", got, want)
	}
	all, err := s.Timers(ctx, "p1")
	if err != nil || len(all) != 3 || !all[0].Due.Equal(due) {
		t.Errorf("Timers = %v, %v; want a due at %v first", all, err, due)
	}
	claimed, err := s.ClaimOutbox(ctx, due, 0)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range claimed {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, []string{"early", "on-time"}) {
		t.Errorf("ClaimOutbox at %v: %v, want [early on-time]", due, got)
	}
}

// TestInvalidCommits mirrors the embedded store's refusals, and the one
// this backend adds: records of another patient than the commit's.
func TestInvalidCommits(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix()})
	t.Cleanup(func() { s.Close() })
	p := store.Patient{ID: "other", Phone: "+15550000001"}
	for _, tc := range []struct {
		name string
		c    store.Commit
	}{
		{"no patient ID with events", store.Commit{Events: []store.Event{{ID: "e", Type: "message.in"}}}},
		{"no patient ID with a session", store.Commit{Session: []byte("x")}},
		{"NUL in patient ID", store.Commit{PatientID: "a\x00b", Patient: &store.Patient{}}},
		{"patient of another ID", store.Commit{PatientID: "p1", Patient: &p}},
		{"outbox entry without ID", store.Commit{Outbox: []store.OutboxEntry{{To: "+15550000002"}}}},
		{"timer without name", store.Commit{PatientID: "p1", Patient: &store.Patient{}, SetTimers: []store.Timer{{Due: t0}}}},
		{"outbox entry of another patient", store.Commit{PatientID: "p1", Patient: &store.Patient{}, Outbox: []store.OutboxEntry{{ID: "o", PatientID: "p2"}}}},
		{"patient's entry without PatientID", store.Commit{Outbox: []store.OutboxEntry{{ID: "o", PatientID: "p2"}}}},
		{"escalation of another patient", store.Commit{PatientID: "p1", Patient: &store.Patient{}, Escalations: []store.Escalation{{ID: "x", PatientID: "p2"}}}},
	} {
		if err := s.Commit(t.Context(), tc.c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestFinishUnclaimed(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix()})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	e := store.OutboxEntry{ID: "o1", To: "+15550000002", NotBefore: t0}
	if err := s.Commit(ctx, store.Commit{Outbox: []store.OutboxEntry{e}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, e, store.Delivery{Done: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish of a pending entry: got %v, want ErrNotFound", err)
	}
	if err := s.Finish(ctx, store.OutboxEntry{ID: "nope", PatientID: "p9"}, store.Delivery{Done: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish of an unknown entry: got %v, want ErrNotFound", err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth: got %d, %v; want 1", n, err)
	}
}

// TestIdlePatientKeys checks that a patient whose messages went out keeps
// only the keys it needs (enrollment, session, timers, timeline), and logs
// their size.
func TestIdlePatientKeys(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	prefix := newPrefix()
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: prefix, Lease: -1})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/New_York", Channel: "sms",
		Programs: []string{"hypertension"}, PHIOK: true, EnrolledAt: t0,
		Medications: []store.Medication{{ID: "amlodipine", Display: "Amlodipine 5 mg", Times: []string{"08:00", "20:00"}}}}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Session: []byte("enrolled")}); err != nil {
		t.Fatal(err)
	}
	c := storetest.TypicalTurn("p1", 1)
	c.SetTimers = append(c.SetTimers, store.Timer{Name: "reminder:amlodipine", Due: t0.Add(24 * time.Hour)})
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutbox = %v, %v", got, err)
	}
	if err := s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Version: 2, DeleteTimers: []string{"reply-timeout"}}); err != nil {
		t.Fatal(err)
	}

	keys, err := s.rdb.Keys(ctx, "*:"+prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range keys {
		rest := k[strings.Index(k, ":"+prefix+":")+len(prefix)+2:]
		kind, _, _ := strings.Cut(rest, ":")
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	// schema is the store's schema version, the one key that is no
	// patient's: a store with any number of patients has it once. dd and
	// obo (the sent message's patient, for its status reports) expire
	// with the dedupe retention.
	want := []string{"dd", "due", "obo", "pat", "ph", "schema", "ses", "tl", "tli", "tm"}
	if !slices.Equal(kinds, want) {
		t.Errorf("keys of an idle patient: %v (%v), want one each of %v", kinds, keys, want)
	}
	// The sent message's patient expires like the dedupe key.
	if ttl, err := s.rdb.PTTL(ctx, s.k.outboxOwner(shardOf("p1"), c.Outbox[0].ID)).Result(); err != nil || ttl <= 0 || ttl > s.retention {
		t.Errorf("obo key TTL %v %v, want within the dedupe retention %v", ttl, err, s.retention)
	}
	for _, key := range []string{s.k.patient("p1"), s.k.session("p1"), s.k.timers("p1"), s.k.phone(p.Phone), s.k.dedupe(c.DedupeKey),
		s.k.outboxOwner(shardOf("p1"), c.Outbox[0].ID)} {
		n, err := s.rdb.MemoryUsage(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEMORY USAGE %s: %d bytes", key, n)
	}
}

// TestPatientIDs lists a store's enrolled patients with SCAN, on one
// server and on a cluster, next to a store whose keys an unescaped pattern
// of the first store's prefix would match.
func TestPatientIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		addrs func(t *testing.T) []string
	}{
		{"server", func(t *testing.T) []string { return []string{redistest.Start(t)} }},
		{"cluster", func(t *testing.T) []string { return redistest.StartCluster(t, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addrs := tc.addrs(t)
			prefix := newPrefix()
			s := openStore(t, Options{Addrs: addrs, KeyPrefix: prefix + "*"})
			t.Cleanup(func() { s.Close() })
			other := openStore(t, Options{Addrs: addrs, KeyPrefix: prefix + "x"})
			t.Cleanup(func() { other.Close() })
			ctx := t.Context()
			enroll := func(s *Store, id string) {
				t.Helper()
				if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &store.Patient{ID: id}}); err != nil {
					t.Fatal(err)
				}
			}
			list := func() []string {
				t.Helper()
				var ids []string
				if err := s.PatientIDs(ctx, func(id string) error { ids = append(ids, id); return nil }); err != nil {
					t.Fatal(err)
				}
				slices.Sort(ids)
				return ids
			}
			for _, id := range []string{"p1", "p2", "p3"} {
				enroll(s, id)
			}
			enroll(other, "p4")
			if got := list(); !slices.Equal(got, []string{"p1", "p2", "p3"}) {
				t.Errorf("PatientIDs: %v, want [p1 p2 p3]", got)
			}
			if err := s.DeletePatient(ctx, "p2"); err != nil {
				t.Fatal(err)
			}
			if got := list(); !slices.Equal(got, []string{"p1", "p3"}) {
				t.Errorf("PatientIDs after DeletePatient: %v, want [p1 p3]", got)
			}

			// Enough patients for every shard, and so every master.
			want := []string{"p1", "p3"}
			for i := range 100 {
				id := fmt.Sprintf("q%03d", i)
				enroll(s, id)
				want = append(want, id)
			}
			if got := list(); !slices.Equal(got, want) {
				t.Errorf("PatientIDs of %d patients: %v", len(want), got)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	u, err := Options{URL: "rediss://tend:s3cret@redis.example:6380/2", PoolSize: 7, ReadTimeout: time.Second}.universal()
	if err != nil {
		t.Fatal(err)
	}
	if u.Addrs[0] != "redis.example:6380" || u.Username != "tend" || u.Password != "s3cret" || u.DB != 2 ||
		u.TLSConfig == nil || u.TLSConfig.ServerName != "redis.example" || u.PoolSize != 7 || u.ReadTimeout != time.Second {
		t.Errorf("options from a rediss URL: %+v", u)
	}
	if _, err := (Options{Addrs: []string{"a:1", "b:1"}, URL: "redis://x:1/3"}).universal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a cluster with database 3: got %v, want ErrInvalid", err)
	}
	if _, err := (Options{}).universal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("no address: got %v, want ErrInvalid", err)
	}
	u, err = Options{Addrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "tend"}.universal()
	if err != nil || u.MasterName != "tend" {
		t.Errorf("sentinel options: %+v, %v", u, err)
	}
}

// BenchmarkCommitRedis measures typical turns committed from several
// goroutines, each on its own patient, on a local redis-server and on a
// local 3-master cluster (sharing the machine's cores): ns/op is the time
// per commit across all goroutines. A commit is one EVALSHA; on the
// cluster, 15 in 16 also take their dedupe key in its own shard first.
func BenchmarkCommitRedis(b *testing.B) {
	single := []string{redistest.Start(b)}
	for _, workers := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("server/goroutines=%d", workers), func(b *testing.B) {
			benchCommits(b, Options{Addrs: single, KeyPrefix: newPrefix(), PoolSize: workers}, workers)
		})
	}
	cluster := redistest.StartCluster(b, 3)
	for _, workers := range []int{16, 128} {
		b.Run(fmt.Sprintf("cluster/goroutines=%d", workers), func(b *testing.B) {
			benchCommits(b, Options{Addrs: cluster, KeyPrefix: newPrefix(), PoolSize: workers}, workers)
		})
	}
}

func benchCommits(b *testing.B, opts Options, workers int) {
	s := openStore(b, opts)
	b.Cleanup(func() { s.Close() })
	storetest.BenchCommit(b, s, workers)
}

// TestTimelineCap: a commit past TimelineMax drops the oldest events, and
// events still kept can be updated (by UpdateEvent and by Finish).
func TestTimelineCap(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1, TimelineMax: 5})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Session: []byte("s"),
		Events: []store.Event{{ID: "e0", Type: "message.in"}, {ID: "e1", Type: "message.in"}}}); err != nil {
		t.Fatal(err)
	}
	for v, ids := range [][]string{{"e2", "e3"}, {"e4", "e5", "e6"}} {
		var evs []store.Event
		for _, id := range ids {
			evs = append(evs, store.Event{ID: id, Type: "message.in"})
		}
		c := store.Commit{PatientID: "p1", Version: uint64(v + 1), Session: []byte("s"), Events: evs}
		if v == 1 {
			c.Events = append(c.Events, store.Event{ID: "o1", Type: "message.out", Status: "queued"})
			c.Outbox = []store.OutboxEntry{{ID: "o1", PatientID: "p1", To: p.Phone, NotBefore: t0}}
		}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Timeline(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if fmt.Sprint(ids) != "[e3 e4 e5 e6 o1]" {
		t.Fatalf("timeline %v, want the last 5 events", ids)
	}
	if err := s.UpdateEvent(ctx, "p1", "e0", func(*store.Event) bool { return true }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateEvent of a trimmed event: %v, want ErrNotFound", err)
	}
	if err := s.UpdateEvent(ctx, "p1", "e4", func(e *store.Event) bool { e.Status = "x"; return true }); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, t0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutbox = %v, %v", got, err)
	}
	if err := s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent"}); err != nil {
		t.Fatal(err)
	}
	evs, _ = s.Timeline(ctx, "p1")
	if evs[1].ID != "e4" || evs[1].Status != "x" || evs[4].ID != "o1" || evs[4].Status != "sent" {
		t.Fatalf("after updates: %+v", evs)
	}
}

// TestClaimTimers: a claimed timer is hidden from other claims for the
// lease, keeps its own due time, and comes back when the lease ends.
func TestClaimTimers(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	now := t0
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1, Now: func() time.Time { return now }})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for i, id := range []string{"p1", "p2", "p3"} {
		p := store.Patient{ID: id, Phone: fmt.Sprintf("+155512300%02d", i)}
		due := t0.Add(-time.Duration(i+1) * time.Minute).Add(123 * time.Nanosecond)
		if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("s"),
			SetTimers: []store.Timer{{PatientID: id, Name: "med|med-reminder|m|08:00", Due: due}}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ClaimTimers(ctx, now, 10, time.Minute)
	if err != nil || len(got) != 3 || got[0].PatientID != "p3" || !got[0].Due.Equal(t0.Add(-3*time.Minute+123*time.Nanosecond)) {
		t.Fatalf("first claim: %+v, %v", got, err)
	}
	if again, err := s.ClaimTimers(ctx, now, 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("second claim within the lease: %+v, %v", again, err)
	}
	// p1's turn moves its timer; the other two are never fired (their
	// claimer died) and come due again after the lease.
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Version: 1, Session: []byte("s"),
		SetTimers: []store.Timer{{PatientID: "p1", Name: "med|med-reminder|m|08:00", Due: t0.Add(24 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(61 * time.Second)
	got, err = s.ClaimTimers(ctx, now, 10, time.Minute)
	if err != nil || len(got) != 2 || got[0].PatientID != "p3" || got[1].PatientID != "p2" ||
		!got[1].Due.Equal(t0.Add(-2*time.Minute+123*time.Nanosecond)) {
		t.Fatalf("after the lease: %+v, %v", got, err)
	}
	if tm, _ := s.Timers(ctx, "p2"); len(tm) != 1 || !tm[0].Due.Equal(t0.Add(-2*time.Minute+123*time.Nanosecond)) {
		t.Fatalf("claims changed the timer's own due time: %+v", tm)
	}
}

// TestTimelineRetention: a sweep drops events older than the limit and
// leaves the rest updatable.
func TestTimelineRetention(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	s := openStore(t, Options{Addrs: []string{addr}, KeyPrefix: newPrefix(), Lease: -1})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for i, id := range []string{"p1", "p2"} {
		p := store.Patient{ID: id, Phone: fmt.Sprintf("+155512300%02d", i)}
		var evs []store.Event
		for d := range 5 {
			evs = append(evs, store.Event{ID: fmt.Sprintf("e%d", d), Type: "message.in", At: t0.AddDate(0, 0, d)})
		}
		if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("s"), Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepTimelines(ctx, t0.AddDate(0, 0, 3))
	if err != nil || n != 6 {
		t.Fatalf("SweepTimelines = %d, %v; want 3 events from each of 2 patients", n, err)
	}
	if n, err := s.SweepTimelines(ctx, t0.AddDate(0, 0, 3)); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want nothing left to drop", n, err)
	}
	if err := s.UpdateEvent(ctx, "p1", "e4", func(e *store.Event) bool { e.Status = "x"; return true }); err != nil {
		t.Fatal(err)
	}
	evs, _ := s.Timeline(ctx, "p1")
	if len(evs) != 2 || evs[0].ID != "e3" || evs[1].Status != "x" {
		t.Fatalf("timeline after the sweep: %+v", evs)
	}
}
