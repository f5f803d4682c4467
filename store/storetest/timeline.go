package storetest

import (
	"testing"

	"github.com/tendcare/tend/store"
)

// This file checks the Timeline role.

func testTimeline(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	var want []store.Event
	for n := 1; n <= 4; n++ {
		c := turn("p1", uint64(n), n)
		want = append(want, c.Events...)
		commit(t, s, c)
		commit(t, s, turn("p2", uint64(n), n)) // interleaved, must not mix in
	}
	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)
	check(t, "timeline", normEvents(evs), want)

	evs, err = s.Timeline(ctx, "nobody")
	noErr(t, "Timeline of an unknown patient", err)
	check(t, "timeline of an unknown patient", evs, []store.Event(nil))
}

func testUpdateEvent(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	c := turn("p1", 1, 1)
	commit(t, s, c)
	commit(t, s, turn("p1", 2, 2))
	outID := c.Events[1].ID

	noErr(t, "UpdateEvent", s.UpdateEvent(ctx, "p1", outID, func(e *store.Event) bool {
		if e.ID != outID || e.Status != "queued" {
			t.Errorf("UpdateEvent gave fn %+v, want the stored %s", *e, outID)
		}
		e.Status = "delivered"
		return true
	}))
	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)
	if len(evs) != 4 {
		t.Fatalf("Timeline after UpdateEvent: got %d events, want 4", len(evs))
	}
	want := c.Events[1]
	want.Status = "delivered"
	check(t, "updated event", normEvents(evs[1:2]), []store.Event{want})
	check(t, "event order after an update", eventIDs(evs), []string{"in-p1-1", "out-p1-1", "in-p1-2", "out-p1-2"})

	before := snap(t, s, "p1")
	noErr(t, "UpdateEvent returning false", s.UpdateEvent(ctx, "p1", outID, func(e *store.Event) bool {
		e.Status = "failed"
		return false
	}))
	sameSnap(t, "UpdateEvent whose fn returned false", snap(t, s, "p1"), before)

	called := false
	err = s.UpdateEvent(ctx, "p1", "no-such-event", func(*store.Event) bool { called = true; return true })
	wantErr(t, "UpdateEvent of an unknown event", err, store.ErrNotFound)
	err = s.UpdateEvent(ctx, "nobody", outID, func(*store.Event) bool { called = true; return true })
	wantErr(t, "UpdateEvent of another patient's event", err, store.ErrNotFound)
	if called {
		t.Error("UpdateEvent called fn for an event it did not find")
	}
}
