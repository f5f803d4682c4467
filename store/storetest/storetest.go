package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// Opener opens the store kept in dir. The suite calls it twice with the same
// dir to check that data survives Close and reopening; a backend that keeps
// its data elsewhere (Redis) may ignore dir, as long as a second call
// reaches the data the first one wrote.
type Opener func(t *testing.T, dir string) store.Store

// Run checks that the stores made by open keep the store contract. open must
// return an empty store that no other test uses, since subtests run in
// parallel. reopen, when not nil, is used to check that committed data
// survives Close; with a nil reopen that subtest is skipped. The suite
// closes every store it gets.
//
// Besides what store.go says, the suite decides:
//   - the dedupe key space is global (a reply to an unknown number has no
//     patient), and a dedupe hit wins over a version conflict, so a
//     provider's retry of a turn that was committed is always ErrDuplicate;
//   - a commit that fails writes nothing, including its dedupe key;
//   - a commit without Session keeps the session and its version; a commit
//     that replaces the enrollment keeps the session too;
//   - Timeline is in commit order; Timeline of an unknown patient is empty;
//   - a commit carrying an escalation whose ID exists replaces it (that is
//     how a ticket is closed);
//   - DeletePatient keeps claimed outbox entries, so their outcome can
//     still be finished;
//   - Finish writes Status and ErrorCode to the message.out event only when
//     Delivery.Status is set, and the entry keeps its ID when it goes back
//     to pending; Delivery.Channel, when set, goes to the entry and to the
//     event whether or not Status is set;
//   - the Telegram chat index works as the phone index: a commit taking a
//     chat linked to another enrolled patient fails with ErrChatTaken and
//     writes nothing, re-enrollment moves the index, DeletePatient frees it;
//   - Once is a fixed window: a call that returns false does not extend it;
//     the now given to Once never goes backwards, so a backend may forget
//     keys that expired before the latest now;
//   - a single-use code is expired at its expiry time (now >= expires); the
//     now given to TakeCode never goes backwards either.
func Run(t *testing.T, open func(t *testing.T) store.Store, reopen Opener) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ready", testReady},
		{"LoadUnknownPatient", testLoadUnknown},
		{"CommitCreatesPatient", testCreate},
		{"SessionVersion", testSessionVersion},
		{"ConflictWritesNothing", testConflict},
		{"DuplicateWritesNothing", testDuplicate},
		{"UnknownNumberReply", testUnknownNumber},
		{"CommitWithoutEnrollment", testNotEnrolled},
		{"PatientByPhone", testPhone},
		{"PhoneTaken", testPhoneTaken},
		{"PatientByTelegram", testTelegram},
		{"ChatTaken", testChatTaken},
		{"TimelineOrder", testTimeline},
		{"UpdateEvent", testUpdateEvent},
		{"Escalations", testEscalations},
		{"Timers", testTimers},
		{"DueTimers", testDueTimers},
		{"ClaimOutbox", testClaim},
		{"ClaimOutboxLimit", testClaimLimit},
		{"FinishDone", testFinishDone},
		{"FinishRetry", testFinishRetry},
		{"FinishChannel", testFinishChannel},
		{"OutboxDepth", testDepth},
		{"DeletePatient", testDelete},
		{"Once", testOnce},
		{"Codes", testCodes},
		{"CodesConcurrent", testCodesConcurrent},
		{"ConcurrentCommits", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
	t.Run("SurvivesReopen", func(t *testing.T) {
		if reopen == nil {
			t.Skip("no Opener: the backend cannot be reopened by the suite")
		}
		t.Parallel()
		testReopen(t, reopen)
	})
}

// t0 is the suite's clock: every time is an offset from it.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func newPatient(id, phone string) store.Patient {
	return store.Patient{
		ID:          id,
		Phone:       phone,
		Language:    "en",
		Timezone:    "America/New_York",
		Channel:     "sms",
		Channels:    []string{"sms", "voice"},
		SlowSpeech:  true,
		Programs:    []string{"hypertension"},
		PHIOK:       true,
		Medications: []store.Medication{{ID: "amlodipine", Display: "Amlodipine 5 mg", Times: []string{"08:00", "20:00"}}},
		Refills:     []store.Refill{{Medication: "amlodipine", Date: "2026-03-30"}},
		Appointments: []store.Appointment{
			{ID: "a1", At: "2026-04-01T10:30"},
		},
		EnrolledAt: t0,
	}
}

// enroll creates a patient with a first session: Version 1.
func enroll(t *testing.T, s store.Store, id, phone string) store.Patient {
	t.Helper()
	p := newPatient(id, phone)
	commit(t, s, store.Commit{PatientID: id, Patient: &p, Session: []byte("enrolled")})
	return p
}

// turn is a typical conversational turn n of a patient: it writes
// everything a commit can carry except an escalation and a new enrollment.
func turn(patientID string, version uint64, n int) store.Commit {
	when := at(time.Duration(n) * time.Minute)
	tag := fmt.Sprintf("%s-%d", patientID, n)
	return store.Commit{
		PatientID: patientID,
		Version:   version,
		Session:   []byte("session " + tag),
		DedupeKey: "sms:in-" + tag,
		Events: []store.Event{
			{ID: "in-" + tag, Type: "message.in", At: when, Channel: "sms", Text: "1"},
			{ID: "out-" + tag, Type: "message.out", At: when, Channel: "sms", Text: "Thank you", Status: "queued"},
		},
		Outbox: []store.OutboxEntry{outEntry("out-"+tag, patientID, when)},
		SetTimers: []store.Timer{
			{PatientID: patientID, Name: "reply-timeout", Due: when.Add(time.Hour)},
		},
	}
}

func outEntry(id, patientID string, notBefore time.Time) store.OutboxEntry {
	return store.OutboxEntry{
		ID:        id,
		PatientID: patientID,
		Channel:   "sms",
		To:        "+15550000000",
		Text:      "Thank you",
		MessageID: "reply.thanks",
		Choices:   []string{"yes", "no"},
		Labels:    []string{"Yes, I took amlodipine", "No"},
		Step:      7,
		Template:  "HX0123456789abcdef0123456789abcdef",
		Vars:      []string{"Amlodipine 5 mg", "08:00"},
		Timezone:  "America/New_York",
		Reply:     true,
		NotBefore: notBefore,
		CreatedAt: t0,
	}
}

func commit(t *testing.T, s store.Store, c store.Commit) {
	t.Helper()
	if err := s.Commit(t.Context(), c); err != nil {
		t.Fatalf("Commit(%s, version %d): %v", c.PatientID, c.Version, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// check compares got and want after the caller normalized their times; two
// empty slices are equal whether nil or not.
func check(t *testing.T, what string, got, want any) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Slice && wv.Kind() == reflect.Slice && gv.Len() == 0 && wv.Len() == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// The norm functions put times in UTC without a monotonic reading, so that
// values that went through a backend compare equal with reflect.DeepEqual.

func normPatient(p store.Patient) store.Patient {
	p.EnrolledAt = p.EnrolledAt.UTC()
	return p
}

func normEvents(in []store.Event) []store.Event {
	out := slices.Clone(in)
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return out
}

func normEntries(in []store.OutboxEntry) []store.OutboxEntry {
	out := slices.Clone(in)
	for i := range out {
		out[i].NotBefore = out[i].NotBefore.UTC()
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out
}

func normTimers(in []store.Timer) []store.Timer {
	out := slices.Clone(in)
	for i := range out {
		out[i].Due = out[i].Due.UTC()
	}
	return out
}

// sortTimers orders one patient's timers by name, since Timers promises no
// order.
func sortTimers(in []store.Timer) []store.Timer {
	out := normTimers(in)
	slices.SortFunc(out, func(a, b store.Timer) int {
		if a.PatientID != b.PatientID {
			if a.PatientID < b.PatientID {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func normEscalations(in []store.Escalation) []store.Escalation {
	out := slices.Clone(in)
	for i := range out {
		out[i].OpenedAt = out[i].OpenedAt.UTC()
		out[i].Due = out[i].Due.UTC()
	}
	return out
}

func eventIDs(evs []store.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

func entryIDs(es []store.OutboxEntry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func timerNames(ts []store.Timer) []string {
	ids := make([]string, len(ts))
	for i, tm := range ts {
		ids[i] = tm.PatientID + "/" + tm.Name
	}
	return ids
}

func escalationIDs(es []store.Escalation) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// snapshot is everything a commit for patientID could have written, read
// back to prove that a failed commit wrote nothing.
type snapshot struct {
	Patient     store.Patient
	Session     store.Session
	LoadErr     string
	Timeline    []store.Event
	Timers      []store.Timer
	DueTimers   []store.Timer
	Escalations []store.Escalation
	Depth       int
}

func snap(t *testing.T, s store.Store, patientID string) snapshot {
	t.Helper()
	ctx := t.Context()
	var sn snapshot
	p, sess, err := s.Load(ctx, patientID)
	if err != nil {
		sn.LoadErr = err.Error()
	}
	sn.Patient, sn.Session = normPatient(p), sess
	if len(sn.Session.Data) == 0 {
		sn.Session.Data = nil
	}
	evs, err := s.Timeline(ctx, patientID)
	noErr(t, "Timeline", err)
	sn.Timeline = normEvents(evs)
	tms, err := s.Timers(ctx, patientID)
	noErr(t, "Timers", err)
	sn.Timers = sortTimers(tms)
	due, err := s.DueTimers(ctx, at(1000*time.Hour), 1000)
	noErr(t, "DueTimers", err)
	sn.DueTimers = normTimers(due)
	escs, err := s.Escalations(ctx, "")
	noErr(t, "Escalations", err)
	sn.Escalations = normEscalations(escs)
	sn.Depth, err = s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth", err)
	return sn
}

func sameSnap(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	for _, sl := range []*[]store.Event{&got.Timeline, &want.Timeline} {
		if len(*sl) == 0 {
			*sl = nil
		}
	}
	for _, sl := range []*[]store.Timer{&got.Timers, &want.Timers, &got.DueTimers, &want.DueTimers} {
		if len(*sl) == 0 {
			*sl = nil
		}
	}
	for _, sl := range []*[]store.Escalation{&got.Escalations, &want.Escalations} {
		if len(*sl) == 0 {
			*sl = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s wrote something:\nafter  %+v\nbefore %+v", what, got, want)
	}
}

func testReady(t *testing.T, s store.Store) {
	noErr(t, "Ready", s.Ready(t.Context()))
}

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

func testEscalations(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	esc := func(id, patient string, opened time.Duration, status string) store.Escalation {
		return store.Escalation{ID: id, PatientID: patient, Priority: "high", Reason: "blood pressure 190/120",
			OpenedAt: at(opened), Due: at(opened + 30*time.Minute), Status: status}
	}
	e1 := esc("x1", "p1", 3*time.Minute, "open")
	e2 := esc("x2", "p2", 2*time.Minute, "open")
	e3 := esc("x3", "p1", 1*time.Minute, "closed")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Escalations: []store.Escalation{e1}})
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Escalations: []store.Escalation{e2}})
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Escalations: []store.Escalation{e3}})

	list := func(status string) []store.Escalation {
		t.Helper()
		got, err := s.Escalations(ctx, status)
		noErr(t, "Escalations("+status+")", err)
		return normEscalations(got)
	}
	check(t, "open escalations", list("open"), []store.Escalation{e2, e1})
	check(t, "closed escalations", list("closed"), []store.Escalation{e3})
	check(t, "all escalations", list(""), []store.Escalation{e3, e2, e1})
	check(t, "escalations with an unused status", list("snoozed"), []store.Escalation(nil))

	// Closing a ticket is a commit that replaces it.
	e2.Status = "closed"
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Escalations: []store.Escalation{e2}})
	check(t, "open escalations after closing x2", list("open"), []store.Escalation{e1})
	check(t, "closed escalations after closing x2", list("closed"), []store.Escalation{e3, e2})
	check(t, "all escalations after closing x2", escalationIDs(list("")), []string{"x3", "x2", "x1"})
}

func testTimers(t *testing.T, s store.Store) {
	ctx := t.Context()
	enroll(t, s, "p1", "+15551230001")
	enroll(t, s, "p2", "+15551230002")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p1", Name: "reminder:amlodipine", Due: at(time.Hour)},
		{PatientID: "p1", Name: "reply-timeout", Due: at(2 * time.Hour)},
	}})
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p2", Name: "reply-timeout", Due: at(30 * time.Minute)},
	}})
	timers := func(patient string) []store.Timer {
		t.Helper()
		got, err := s.Timers(ctx, patient)
		noErr(t, "Timers", err)
		return sortTimers(got)
	}
	check(t, "timers of p1", timers("p1"), []store.Timer{
		{PatientID: "p1", Name: "reminder:amlodipine", Due: at(time.Hour)},
		{PatientID: "p1", Name: "reply-timeout", Due: at(2 * time.Hour)},
	})
	check(t, "timers of p2", timers("p2"), []store.Timer{{PatientID: "p2", Name: "reply-timeout", Due: at(30 * time.Minute)}})
	check(t, "timers of an unknown patient", timers("nobody"), []store.Timer(nil))

	// Setting an existing name moves the timer; it is not duplicated.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p1", Name: "reminder:amlodipine", Due: at(3 * time.Hour)},
	}})
	check(t, "timers of p1 after a move", timers("p1"), []store.Timer{
		{PatientID: "p1", Name: "reminder:amlodipine", Due: at(3 * time.Hour)},
		{PatientID: "p1", Name: "reply-timeout", Due: at(2 * time.Hour)},
	})
	due, err := s.DueTimers(ctx, at(2*time.Hour), 10)
	noErr(t, "DueTimers", err)
	check(t, "due timers after a move", timerNames(due), []string{"p2/reply-timeout", "p1/reply-timeout"})

	// Deleting a name (and a name that does not exist) by commit.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, DeleteTimers: []string{"reply-timeout", "never-set"}})
	check(t, "timers of p1 after a delete", timers("p1"), []store.Timer{
		{PatientID: "p1", Name: "reminder:amlodipine", Due: at(3 * time.Hour)},
	})
	check(t, "timers of p2 after p1's delete", timers("p2"), []store.Timer{{PatientID: "p2", Name: "reply-timeout", Due: at(30 * time.Minute)}})
	due, err = s.DueTimers(ctx, at(4*time.Hour), 10)
	noErr(t, "DueTimers", err)
	check(t, "due timers after a delete", timerNames(due), []string{"p2/reply-timeout", "p1/reminder:amlodipine"})
}

func testDueTimers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, p := range []string{"p1", "p2", "p3"} {
		enroll(t, s, p, "+1555123000"+strconv.Itoa(i))
	}
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p1", Name: "a", Due: at(40 * time.Minute)},
		{PatientID: "p1", Name: "b", Due: at(10 * time.Minute)},
	}})
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p2", Name: "a", Due: at(20 * time.Minute)},
		{PatientID: "p2", Name: "late", Due: at(24 * time.Hour)},
	}})
	commit(t, s, store.Commit{PatientID: "p3", Version: 1, SetTimers: []store.Timer{
		{PatientID: "p3", Name: "a", Due: at(30 * time.Minute)},
	}})
	dueAt := func(now time.Time, limit int) []store.Timer {
		t.Helper()
		got, err := s.DueTimers(ctx, now, limit)
		noErr(t, "DueTimers", err)
		return normTimers(got)
	}
	check(t, "due at 30m", dueAt(at(30*time.Minute), 10), []store.Timer{
		{PatientID: "p1", Name: "b", Due: at(10 * time.Minute)},
		{PatientID: "p2", Name: "a", Due: at(20 * time.Minute)},
		{PatientID: "p3", Name: "a", Due: at(30 * time.Minute)}, // due exactly now
	})
	check(t, "due at 30m, limit 2", timerNames(dueAt(at(30*time.Minute), 2)), []string{"p1/b", "p2/a"})
	check(t, "due before any", dueAt(at(5*time.Minute), 10), []store.Timer(nil))
	check(t, "due at 2h", timerNames(dueAt(at(2*time.Hour), 10)), []string{"p1/b", "p2/a", "p3/a", "p1/a"})

	// Due timers stay until a commit deletes them.
	check(t, "due at 2h, again", timerNames(dueAt(at(2*time.Hour), 10)), []string{"p1/b", "p2/a", "p3/a", "p1/a"})
}

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

func testOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	// now never goes backwards: a backend may forget keys that expired
	// before the latest now it was given.
	steps := []struct {
		key  string
		now  time.Duration
		want bool
	}{
		{"help:p1", 0, true},
		{"help:p1", 30 * time.Minute, false},
		{"help:p2", 30 * time.Minute, true}, // keys are independent
		{"help:p1", 59 * time.Minute, false},
		{"help:p1", 61 * time.Minute, true},  // the hour from the first call is over
		{"help:p2", 89 * time.Minute, false}, // p2's hour runs from 30m
		{"help:p1", 90 * time.Minute, false}, // a new window started at 61m
		{"help:p2", 91 * time.Minute, true},
		{"help:p1", 122 * time.Minute, true}, // fixed window: the call at 90m did not extend it
	}
	for i, st := range steps {
		got, err := s.Once(ctx, st.key, time.Hour, at(st.now))
		noErr(t, "Once", err)
		if got != st.want {
			t.Errorf("step %d: Once(%s, 1h, t0+%v) = %v, want %v", i, st.key, st.now, got, st.want)
		}
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

func testReopen(t *testing.T, reopen Opener) {
	ctx := t.Context()
	dir := t.TempDir()
	s := reopen(t, dir)
	p := enroll(t, s, "p1", "+15551230001")
	p.Telegram = "3001"
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p})
	noErr(t, "PutCode", s.PutCode(ctx, "reopen-code", "p1", at(time.Hour)))
	c := turn("p1", 1, 1)
	c.Outbox = append(c.Outbox, outEntry("o-later", "p1", at(time.Hour)))
	esc := store.Escalation{ID: "x1", PatientID: "p1", Priority: "acute", Reason: "chest pain", OpenedAt: t0, Due: at(15 * time.Minute), Status: "open"}
	c.Escalations = []store.Escalation{esc}
	commit(t, s, c)
	claimed, err := s.ClaimOutbox(ctx, at(time.Minute), 10)
	noErr(t, "ClaimOutbox", err)
	check(t, "claimed before Close", entryIDs(claimed), []string{"out-p1-1"})
	first, err := s.Once(ctx, "help:p1", time.Hour, t0)
	noErr(t, "Once", err)
	if !first {
		t.Fatal("Once of a new key: got false")
	}
	noErr(t, "Close", s.Close())

	s = reopen(t, dir)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	got, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load after reopen", err)
	check(t, "patient after reopen", normPatient(got), p)
	check(t, "session after reopen", sess, store.Session{Data: c.Session, Version: 2})
	got, err = s.PatientByPhone(ctx, "+15551230001")
	noErr(t, "PatientByPhone after reopen", err)
	check(t, "patient by phone after reopen", got.ID, "p1")
	got, err = s.PatientByTelegram(ctx, "3001")
	noErr(t, "PatientByTelegram after reopen", err)
	check(t, "patient by Telegram chat after reopen", normPatient(got), p)
	v, err := s.TakeCode(ctx, "reopen-code", at(time.Minute))
	noErr(t, "TakeCode after reopen", err)
	check(t, "code after reopen", v, "p1")
	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline after reopen", err)
	check(t, "timeline after reopen", normEvents(evs), c.Events)
	tms, err := s.Timers(ctx, "p1")
	noErr(t, "Timers after reopen", err)
	check(t, "timers after reopen", normTimers(tms), c.SetTimers)
	escs, err := s.Escalations(ctx, "open")
	noErr(t, "Escalations after reopen", err)
	check(t, "escalations after reopen", normEscalations(escs), []store.Escalation{esc})
	left, err := s.Claimed(ctx)
	noErr(t, "Claimed after reopen", err)
	check(t, "claimed after reopen", normEntries(left), normEntries(claimed))
	depth, err := s.OutboxDepth(ctx)
	noErr(t, "OutboxDepth after reopen", err)
	if depth != 2 {
		t.Errorf("OutboxDepth after reopen: got %d, want 2", depth)
	}
	pending, err := s.ClaimOutbox(ctx, at(2*time.Hour), 10)
	noErr(t, "ClaimOutbox after reopen", err)
	check(t, "pending after reopen", entryIDs(pending), []string{"o-later"})
	wantErr(t, "retry of a committed turn after reopen", s.Commit(ctx, c), store.ErrDuplicate)
	again, err := s.Once(ctx, "help:p1", time.Hour, at(time.Minute))
	noErr(t, "Once after reopen", err)
	if again {
		t.Error("Once after reopen forgot the key")
	}
}
