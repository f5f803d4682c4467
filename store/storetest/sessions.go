package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Sessions role: enrollments, sessions, the one
// atomic Commit, the phone index and unenrolling.

func testLoadUnknown(t *testing.T, s store.Store) {
	_, _, err := s.Load(t.Context(), "nobody")
	wantErr(t, "Load of an unknown patient", err, store.ErrNotFound)
	_, err = s.PatientByPhone(t.Context(), "+15551230000")
	wantErr(t, "PatientByPhone of an unknown phone", err, store.ErrNotFound)
}

func testCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := enroll(t, s, "p1", "+15551230001")
	got, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "patient", normPatient(got), p)
	check(t, "session", sess, store.Session{Data: []byte("enrolled"), Version: 1})

	// An enrollment without a session has Version 0 and no data.
	p2 := newPatient("p2", "+15551230002")
	commit(t, s, store.Commit{PatientID: "p2", Patient: &p2})
	got, sess, err = s.Load(ctx, "p2")
	noErr(t, "Load p2", err)
	check(t, "patient p2", normPatient(got), p2)
	if sess.Version != 0 || len(sess.Data) != 0 {
		t.Errorf("session of an enrollment without one: got %+v, want Version 0 and no data", sess)
	}
}

func testSessionVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")

	// A commit without Session keeps the session and its version.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Events: []store.Event{{ID: "e1", Type: "consent", At: t0, Channel: "sms", Status: "opted_in"}}})
	_, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "session after a commit without one", sess, store.Session{Data: []byte("enrolled"), Version: 1})

	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Session: []byte("two")})
	commit(t, s, store.Commit{PatientID: "p1", Version: 2, Session: []byte("three")})
	_, sess, err = s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "session after two commits", sess, store.Session{Data: []byte("three"), Version: 3})

	// Replacing the enrollment keeps the session.
	p := newPatient("p1", "+15551230001")
	p.Language = "es"
	commit(t, s, store.Commit{PatientID: "p1", Version: 3, Patient: &p})
	got, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "replaced patient", normPatient(got), p)
	check(t, "session after re-enrollment", sess, store.Session{Data: []byte("three"), Version: 3})
}

func testConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	commit(t, s, turn("p1", 1, 1))
	before := snap(t, s, "p1")

	stale := turn("p1", 1, 2) // the stored version is 2 now
	stale.Escalations = []store.Escalation{{ID: "x1", PatientID: "p1", Priority: "high", Reason: "bp", OpenedAt: t0, Due: at(time.Hour), Status: "open"}}
	stale.DeleteTimers = []string{"reply-timeout"}
	err := s.Commit(ctx, stale)
	wantErr(t, "Commit with a stale version", err, store.ErrConflict)
	sameSnap(t, "a conflicting commit", snap(t, s, "p1"), before)

	// The conflicting commit did not record its dedupe key: the retry of the
	// turn from the new version goes through.
	retry := turn("p1", 2, 2)
	commit(t, s, retry)
	_, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load", err)
	if sess.Version != 3 {
		t.Errorf("version after the retried turn: got %d, want 3", sess.Version)
	}

	// A version ahead of the stored one conflicts too.
	err = s.Commit(ctx, turn("p1", 9, 3))
	wantErr(t, "Commit with a version from the future", err, store.ErrConflict)
}

func testDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	first := turn("p1", 1, 1)
	commit(t, s, first)
	before := snap(t, s, "p1")

	// Same dedupe key, current version, different content: nothing lands.
	again := turn("p1", 2, 2)
	again.DedupeKey = first.DedupeKey
	again.Escalations = []store.Escalation{{ID: "x1", PatientID: "p1", Priority: "low", Reason: "r", OpenedAt: t0, Due: t0, Status: "open"}}
	wantErr(t, "second Commit with the same dedupe key", s.Commit(ctx, again), store.ErrDuplicate)
	sameSnap(t, "a duplicate commit", snap(t, s, "p1"), before)

	// A provider retry of the committed turn carries the old version: it is
	// still a duplicate, not a conflict.
	wantErr(t, "retry of a committed turn", s.Commit(ctx, first), store.ErrDuplicate)

	// Dedupe keys are global, not per patient.
	other := turn("p2", 1, 1)
	other.DedupeKey = first.DedupeKey
	wantErr(t, "same dedupe key for another patient", s.Commit(ctx, other), store.ErrDuplicate)
	evs, err := s.Timeline(ctx, "p2")
	noErr(t, "Timeline p2", err)
	check(t, "timeline of p2", evs, []store.Event(nil))

	// A commit without a dedupe key is never a duplicate.
	commit(t, s, store.Commit{PatientID: "p1", Version: 2, Session: []byte("x")})
	commit(t, s, store.Commit{PatientID: "p1", Version: 3, Session: []byte("y")})
}

func testUnknownNumber(t *testing.T, s store.Store) {
	ctx := t.Context()
	reply := store.OutboxEntry{ID: "o-unknown", Channel: "sms", To: "+15559990000", Text: "This number is not enrolled.", Reply: true, NotBefore: t0, CreatedAt: t0}
	c := store.Commit{DedupeKey: "sms:SMunknown", Outbox: []store.OutboxEntry{reply}}
	commit(t, s, c)
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 1 {
		t.Fatalf("OutboxDepth: got %d, want 1", depth)
	}

	wantErr(t, "the same unknown-number message again", s.Commit(ctx, c), store.ErrDuplicate)
	depth, err = s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 1 {
		t.Errorf("OutboxDepth after a duplicate: got %d, want 1", depth)
	}

	got, err := s.ClaimOutbox(ctx, t0, 10)
	noErr(t, "ClaimOutbox", err)
	check(t, "claimed reply", normEntries(got), []store.OutboxEntry{reply})

	// Its Finish has no event to update and still succeeds.
	noErr(t, "Finish", s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent"}))
	depth, err = s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 0 {
		t.Errorf("OutboxDepth after Finish: got %d, want 0", depth)
	}
}

func testNotEnrolled(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := snap(t, s, "ghost")
	err := s.Commit(ctx, turn("ghost", 0, 1))
	wantErr(t, "Commit without Patient for an unenrolled patient", err, store.ErrNotFound)
	sameSnap(t, "a commit for an unenrolled patient", snap(t, s, "ghost"), before)
	_, _, err = s.Load(ctx, "ghost")
	wantErr(t, "Load after the failed commit", err, store.ErrNotFound)
}

func testPhone(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := enroll(t, s, "p1", "+15551230001")
	got, err := s.PatientByPhone(ctx, "+15551230001")
	noErr(t, "PatientByPhone", err)
	check(t, "patient by phone", normPatient(got), p)

	// A new phone number replaces the old one in the index.
	p.Phone = "+15551230009"
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p})
	_, err = s.PatientByPhone(ctx, "+15551230001")
	wantErr(t, "PatientByPhone of the replaced phone", err, store.ErrNotFound)
	got, err = s.PatientByPhone(ctx, "+15551230009")
	noErr(t, "PatientByPhone of the new phone", err)
	check(t, "patient by new phone", normPatient(got), p)

	// The freed number can go to somebody else.
	p2 := enroll(t, s, "p2", "+15551230001")
	got, err = s.PatientByPhone(ctx, "+15551230001")
	noErr(t, "PatientByPhone of the reused phone", err)
	check(t, "patient by reused phone", normPatient(got), p2)
}

func testPhoneTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1 := enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")

	// A new patient with p1's phone.
	p3 := newPatient("p3", "+15551230001")
	c := turn("p3", 0, 1)
	c.Patient = &p3
	before := snap(t, s, "p3")
	wantErr(t, "enrolling with a taken phone", s.Commit(ctx, c), store.ErrPhoneTaken)
	sameSnap(t, "a commit with a taken phone", snap(t, s, "p3"), before)
	_, _, err := s.Load(ctx, "p3")
	wantErr(t, "Load of the refused patient", err, store.ErrNotFound)

	// p2 moving to p1's phone.
	p2 := newPatient("p2", "+15551230001")
	before = snap(t, s, "p2")
	wantErr(t, "moving to a taken phone", s.Commit(ctx, store.Commit{PatientID: "p2", Version: 1, Patient: &p2, Session: []byte("x")}), store.ErrPhoneTaken)
	sameSnap(t, "a move to a taken phone", snap(t, s, "p2"), before)
	for phone, want := range map[string]string{"+15551230001": "p1", "+15551230002": "p2"} {
		got, err := s.PatientByPhone(ctx, phone)
		noErr(t, "PatientByPhone", err)
		if got.ID != want {
			t.Errorf("PatientByPhone(%s): got %s, want %s", phone, got.ID, want)
		}
	}

	// Re-enrolling a patient with its own phone is not a conflict.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p1})
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	c := turn("p1", 1, 1) // pending entry out-p1-1 due at 1m
	c.Outbox = append(c.Outbox, outEntry("claimed-p1", "p1", t0))
	c.Escalations = []store.Escalation{{ID: "x1", PatientID: "p1", Priority: "medium", Reason: "missed doses", OpenedAt: t0, Due: at(24 * time.Hour), Status: "open"}}
	commit(t, s, c)
	commit(t, s, turn("p2", 1, 1))
	claimed, err := s.ClaimOutbox(ctx, t0, 10) // only claimed-p1 is due at t0
	noErr(t, "ClaimOutbox", err)
	check(t, "claimed before delete", entryIDs(claimed), []string{"claimed-p1"})
	timeline, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline", err)

	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p1"))

	_, _, err = s.Load(ctx, "p1")
	wantErr(t, "Load after DeletePatient", err, store.ErrNotFound)
	_, err = s.PatientByPhone(ctx, "+15551230001")
	wantErr(t, "PatientByPhone after DeletePatient", err, store.ErrNotFound)
	tms, err := s.Timers(ctx, "p1")
	noErr(t, "Timers", err)
	check(t, "timers after DeletePatient", tms, []store.Timer(nil))
	due, err := s.DueTimers(ctx, at(1000*time.Hour), 100)
	noErr(t, "DueTimers", err)
	check(t, "due timers after DeletePatient", timerNames(due), []string{"p2/reply-timeout"})

	// The pending entry is gone, the claimed one stays until finished.
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != 2 {
		t.Errorf("OutboxDepth after DeletePatient: got %d, want 2 (p1's claimed, p2's pending)", depth)
	}
	got, err := s.ClaimOutbox(ctx, at(1000*time.Hour), 100)
	noErr(t, "ClaimOutbox", err)
	check(t, "claimable after DeletePatient", entryIDs(got), []string{"out-p2-1"})
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed", err)
	ids := entryIDs(left)
	slices.Sort(ids)
	check(t, "Claimed after DeletePatient", ids, []string{"claimed-p1", "out-p2-1"})
	noErr(t, "Finish of a deleted patient's entry", s.Finish(ctx, claimed[0], store.Delivery{Done: true, Status: "sent"}))

	// Audit: the timeline and the escalation stay.
	after, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline after DeletePatient", err)
	check(t, "timeline after DeletePatient", eventIDs(after), eventIDs(timeline))
	escs, err := s.Escalations(ctx, "")
	noErr(t, "Escalations", err)
	check(t, "escalations after DeletePatient", escalationIDs(escs), []string{"x1"})

	// The other patient is untouched.
	_, sess, err := s.Load(ctx, "p2")
	noErr(t, "Load p2", err)
	if sess.Version != 2 {
		t.Errorf("p2's version after p1's delete: got %d, want 2", sess.Version)
	}

	wantErr(t, "Commit after DeletePatient", s.Commit(ctx, turn("p1", 2, 2)), store.ErrNotFound)
	wantErr(t, "Commit from version 0 after DeletePatient", s.Commit(ctx, turn("p1", 0, 3)), store.ErrNotFound)
	wantErr(t, "DeletePatient again", s.DeletePatient(ctx, "p1"), store.ErrNotFound)
	wantErr(t, "DeletePatient of an unknown patient", s.DeletePatient(ctx, "nobody"), store.ErrNotFound)

	// The phone is free, and re-enrolling starts without a session.
	enroll(t, s, "p3", "+15551230001")
	p1 := newPatient("p1", "+15551230011")
	commit(t, s, store.Commit{PatientID: "p1", Patient: &p1})
	_, sess, err = s.Load(ctx, "p1")
	noErr(t, "Load after re-enrolling", err)
	if sess.Version != 0 || len(sess.Data) != 0 {
		t.Errorf("session after re-enrolling: got %+v, want none", sess)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		patients = 50
		turns    = 20
		rivals   = 8 // goroutines sharing one patient
		bumps    = 5 // commits per rival
	)
	enroll(t, s, "shared", "+15550000000")
	var wg sync.WaitGroup
	for g := range patients {
		wg.Go(func() {
			id := fmt.Sprintf("c%02d", g)
			p := newPatient(id, fmt.Sprintf("+1555100%04d", g))
			if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("enrolled")}); err != nil {
				t.Errorf("enroll %s: %v", id, err)
				return
			}
			for n := 1; n <= turns; n++ {
				if err := s.Commit(ctx, turn(id, uint64(n), n)); err != nil {
					t.Errorf("turn %d of %s: %v", n, id, err)
					return
				}
			}
		})
	}
	// Rivals increment a counter in the shared session, reloading on conflict.
	for range rivals {
		wg.Go(func() {
			for range bumps {
				for {
					_, sess, err := s.Load(ctx, "shared")
					if err != nil {
						t.Errorf("Load shared: %v", err)
						return
					}
					n := 0
					if string(sess.Data) != "enrolled" {
						n, _ = strconv.Atoi(string(sess.Data))
					}
					n++
					err = s.Commit(ctx, store.Commit{
						PatientID: "shared",
						Version:   sess.Version,
						Session:   []byte(strconv.Itoa(n)),
						Events:    []store.Event{{ID: "bump-" + strconv.Itoa(n), Type: "adherence", At: t0, Medication: "amlodipine", Status: "taken"}},
					})
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						t.Errorf("Commit shared: %v", err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	for g := range patients {
		id := fmt.Sprintf("c%02d", g)
		_, sess, err := s.Load(ctx, id)
		noErr(t, "Load "+id, err)
		if sess.Version != turns+1 || string(sess.Data) != fmt.Sprintf("session %s-%d", id, turns) {
			t.Errorf("session of %s: got %q version %d, want the last turn at version %d", id, sess.Data, sess.Version, turns+1)
		}
		evs, err := s.Timeline(ctx, id)
		noErr(t, "Timeline "+id, err)
		var want []string
		for n := 1; n <= turns; n++ {
			want = append(want, fmt.Sprintf("in-%s-%d", id, n), fmt.Sprintf("out-%s-%d", id, n))
		}
		check(t, "timeline of "+id, eventIDs(evs), want)
	}
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	if depth != patients*turns {
		t.Errorf("OutboxDepth: got %d, want %d", depth, patients*turns)
	}
	due, err := s.DueTimers(ctx, at(1000*time.Hour), 1000)
	noErr(t, "DueTimers", err)
	if len(due) != patients {
		t.Errorf("DueTimers: got %d, want one per patient (%d)", len(due), patients)
	}

	_, sess, err := s.Load(ctx, "shared")
	noErr(t, "Load shared", err)
	total := rivals * bumps
	if sess.Version != uint64(total)+1 || string(sess.Data) != strconv.Itoa(total) {
		t.Errorf("shared session: got %q version %d, want %d at version %d (lost updates)", sess.Data, sess.Version, total, total+1)
	}
	evs, err := s.Timeline(ctx, "shared")
	noErr(t, "Timeline shared", err)
	var want []string
	for n := 1; n <= total; n++ {
		want = append(want, "bump-"+strconv.Itoa(n))
	}
	check(t, "shared timeline", eventIDs(evs), want)
}

// A page to the care team names no patient but its ticket: the entry, with
// its ticket, round-trips, and a retried page (same key) writes nothing.
func testPageEntry(t *testing.T, s store.Store) {
	ctx := t.Context()
	call := store.OutboxEntry{ID: "o-page", Channel: "voice", To: "+15550001111", Text: "A high ticket needs a person.", Ticket: "x1",
		Urgent: true, NotBefore: t0, CreatedAt: t0}
	c := store.Commit{DedupeKey: "page:x1:1", Outbox: []store.OutboxEntry{call}}
	commit(t, s, c)
	wantErr(t, "the same page again", s.Commit(ctx, c), store.ErrDuplicate)
	got, err := s.ClaimOutbox(ctx, t0, 10)
	noErr(t, "ClaimOutbox", err)
	check(t, "claimed page", normEntries(got), []store.OutboxEntry{call})
	noErr(t, "Finish", s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "queued"}))
}
