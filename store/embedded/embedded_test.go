package embedded_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	"github.com/tendcare/tend/store/storetest"
)

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func open(t testing.TB, dir string, opts embedded.Options) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(filepath.Join(dir, "tend.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.Store { return open(t, t.TempDir(), embedded.Options{NoSync: true}) },
		func(t *testing.T, dir string) store.Store { return open(t, dir, embedded.Options{}) },
	)
}

func TestInvalidCommits(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true})
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
	} {
		if err := s.Commit(t.Context(), tc.c); !errors.Is(err, embedded.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestFinishUnclaimed(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	e := store.OutboxEntry{ID: "o1", To: "+15550000002", NotBefore: t0}
	if err := s.Commit(ctx, store.Commit{Outbox: []store.OutboxEntry{e}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, e, store.Delivery{Done: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish of a pending entry: got %v, want ErrNotFound", err)
	}
	if err := s.Finish(ctx, store.OutboxEntry{ID: "nope"}, store.Delivery{Done: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish of an unknown entry: got %v, want ErrNotFound", err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth: got %d, %v; want 1", n, err)
	}
}

func TestDedupeRetention(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := open(t, t.TempDir(), embedded.Options{
		NoSync:          true,
		DedupeRetention: 24 * time.Hour,
		Now:             func() time.Time { return time.Unix(0, now.Load()) },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	reply := func(key string) error {
		return s.Commit(ctx, store.Commit{DedupeKey: key, Outbox: []store.OutboxEntry{{ID: key, To: "+15550000002", NotBefore: t0}}})
	}
	for i := range 20 {
		if err := reply(fmt.Sprintf("old-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	now.Store(t0.Add(23 * time.Hour).UnixNano())
	if err := reply("old-00"); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a key within retention: got %v, want ErrDuplicate", err)
	}

	// Past retention, each commit forgets a few old keys on its way.
	now.Store(t0.Add(25 * time.Hour).UnixNano())
	if err := reply("new-0"); err != nil {
		t.Fatal(err)
	}
	if err := reply("old-00"); err != nil {
		t.Errorf("a key pruned by a commit: got %v, want it forgotten", err)
	}
	if err := reply("old-19"); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a key not yet pruned: got %v, want ErrDuplicate", err)
	}

	// Prune catches up with the rest; the keys committed after t0 stay.
	n, err := s.Prune(ctx, t0.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n > 19 {
		t.Errorf("Prune forgot %d keys, want between 1 and 19", n)
	}
	if err := reply("old-19"); err != nil {
		t.Errorf("a key pruned by Prune: got %v, want it forgotten", err)
	}
	if err := reply("new-0"); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a recent key after Prune: got %v, want ErrDuplicate", err)
	}
}

func TestOncePrune(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for i := range 5 {
		if ok, err := s.Once(ctx, fmt.Sprint("k", i), time.Hour, t0); err != nil || !ok {
			t.Fatalf("Once: %v %v", ok, err)
		}
	}
	n, err := s.Prune(ctx, t0.Add(30*time.Minute))
	if err != nil || n != 0 {
		t.Fatalf("Prune before expiry: %d, %v; want 0", n, err)
	}
	n, err = s.Prune(ctx, t0.Add(time.Hour))
	if err != nil || n != 5 {
		t.Fatalf("Prune at expiry: %d, %v; want 5", n, err)
	}
	if ok, err := s.Once(ctx, "k0", time.Hour, t0.Add(time.Hour)); err != nil || !ok {
		t.Errorf("Once after Prune: %v %v, want true", ok, err)
	}
}

// TestCodePrune checks that expired codes do not pile up: TakeCode and
// PutCode forget a few each, Prune the rest, and a valid code survives.
func TestCodePrune(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for i := range 20 {
		if err := s.PutCode(ctx, fmt.Sprint("old-", i), "p1", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// No TakeCode yet: PutCode has no now to prune by.
	if n, err := s.Prune(ctx, t0.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Prune before any expiry: %d, %v; want 0", n, err)
	}
	if _, err := s.TakeCode(ctx, "none", t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeCode of an unknown code: %v", err)
	}
	if err := s.PutCode(ctx, "new", "p2", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// TakeCode pruned 8, PutCode 8 more (expired at TakeCode's now).
	if n, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil || n != 4 {
		t.Errorf("Prune after TakeCode and PutCode: %d, %v; want the 4 left", n, err)
	}
	if v, err := s.TakeCode(ctx, "new", t0.Add(time.Hour)); err != nil || v != "p2" {
		t.Errorf("TakeCode of a valid code after Prune: %q, %v; want p2", v, err)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, embedded.Options{NoSync: true})
	t.Cleanup(func() { s.Close() })
	if _, err := embedded.Open(filepath.Join(dir, "tend.db"), embedded.Options{}); err == nil {
		t.Error("a second Open of the same file succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(t.Context()); err == nil {
		t.Error("Ready after Close: got nil")
	}
}

// TestPatientIDs lists enrolled patients, across the batches PatientIDs
// reads them in, while fn commits.
func TestPatientIDs(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true, MaxBatchDelay: time.Microsecond})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	list := func(fn func(id string) error) []string {
		t.Helper()
		var ids []string
		err := s.PatientIDs(ctx, func(id string) error {
			ids = append(ids, id)
			return fn(id)
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	none := func(string) error { return nil }
	enroll := func(id string) {
		t.Helper()
		if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &store.Patient{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"p2", "p1", "p3"} {
		enroll(id)
	}
	if got := list(none); !slices.Equal(got, []string{"p1", "p2", "p3"}) {
		t.Errorf("PatientIDs: %v, want [p1 p2 p3]", got)
	}
	if err := s.DeletePatient(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if got := list(none); !slices.Equal(got, []string{"p1", "p3"}) {
		t.Errorf("PatientIDs after DeletePatient: %v, want [p1 p3]", got)
	}

	var want []string
	for i := range 2500 {
		id := fmt.Sprintf("q%04d", i)
		enroll(id)
		want = append(want, id)
	}
	want = append([]string{"p1", "p3"}, want...)
	got := list(func(id string) error {
		return s.Commit(ctx, store.Commit{PatientID: id, Session: []byte("listed")})
	})
	if !slices.Equal(got, want) {
		t.Errorf("PatientIDs of %d patients: got %d ids, want them all once, in order", len(want), len(got))
	}
	stop := errors.New("stop")
	if err := s.PatientIDs(ctx, func(string) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("PatientIDs with fn failing: got %v, want fn's error", err)
	}
}

// BenchmarkCommit measures durable commits from several goroutines: the
// rate group commit achieves.
func BenchmarkCommit(b *testing.B) {
	for _, workers := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			s := open(b, b.TempDir(), embedded.Options{})
			b.Cleanup(func() { s.Close() })
			storetest.BenchCommit(b, s, workers)
		})
	}
}

// TestOutboxPatientRetention: an entry's patient (OutboxPatient) is kept
// for the dedupe retention after the commit that queued it; Prune forgets
// it then, and keeps what is younger.
func TestOutboxPatientRetention(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := open(t, t.TempDir(), embedded.Options{
		NoSync:          true,
		DedupeRetention: 24 * time.Hour,
		Now:             func() time.Time { return time.Unix(0, now.Load()) },
	})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15550000001", Language: "en", Timezone: "UTC", Channel: "sms", EnrolledAt: t0}
	queue := func(version uint64, id string) {
		t.Helper()
		c := store.Commit{PatientID: "p1", Version: version, Session: []byte("s"),
			Outbox: []store.OutboxEntry{{ID: id, Channel: "sms", To: p.Phone, NotBefore: t0}}}
		if version == 0 {
			c.Patient = &p
		}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	queue(0, "old")
	now.Store(t0.Add(23 * time.Hour).UnixNano())
	queue(1, "young")
	if _, err := s.Prune(ctx, t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if pid, err := s.OutboxPatient(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OutboxPatient(old) past retention: %q %v, want ErrNotFound", pid, err)
	}
	if pid, err := s.OutboxPatient(ctx, "young"); err != nil || pid != "p1" {
		t.Errorf("OutboxPatient(young) within retention: %q %v, want p1", pid, err)
	}
}
