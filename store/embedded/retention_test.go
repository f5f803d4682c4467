package embedded_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// TestTimelineRetention: the embedded store honours the settings Redis
// has. TimelineMax drops the oldest events in the commit that goes over
// it (their ids no longer found by UpdateEvent); SweepTimelines drops the
// events older than its cut-off, and a later commit appends after the
// trimmed ones.
func TestTimelineRetention(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, t.TempDir(), embedded.Options{NoSync: true, TimelineMax: 5})
	t.Cleanup(func() { s.Close() })
	p := store.Patient{ID: "p1", Phone: "+15550000001", EnrolledAt: t0}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Session: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	// Eight events, one a day, in three commits.
	for i, n := range []int{3, 3, 2} {
		var evs []store.Event
		for j := range n {
			k := i*3 + j
			evs = append(evs, store.Event{ID: fmt.Sprintf("e%d", k), Type: "message.in", At: t0.Add(time.Duration(k) * day), Text: "x"})
		}
		if err := s.Commit(ctx, store.Commit{PatientID: "p1", Version: uint64(i + 1), Session: []byte("s"), Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() []string {
		t.Helper()
		evs, err := s.Timeline(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	if got := fmt.Sprint(ids()); got != "[e3 e4 e5 e6 e7]" {
		t.Fatalf("after 8 events with TimelineMax 5: %s", got)
	}
	if err := s.UpdateEvent(ctx, "p1", "e0", func(*store.Event) bool { return true }); err == nil {
		t.Error("UpdateEvent still finds a dropped event")
	}
	// Retention: events before day 6 go.
	n, err := s.SweepTimelines(ctx, t0.Add(6*day))
	if err != nil || n != 3 {
		t.Fatalf("SweepTimelines: %d, %v; want 3", n, err)
	}
	if got := fmt.Sprint(ids()); got != "[e6 e7]" {
		t.Fatalf("after the sweep: %s", got)
	}
	if n, err := s.SweepTimelines(ctx, t0.Add(6*day)); err != nil || n != 0 {
		t.Fatalf("a second sweep: %d, %v", n, err)
	}
	err = s.Commit(ctx, store.Commit{PatientID: "p1", Version: 4, Session: []byte("s"),
		Events: []store.Event{{ID: "e8", Type: "message.in", At: t0.Add(8 * day)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateEvent(ctx, "p1", "e8", func(e *store.Event) bool { e.Status = "read"; return true }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ids()); got != "[e6 e7 e8]" {
		t.Fatalf("after a commit following the sweep: %s", got)
	}
}
