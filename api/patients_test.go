package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tendcare/tend/audit"
)

// TestErasePatient: DELETE ?erase=true removes everything of the patient
// (the timeline too, which an unenrollment keeps), is audited with who
// and from where, and leaves other patients alone; an unknown patient is a
// 404, a bad erase value a 400.
func TestErasePatient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.enroll(patient("p1", "+15551230001"))
	e.enroll(patient("p2", "+15551230002"))
	e.enroll(patient("p3", "+15551230003"))

	status, body := e.call("DELETE", "/patients/p1?erase=maybe", "")
	wantError(t, status, body, http.StatusBadRequest, "erase")
	status, body = e.call("DELETE", "/patients/p1?erase=true", "")
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE ?erase=true: status %d body %q, want 204 and no body", status, body)
	}
	if evs := e.timeline("p1"); len(evs) != 0 {
		t.Errorf("p1's timeline after erasure: %+v", evs)
	}
	status, body = e.call("GET", "/patients/p1/timeline", "")
	wantError(t, status, body, http.StatusNotFound, `"p1"`)
	if timers, err := e.st.Timers(ctx, "p1"); err != nil || len(timers) != 0 {
		t.Errorf("p1's timers after erasure: %v (%v)", timers, err)
	}
	if n, _ := e.st.OutboxDepth(ctx); n != 2 {
		t.Errorf("outbox depth %d after erasure, want 2 (the others' welcomes)", n)
	}
	status, body = e.call("DELETE", "/patients/p1?erase=true", "")
	wantError(t, status, body, http.StatusNotFound, `"p1"`)
	status, body = e.call("DELETE", "/patients/nobody?erase=true", "")
	wantError(t, status, body, http.StatusNotFound, `"nobody"`)

	// Without erase=true a delete unenrolls and keeps the timeline; an
	// erasure after it removes that too.
	if status, body := e.call("DELETE", "/patients/p2?erase=false", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE p2: status %d body %s", status, body)
	}
	if evs := e.timeline("p2"); len(evs) == 0 {
		t.Fatal("p2's timeline went with the unenrollment")
	}
	if status, body := e.call("DELETE", "/patients/p2?erase=true", ""); status != http.StatusNoContent {
		t.Fatalf("erase p2 after unenrolling: status %d body %s", status, body)
	}
	if evs := e.timeline("p2"); len(evs) != 0 {
		t.Errorf("p2's timeline after erasure: %+v", evs)
	}
	if evs := e.timeline("p3"); len(evs) == 0 {
		t.Error("p3's timeline went with the others' erasure")
	}

	recs, err := e.runner.AuditRecords(ctx, audit.Filter{Patient: "p1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var erased *audit.Record
	for i := range recs {
		if recs[i].Action == audit.ErasePatient {
			erased = &recs[i]
			break
		}
	}
	if erased == nil || erased.Staff == "" || erased.From == "" {
		t.Fatalf("no erase_patient record with who and from where for p1: %+v", recs)
	}
	if len(recs) < 2 || recs[0].Action != audit.Enroll {
		t.Errorf("the audit log lost p1's earlier records: %+v", recs)
	}
}
