package storetest

import (
	"slices"
	"strconv"
	"strings"
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
	want.Channel, want.NotBefore, want.Attempts, want.ErrorCode = "sms", at(time.Minute), 1, 63016 // a failed attempt's code stays with the entry
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

// claimAll claims every entry due by now, by ID.
func claimAll(t *testing.T, s store.Store, now time.Time) map[string]store.OutboxEntry {
	t.Helper()
	got, err := s.ClaimOutbox(t.Context(), now, 100)
	noErr(t, "ClaimOutbox", err)
	out := map[string]store.OutboxEntry{}
	for _, e := range got {
		out[e.ID] = e
	}
	return out
}

// outEvent returns the event with id of a patient's timeline.
func outEvent(t *testing.T, s store.Store, patientID, id string) store.Event {
	t.Helper()
	evs, err := s.Timeline(t.Context(), patientID)
	noErr(t, "Timeline", err)
	for _, ev := range evs {
		if ev.ID == id {
			return ev
		}
	}
	t.Fatalf("no event %s on %s's timeline", id, patientID)
	return store.Event{}
}

func testDeadLetters(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	var evs []store.Event
	for _, id := range []string{"o1", "o2", "o3"} {
		evs = append(evs, store.Event{ID: id, Type: "message.out", At: t0, Channel: "sms", Text: "Thank you", Status: "queued"})
	}
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Events: evs,
		Outbox: []store.OutboxEntry{outEntry("o1", "p1", t0), outEntry("o2", "p1", t0), outEntry("o3", "p1", t0)}})
	u := store.OutboxEntry{ID: "u1", Channel: "sms", To: "+15559990000", Text: "Not enrolled.", Reply: true, NotBefore: t0, CreatedAt: t0}
	commit(t, s, store.Commit{DedupeKey: "sms:unknown", Outbox: []store.OutboxEntry{u}})
	claimed := claimAll(t, s, t0)

	// A temporary failure starts the retry window and keeps its reason.
	noErr(t, "Finish retry", s.Finish(ctx, claimed["o1"], store.Delivery{NotBefore: at(time.Minute), Status: "retrying",
		ErrorCode: 20500, Reason: "provider_error", Attempted: true, RetryUntil: at(24 * time.Hour)}))
	again := claimAll(t, s, at(time.Minute))
	o1 := again["o1"]
	if !o1.RetryUntil.Equal(at(24*time.Hour)) || o1.LastError != "provider_error" || o1.ErrorCode != 20500 || o1.Attempts != 1 {
		t.Errorf("entry after a retry: RetryUntil %v LastError %q ErrorCode %d Attempts %d, want 24h provider_error 20500 1",
			o1.RetryUntil, o1.LastError, o1.ErrorCode, o1.Attempts)
	}
	if ev := outEvent(t, s, "p1", "o1"); ev.Status != "retrying" || ev.Reason != "provider_error" || ev.ErrorCode != 20500 {
		t.Errorf("event after a retry: %+v, want retrying provider_error 20500", ev)
	}

	// The window ends: o1 and o2 become dead letters, o3 is sent, and the
	// reply to an unknown number dies too.
	dead := func(e store.OutboxEntry, when time.Duration, reason string, code int) {
		t.Helper()
		noErr(t, "Finish dead "+e.ID, s.Finish(ctx, e, store.Delivery{DeadAt: at(when), Status: "failed", ErrorCode: code, Reason: reason, Attempted: true}))
	}
	dead(o1, 2*time.Minute, "provider_error", 20500)
	dead(claimed["o2"], 3*time.Minute, "network", 0)
	noErr(t, "Finish sent", s.Finish(ctx, claimed["o3"], store.Delivery{Done: true, Status: "sent", ProviderID: "SM3"}))
	dead(claimed["u1"], 4*time.Minute, "network", 0)

	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 0 {
		t.Errorf("OutboxDepth with only dead letters: got %d, want 0", depth)
	}
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	check(t, "Claimed with only dead letters", entryIDs(left), []string(nil))
	check(t, "claimable with only dead letters", entryIDs(mapValues(claimAll(t, s, at(1000*time.Hour)))), []string(nil))

	list, err := s.DeadLetters(ctx, "", 0)
	noErr(t, "DeadLetters", err)
	check(t, "dead letters", entryIDs(list), []string{"o1", "o2", "u1"})
	want := outEntry("o1", "p1", t0)
	want.Attempts, want.RetryUntil, want.LastError, want.ErrorCode, want.FailedAt = 2, at(24*time.Hour), "provider_error", 20500, at(2*time.Minute)
	want.NotBefore = at(time.Minute)
	got := normEntries(list[:1])[0]
	got.NotBefore = got.NotBefore.UTC()
	check(t, "dead letter o1", got, want)
	if list[1].LastError != "network" || list[1].ErrorCode != 0 || !list[1].FailedAt.Equal(at(3*time.Minute)) {
		t.Errorf("dead letter o2: %+v, want network, code 0, failed at 3m", list[1])
	}
	if ev := outEvent(t, s, "p1", "o1"); ev.Status != "failed" || ev.Reason != "provider_error" || ev.ErrorCode != 20500 {
		t.Errorf("event of a dead letter: %+v, want failed provider_error 20500", ev)
	}

	// Resend: due at now with a fresh window, its event queued again.
	re, err := s.Resend(ctx, "o1", at(time.Hour))
	noErr(t, "Resend", err)
	fresh := outEntry("o1", "p1", at(time.Hour))
	check(t, "resent entry", normEntries([]store.OutboxEntry{re}), []store.OutboxEntry{fresh})
	if ev := outEvent(t, s, "p1", "o1"); ev.Status != "queued" || ev.Reason != "" || ev.ErrorCode != 0 {
		t.Errorf("event after Resend: %+v, want queued without reason or code", ev)
	}
	depth, err = s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 1 {
		t.Errorf("OutboxDepth after Resend: got %d, want 1", depth)
	}
	list, err = s.DeadLetters(ctx, "", 0)
	noErr(t, "DeadLetters", err)
	check(t, "dead letters after Resend", entryIDs(list), []string{"o2", "u1"})
	check(t, "claimable before the resend's time", entryIDs(mapValues(claimAll(t, s, at(59*time.Minute)))), []string(nil))
	resent := claimAll(t, s, at(time.Hour))
	check(t, "claimed after Resend", normEntries(mapValues(resent)), []store.OutboxEntry{fresh})

	_, err = s.Resend(ctx, "o1", at(time.Hour))
	wantErr(t, "Resend of a claimed entry", err, store.ErrNotDead)
	_, err = s.Discard(ctx, "o1", "operator")
	wantErr(t, "Discard of a claimed entry", err, store.ErrNotDead)
	_, err = s.Resend(ctx, "nope", at(time.Hour))
	wantErr(t, "Resend of an unknown entry", err, store.ErrNotFound)
	_, err = s.Discard(ctx, "o3", "operator")
	wantErr(t, "Discard of a sent entry", err, store.ErrNotFound)
	noErr(t, "Finish resent", s.Finish(ctx, resent["o1"], store.Delivery{Done: true, Status: "sent", ProviderID: "SM1"}))
	if ev := outEvent(t, s, "p1", "o1"); ev.Status != "sent" || ev.ProviderID != "SM1" {
		t.Errorf("event after the resent message went: %+v, want sent SM1", ev)
	}

	// Discard: gone, its event cancelled with the reason.
	gone, err := s.Discard(ctx, "o2", "operator")
	noErr(t, "Discard", err)
	if gone.ID != "o2" || gone.Text != "Thank you" || gone.LastError != "network" {
		t.Errorf("discarded entry: %+v", gone)
	}
	if ev := outEvent(t, s, "p1", "o2"); ev.Status != "cancelled" || ev.Reason != "operator" || ev.ErrorCode != 0 {
		t.Errorf("event after Discard: %+v, want cancelled operator", ev)
	}
	_, err = s.Discard(ctx, "o2", "operator")
	wantErr(t, "Discard twice", err, store.ErrNotFound)
	_, err = s.Discard(ctx, "u1", "operator")
	noErr(t, "Discard of a reply to an unknown number", err)
	list, err = s.DeadLetters(ctx, "", 0)
	noErr(t, "DeadLetters", err)
	check(t, "dead letters after Discard", entryIDs(list), []string(nil))
	depth, err = s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 0 {
		t.Errorf("OutboxDepth at the end: got %d, want 0", depth)
	}
}

func testDeadLetterPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []string
	for i := range 7 {
		pid := "p" + strconv.Itoa(i)
		enroll(t, s, pid, "+1555123000"+strconv.Itoa(i))
		id := "d" + strconv.Itoa(i)
		ids = append(ids, id)
		commit(t, s, store.Commit{PatientID: pid, Version: 1, Outbox: []store.OutboxEntry{outEntry(id, pid, t0)}})
	}
	for _, e := range claimAll(t, s, t0) {
		noErr(t, "Finish dead", s.Finish(ctx, e, store.Delivery{DeadAt: at(time.Hour), Status: "failed", Reason: "network", Attempted: true}))
	}
	var paged []string
	after := ""
	for range 10 {
		page, err := s.DeadLetters(ctx, after, 3)
		noErr(t, "DeadLetters", err)
		if len(page) > 3 {
			t.Fatalf("DeadLetters with limit 3 returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, entryIDs(page)...)
		after = page[len(page)-1].ID
	}
	check(t, "dead letters page by page", paged, ids)
}

func testDeadLetterIndexes(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Outbox: []store.OutboxEntry{outEntry("d1", "p1", t0), outEntry("q1", "p1", at(time.Hour))}})
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Outbox: []store.OutboxEntry{outEntry("d2", "p2", t0)}})
	for _, e := range claimAll(t, s, t0) {
		noErr(t, "Finish dead", s.Finish(ctx, e, store.Delivery{DeadAt: at(time.Minute), Status: "failed", Reason: "network", Attempted: true}))
	}
	depth := func(want int, when string) {
		t.Helper()
		n, err := s.OutboxDepth(ctx)
		noErr(t, "OutboxDepth", err)
		if n != want {
			t.Errorf("OutboxDepth %s: got %d, want %d", when, n, want)
		}
	}
	depth(1, "with two dead letters and one pending")

	// Unenrolling removes the patient's dead letters with the pending.
	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p1"))
	list, err := s.DeadLetters(ctx, "", 0)
	noErr(t, "DeadLetters", err)
	check(t, "dead letters after DeletePatient", entryIDs(list), []string{"d2"})
	depth(0, "after DeletePatient")
	_, err = s.Resend(ctx, "d1", at(time.Hour))
	wantErr(t, "Resend after DeletePatient", err, store.ErrNotFound)

	// The same ID committed again is a pending entry, no longer dead.
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Outbox: []store.OutboxEntry{outEntry("d2", "p2", at(2*time.Hour))}})
	list, err = s.DeadLetters(ctx, "", 0)
	noErr(t, "DeadLetters", err)
	check(t, "dead letters after a commit of the same ID", entryIDs(list), []string(nil))
	depth(1, "after a commit of a dead letter's ID")
	check(t, "claimable after a commit of a dead letter's ID", entryIDs(mapValues(claimAll(t, s, at(2*time.Hour)))), []string{"d2"})
}

// mapValues returns the entries of m in ID order.
func mapValues(m map[string]store.OutboxEntry) []store.OutboxEntry {
	out := make([]store.OutboxEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.OutboxEntry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// testOutboxPatient: an entry's patient is found by the entry's ID alone,
// queued, finished (the entry is gone) and after the patient is
// unenrolled (the timeline stays); a reply to an unknown number and an
// unknown ID have none.
func testOutboxPatient(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	commit(t, s, turn("p1", 1, 1))
	c := turn("p2", 1, 1)
	c.Outbox = append(c.Outbox, outEntry("later-p2", "", at(time.Hour)))
	commit(t, s, c)
	commit(t, s, store.Commit{DedupeKey: "sms:stranger", Outbox: []store.OutboxEntry{outEntry("reply-stranger", "", at(0))}})

	want := func(id, patient string) {
		t.Helper()
		got, err := s.OutboxPatient(ctx, id)
		if patient == "" {
			wantErr(t, "OutboxPatient("+id+")", err, store.ErrNotFound)
			return
		}
		if err != nil || got != patient {
			t.Errorf("OutboxPatient(%s) = %q, %v; want %q", id, got, err, patient)
		}
	}
	want("out-p1-1", "p1")
	want("out-p2-1", "p2")
	want("later-p2", "p2") // the commit's patient, not given on the entry
	want("reply-stranger", "")
	want("nothing", "")

	for _, e := range claimAll(t, s, at(time.Minute)) {
		noErr(t, "Finish "+e.ID, s.Finish(ctx, e, store.Delivery{Done: true, Status: "sent"}))
	}
	want("out-p1-1", "p1") // a report hours after the send
	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p2"))
	want("out-p2-1", "p2")
	want("later-p2", "p2")
}
