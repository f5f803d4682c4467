package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Timers role.

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
