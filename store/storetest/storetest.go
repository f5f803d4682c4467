package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
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
//   - a dead letter is in no other list (pending, claimed, the depth) until
//     Resend; DeletePatient removes a patient's dead letters, and a commit
//     of an entry with a dead letter's ID replaces it with a pending one;
//   - the address index works as the phone index, per channel: a commit
//     taking an address (a Telegram chat) that another enrolled patient has
//     on the same channel fails with ErrAddressTaken and writes nothing,
//     re-enrollment moves the index, an empty address is none, and
//     DeletePatient frees it; one address on two channels is two addresses;
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
		{"PageEntry", testPageEntry},
		{"CommitWithoutEnrollment", testNotEnrolled},
		{"PatientByPhone", testPhone},
		{"PhoneTaken", testPhoneTaken},
		{"PatientByAddress", testAddresses},
		{"AddressTaken", testAddressTaken},
		{"AddressChannels", testAddressChannels},
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
		{"DeadLetters", testDeadLetters},
		{"DeadLetterPaging", testDeadLetterPaging},
		{"DeadLetterIndexes", testDeadLetterIndexes},
		{"OutboxPatient", testOutboxPatient},
		{"DeletePatient", testDelete},
		{"ErasePatient", testErase},
		{"ListPatients", testListPatients},
		{"Once", testOnce},
		{"Codes", testCodes},
		{"CodesConcurrent", testCodesConcurrent},
		{"ConcurrentCommits", testConcurrent},
		{"Staff", testStaff},
		{"Audit", testAudit},
		{"Logins", testLogins},
		{"Jobs", testJobs},
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
		ID:         id,
		PatientID:  patientID,
		Channel:    "sms",
		To:         "+15550000000",
		Text:       "Thank you",
		MessageID:  "reply.thanks",
		Choices:    []string{"yes", "no"},
		Labels:     []string{"Yes, I took amlodipine", "No"},
		Step:       7,
		Template:   "HX0123456789abcdef0123456789abcdef",
		Vars:       []string{"Amlodipine 5 mg", "08:00"},
		Timezone:   "America/New_York",
		Reply:      true,
		NotBefore:  notBefore,
		CreatedAt:  t0,
		StaleAfter: t0.Add(2 * time.Hour),
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
		out[i].StaleAfter = out[i].StaleAfter.UTC()
		out[i].RetryUntil = out[i].RetryUntil.UTC()
		out[i].FailedAt = out[i].FailedAt.UTC()
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
		out[i].ClaimedAt, out[i].ResolvedAt = out[i].ClaimedAt.UTC(), out[i].ResolvedAt.UTC()
		out[i].AckedAt = out[i].AckedAt.UTC()
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

func testReopen(t *testing.T, reopen Opener) {
	ctx := t.Context()
	dir := t.TempDir()
	s := reopen(t, dir)
	p := enroll(t, s, "p1", "+15551230001")
	p.SetAddress("telegram", "3001")
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
	got, err = s.PatientByAddress(ctx, "telegram", "3001")
	noErr(t, "PatientByAddress after reopen", err)
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
