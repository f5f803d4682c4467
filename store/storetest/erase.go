package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

// writePatientData gives patient id (phone) one of everything a store
// keeps of a patient: enrollment, session, timers, timeline, a pending, a
// claimed and a dead outbox entry, a ticket, a dedupe key and a
// single-use code. It returns the dedupe key.
func writePatientData(t *testing.T, s store.Store, id, phone string) string {
	t.Helper()
	ctx := t.Context()
	enroll(t, s, id, phone)
	c := turn(id, 1, 1)
	c.Outbox = append(c.Outbox, outEntry("claimed-"+id, id, at(0)), outEntry("dead-"+id, id, at(0)), outEntry("later-"+id, id, at(time.Hour)))
	c.Escalations = []store.Escalation{{ID: "tk-" + id, PatientID: id, Priority: "high", Reason: "chest pain", OpenedAt: t0, Due: at(time.Hour), Status: store.TicketOpen}}
	commit(t, s, c)
	claimed, err := s.ClaimOutbox(ctx, at(time.Minute), 10)
	noErr(t, "ClaimOutbox", err)
	for _, e := range claimed {
		if e.ID == "dead-"+id {
			noErr(t, "Finish (dead)", s.Finish(ctx, e, store.Delivery{DeadAt: at(time.Minute), Reason: "rejected"}))
		}
	}
	noErr(t, "PutCode", s.PutCode(ctx, "code-"+id, id, at(time.Hour)))
	return c.DedupeKey
}

// testErase: ErasePatient removes everything of one patient but the audit
// log and leaves other patients alone.
func testErase(t *testing.T, s store.Store) {
	er, ok := s.(store.Eraser)
	if !ok {
		t.Skip("the store does not implement store.Eraser")
	}
	ctx := t.Context()
	dedupe := writePatientData(t, s, "p1", "+15550000001")
	writePatientData(t, s, "p2", "+15550000002")
	_, err := s.AppendAudit(ctx, audit.Record{At: t0, Staff: "nurse@clinic.org", Action: audit.ViewTimeline, Patient: "p1", From: "10.0.0.1"})
	noErr(t, "AppendAudit", err)

	noErr(t, "ErasePatient", er.ErasePatient(ctx, "p1"))
	wantErr(t, "ErasePatient again", er.ErasePatient(ctx, "p1"), store.ErrNotFound)
	wantErr(t, "ErasePatient(unknown)", er.ErasePatient(ctx, "nobody"), store.ErrNotFound)

	_, _, err = s.Load(ctx, "p1")
	wantErr(t, "Load", err, store.ErrNotFound)
	_, err = s.PatientByPhone(ctx, "+15550000001")
	wantErr(t, "PatientByPhone", err, store.ErrNotFound)
	if evs, err := s.Timeline(ctx, "p1"); err != nil || len(evs) != 0 {
		t.Fatalf("Timeline after erasure: %+v %v", evs, err)
	}
	if tms, err := s.Timers(ctx, "p1"); err != nil || len(tms) != 0 {
		t.Fatalf("Timers after erasure: %+v %v", tms, err)
	}
	_, err = s.Escalation(ctx, "tk-p1")
	wantErr(t, "Escalation", err, store.ErrNotFound)
	escs, err := s.Escalations(ctx, "")
	noErr(t, "Escalations", err)
	if len(escs) != 1 || escs[0].PatientID != "p2" {
		t.Fatalf("Escalations after erasing p1: %+v", escs)
	}
	_, err = s.TakeCode(ctx, "code-p1", at(time.Minute))
	wantErr(t, "TakeCode", err, store.ErrNotFound)
	// p2's entries: one claimed (out-), one claimed (claimed-), one later,
	// and one dead letter; p1 has none left anywhere.
	for what, list := range map[string]func() ([]store.OutboxEntry, error){
		"Claimed":     func() ([]store.OutboxEntry, error) { return s.Claimed(ctx) },
		"DeadLetters": func() ([]store.OutboxEntry, error) { return s.DeadLetters(ctx, "", 0) },
		"ClaimOutbox": func() ([]store.OutboxEntry, error) { return s.ClaimOutbox(ctx, at(2*time.Hour), 100) },
	} {
		got, err := list()
		noErr(t, what, err)
		for _, e := range got {
			if e.PatientID == "p1" {
				t.Errorf("%s after erasure lists %s of p1", what, e.ID)
			}
		}
		if len(got) == 0 {
			t.Errorf("%s lists none of p2's entries", what)
		}
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 3 {
		t.Errorf("OutboxDepth after erasure: %d %v, want p2's 3", n, err)
	}
	// Status reports on p1's messages find no patient; p2's still do.
	for _, id := range []string{"out-p1-1", "claimed-p1", "dead-p1", "later-p1"} {
		_, err := s.OutboxPatient(ctx, id)
		wantErr(t, "OutboxPatient("+id+") after erasure", err, store.ErrNotFound)
	}
	if pid, err := s.OutboxPatient(ctx, "later-p2"); err != nil || pid != "p2" {
		t.Errorf("OutboxPatient(later-p2) after erasing p1: %q %v", pid, err)
	}
	// The dedupe key of p1's turn is forgotten: enrolled again, the same
	// turn commits.
	enroll(t, s, "p1", "+15550000001")
	if err := s.Commit(ctx, turn("p1", 1, 1)); errors.Is(err, store.ErrDuplicate) {
		t.Errorf("the dedupe key %q of the erased patient is still known", dedupe)
	} else {
		noErr(t, "Commit after erasure", err)
	}
	// p2 is whole, and the audit log is kept.
	p2, _, err := s.Load(ctx, "p2")
	noErr(t, "Load(p2)", err)
	if evs, err := s.Timeline(ctx, "p2"); err != nil || len(evs) != 2 || p2.Phone != "+15550000002" {
		t.Errorf("p2 after erasing p1: %+v %+v %v", p2, evs, err)
	}
	if v, err := s.TakeCode(ctx, "code-p2", at(time.Minute)); err != nil || v != "p2" {
		t.Errorf("p2's code after erasing p1: %q %v", v, err)
	}
	n := 0
	noErr(t, "AuditRecords", s.AuditRecords(ctx, func(r audit.Record) error {
		if r.Patient == "p1" {
			n++
		}
		return nil
	}))
	if n != 1 {
		t.Errorf("audit records of p1 after erasure: %d, want 1", n)
	}
}
