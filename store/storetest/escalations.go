package storetest

import (
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Tickets role: escalations.

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

	// One ticket by id, claimed: its new fields round-trip.
	e1.Status, e1.Owner, e1.Team, e1.ClaimedAt = "claimed", "nurse@clinic.org", "north", at(4*time.Minute)
	e1.AckedBy, e1.AckedAt = "+15550001111", at(3*time.Minute)
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Escalations: []store.Escalation{e1}})
	got, err := s.Escalation(ctx, "x1")
	noErr(t, "Escalation(x1)", err)
	check(t, "Escalation(x1)", normEscalations([]store.Escalation{got}), normEscalations([]store.Escalation{e1}))
	_, err = s.Escalation(ctx, "nope")
	wantErr(t, "Escalation(nope)", err, store.ErrNotFound)

	// A reopened ticket is listed under its own status, not under open
	// (the Runner lists both as waiting), and leaves resolved.
	e2.Status = store.TicketResolved
	e2.ResolvedAt = at(5 * time.Minute)
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Escalations: []store.Escalation{e2}})
	check(t, "resolved escalations", list(store.TicketResolved), []store.Escalation{e2})
	e2.Status, e2.ResolvedAt, e2.Due = store.TicketReopened, time.Time{}, at(6*time.Minute+24*time.Hour)
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Escalations: []store.Escalation{e2}})
	check(t, "reopened escalations", list(store.TicketReopened), []store.Escalation{e2})
	check(t, "resolved escalations after reopening x2", list(store.TicketResolved), []store.Escalation(nil))
	check(t, "open escalations with x2 reopened", list(store.TicketOpen), []store.Escalation(nil))
	if got, err := s.Escalation(ctx, "x2"); err != nil || !got.Waiting() || !got.Due.Equal(e2.Due) {
		t.Fatalf("Escalation(x2) after reopening: %+v %v, want it reopened (waiting) with the new deadline", got, err)
	}
}
