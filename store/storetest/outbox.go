package storetest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Outbox role: claims, outcomes and the depth.

func testClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	o1 := outEntry("o1", "p1", t0)
	o2 := outEntry("o2", "p1", t0)
	o3 := outEntry("o3", "p1", at(time.Minute))
	o4 := outEntry("o4", "p1", at(time.Hour))
	o2.Urgent = true
	// Committed out of order, across two commits.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Outbox: []store.OutboxEntry{o4, o3}})
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Outbox: []store.OutboxEntry{o2, o1}})

	got, err := s.ClaimOutbox(ctx, at(time.Minute), 10)
	noErr(t, "ClaimOutbox", err)
	check(t, "claimed", normEntries(got), []store.OutboxEntry{o1, o2, o3})

	got, err = s.ClaimOutbox(ctx, at(time.Minute), 10)
	noErr(t, "ClaimOutbox again", err)
	check(t, "claimed again", entryIDs(got), []string(nil))

	claimed, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	ids := entryIDs(claimed)
	slices.Sort(ids)
	check(t, "Claimed", ids, []string{"o1", "o2", "o3"})

	got, err = s.ClaimOutbox(ctx, at(2*time.Hour), 10)
	noErr(t, "ClaimOutbox later", err)
	check(t, "claimed later", normEntries(got), []store.OutboxEntry{o4})
}

func testClaimLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	var entries []store.OutboxEntry
	for i := range 5 {
		entries = append(entries, outEntry("o"+strconv.Itoa(i), "p1", at(time.Duration(i)*time.Second)))
	}
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Outbox: entries})
	var ids []string
	for range 3 {
		got, err := s.ClaimOutbox(ctx, at(time.Hour), 2)
		noErr(t, "ClaimOutbox", err)
		if len(got) > 2 {
			t.Fatalf("ClaimOutbox with limit 2 returned %d entries", len(got))
		}
		ids = append(ids, entryIDs(got)...)
	}
	check(t, "claimed two at a time", ids, []string{"o0", "o1", "o2", "o3", "o4"})
}

func testFinishDone(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	c := turn("p1", 1, 1)
	c.Events = append(c.Events, store.Event{ID: "out-2", Type: "message.out", At: t0, Channel: "sms", Text: "Second", Status: "queued"})
	c.Outbox = append(c.Outbox, outEntry("out-2", "p1", at(time.Second)))
	commit(t, s, c)
	claimed, err := s.ClaimOutbox(ctx, at(time.Hour), 10)
	noErr(t, "ClaimOutbox", err)
	if len(claimed) != 2 {
		t.Fatalf("ClaimOutbox: got %d entries, want 2", len(claimed))
	}

	byEntry := map[string]store.OutboxEntry{}
	for _, e := range claimed {
		byEntry[e.ID] = e
	}
	noErr(t, "Finish sent", s.Finish(ctx, byEntry["out-p1-1"], store.Delivery{Done: true, Status: "sent", ProviderID: "SM123"}))
	noErr(t, "Finish failed", s.Finish(ctx, byEntry["out-2"], store.Delivery{Done: true, Status: "failed", ErrorCode: 30003}))

	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 0 {
		t.Errorf("OutboxDepth after Finish: got %d, want 0", depth)
	}
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	check(t, "Claimed after Finish", entryIDs(left), []string(nil))
	got, err := s.ClaimOutbox(ctx, at(2*time.Hour), 10)
	noErr(t, "ClaimOutbox after Finish", err)
	check(t, "claimable after Finish", entryIDs(got), []string(nil))

	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)
	byID := map[string]store.Event{}
	for _, e := range evs {
		byID[e.ID] = e
	}
	if e := byID["out-p1-1"]; e.Status != "sent" || e.ErrorCode != 0 || e.ProviderID != "SM123" {
		t.Errorf("event %s after a sent Finish: Status %q ErrorCode %d ProviderID %q, want sent 0 SM123", e.ID, e.Status, e.ErrorCode, e.ProviderID)
	}
	if e := byID["out-2"]; e.Status != "failed" || e.ErrorCode != 30003 {
		t.Errorf("event out-2 after a failed Finish: Status %q ErrorCode %d, want failed 30003", e.Status, e.ErrorCode)
	}
	if e := byID["in-p1-1"]; e.Status != "" {
		t.Errorf("Finish changed the message.in event: %+v", e)
	}
}

func testFinishRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	c := turn("p1", 1, 0) // its outbox entry is due at t0
	commit(t, s, c)
	claimed, err := s.ClaimOutbox(ctx, t0, 10)
	noErr(t, "ClaimOutbox", err)
	if len(claimed) != 1 {
		t.Fatalf("ClaimOutbox: got %d entries, want 1", len(claimed))
	}

	// A hold without a status leaves the event alone.
	noErr(t, "Finish hold", s.Finish(ctx, claimed[0], store.Delivery{NotBefore: at(10 * time.Minute)}))
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	check(t, "Claimed after a retry", entryIDs(left), []string(nil))
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 1 {
		t.Errorf("OutboxDepth after a retry: got %d, want 1", depth)
	}
	got, err := s.ClaimOutbox(ctx, at(5*time.Minute), 10)
	noErr(t, "ClaimOutbox before NotBefore", err)
	check(t, "claimed before the new NotBefore", entryIDs(got), []string(nil))

	got, err = s.ClaimOutbox(ctx, at(10*time.Minute), 10)
	noErr(t, "ClaimOutbox at NotBefore", err)
	want := c.Outbox[0]
	want.NotBefore = at(10 * time.Minute)
	want.Attempts = 0 // a hold is not an attempt
	check(t, "claimed after a hold", normEntries(got), []store.OutboxEntry{want})
	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)
	if evs[1].Status != "queued" {
		t.Errorf("event after a hold without status: Status %q, want queued", evs[1].Status)
	}

	// A failed attempt with a status writes it and counts again.
	noErr(t, "Finish retry", s.Finish(ctx, got[0], store.Delivery{NotBefore: at(20 * time.Minute), Status: "retrying", ErrorCode: 20429, Attempted: true}))
	got, err = s.ClaimOutbox(ctx, at(20*time.Minute), 10)
	noErr(t, "ClaimOutbox", err)
	if len(got) != 1 || got[0].Attempts != 1 || !got[0].NotBefore.Equal(at(20*time.Minute)) {
		t.Errorf("after a failed attempt: got %+v, want one entry with Attempts 1 due at 20m", got)
	}
	evs, err = s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)
	if evs[1].Status != "retrying" || evs[1].ErrorCode != 20429 {
		t.Errorf("event after a failed attempt: Status %q ErrorCode %d, want retrying 20429", evs[1].Status, evs[1].ErrorCode)
	}
}

func testFinishChannel(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	e := outEntry("o1", "p1", t0)
	e.Channel = "whatsapp"
	ev := store.Event{ID: "o1", Type: "message.out", At: t0, Channel: "whatsapp", Text: e.Text, Status: "queued"}
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Events: []store.Event{ev}, Outbox: []store.OutboxEntry{e}})
	event := func() store.Event {
		t.Helper()
		evs, err := s.Timeline(ctx, "p1")
		noErr(t, "Timeline", err)
		if len(evs) != 1 {
			t.Fatalf("Timeline: got %d events, want 1", len(evs))
		}
		return evs[0]
	}
	claim := func(now time.Time) store.OutboxEntry {
		t.Helper()
		got, err := s.ClaimOutbox(ctx, now, 10)
		noErr(t, "ClaimOutbox", err)
		if len(got) != 1 {
			t.Fatalf("ClaimOutbox: got %d entries, want 1", len(got))
		}
		return got[0]
	}
	got := claim(t0)
	check(t, "claimed entry", normEntries([]store.OutboxEntry{got}), []store.OutboxEntry{e})

	// A failed send falls back to SMS: the entry is retried there, and its
	// event says so.
	noErr(t, "Finish with a fallback", s.Finish(ctx, got, store.Delivery{
		NotBefore: at(time.Minute), Attempted: true, Status: "retrying", ErrorCode: 63016, Channel: "sms"}))
	want := e
	want.Channel, want.NotBefore, want.Attempts = "sms", at(time.Minute), 1
	got = claim(at(time.Minute))
	check(t, "entry after a fallback", normEntries([]store.OutboxEntry{got}), []store.OutboxEntry{want})
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	check(t, "Claimed after a fallback", normEntries(left), []store.OutboxEntry{want})
	if got := event(); got.Channel != "sms" || got.Status != "retrying" || got.ErrorCode != 63016 {
		t.Errorf("event after a fallback: Channel %q Status %q ErrorCode %d, want sms retrying 63016", got.Channel, got.Status, got.ErrorCode)
	}

	// A hold without a status still moves the channel.
	noErr(t, "Finish hold with a channel", s.Finish(ctx, got, store.Delivery{NotBefore: at(2 * time.Minute), Channel: "voice"}))
	got = claim(at(2 * time.Minute))
	if got.Channel != "voice" || got.Attempts != 1 {
		t.Errorf("entry after a hold with a channel: Channel %q Attempts %d, want voice 1", got.Channel, got.Attempts)
	}
	if got := event(); got.Channel != "voice" || got.Status != "retrying" || got.ErrorCode != 63016 {
		t.Errorf("event after a hold with a channel: Channel %q Status %q ErrorCode %d, want voice retrying 63016", got.Channel, got.Status, got.ErrorCode)
	}

	// Without a channel, the channel stays.
	noErr(t, "Finish without a channel", s.Finish(ctx, got, store.Delivery{NotBefore: at(3 * time.Minute), Status: "retrying", Attempted: true}))
	got = claim(at(3 * time.Minute))
	if got.Channel != "voice" || got.Attempts != 2 {
		t.Errorf("entry after a Finish without channel: Channel %q Attempts %d, want voice 2", got.Channel, got.Attempts)
	}

	// Done: the event takes the channel the message went out on.
	noErr(t, "Finish sent", s.Finish(ctx, got, store.Delivery{Done: true, Status: "sent", ProviderID: "SM1", Channel: "sms"}))
	if got := event(); got.Channel != "sms" || got.Status != "sent" || got.ProviderID != "SM1" || got.ErrorCode != 0 {
		t.Errorf("event after a sent Finish: %+v, want Channel sms Status sent ProviderID SM1 ErrorCode 0", got)
	}
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 0 {
		t.Errorf("OutboxDepth after Finish: got %d, want 0", depth)
	}

	// A reply to an unknown number has no event; its entry still moves.
	u := store.OutboxEntry{ID: "u1", Channel: "whatsapp", To: "+15559990000", Text: "Not enrolled.", Reply: true, NotBefore: t0, CreatedAt: t0}
	commit(t, s, store.Commit{DedupeKey: "wa:unknown", Outbox: []store.OutboxEntry{u}})
	got = claim(at(3 * time.Minute))
	noErr(t, "Finish of a reply to an unknown number", s.Finish(ctx, got, store.Delivery{NotBefore: at(4 * time.Minute), Status: "failed", Channel: "sms"}))
	got = claim(at(4 * time.Minute))
	if got.ID != "u1" || got.Channel != "sms" {
		t.Errorf("reply to an unknown number after a fallback: %+v, want u1 on sms", got)
	}
}

func testDepth(t *testing.T, s store.Store) {
	ctx := t.Context()
	depth := func() int {
		t.Helper()
		n, err := s.OutboxDepth(ctx)
		noErr(t, "OutboxDepth", err)
		return n
	}
	if n := depth(); n != 0 {
		t.Fatalf("OutboxDepth of an empty store: got %d", n)
	}
	enroll(t, s, "p1", "+15551230001")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Outbox: []store.OutboxEntry{
		outEntry("o1", "p1", t0), outEntry("o2", "p1", t0), outEntry("o3", "p1", at(time.Hour)),
	}})
	if n := depth(); n != 3 {
		t.Errorf("OutboxDepth with 3 pending: got %d", n)
	}
	claimed, err := s.ClaimOutbox(ctx, t0, 1)
	noErr(t, "ClaimOutbox", err)
	if n := depth(); n != 3 {
		t.Errorf("OutboxDepth with 1 claimed and 2 pending: got %d", n)
	}
	noErr(t, "Finish", s.Finish(ctx, claimed[0], store.Delivery{Done: true, Status: "sent"}))
	if n := depth(); n != 2 {
		t.Errorf("OutboxDepth after one Finish: got %d", n)
	}
}
