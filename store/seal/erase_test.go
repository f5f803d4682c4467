package seal_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
	"github.com/tendcare/tend/store/seal"
)

// erased is the patient the erasure dump tests erase, and what only that
// patient has; kept is another patient, who stays.
const (
	erased = "erase-me-0001"
	kept   = "keep-me-0002"
)

var erasedPHI = []string{erased, "+15557770001", "furosemide", "ankles swollen", "heart-failure", "cardio-visit-77", "breathless at night", "code-of-erase-me"}

// writeForErasure gives patient id everything a store keeps of a
// patient, with PHI of its own when id is erased.
func writeForErasure(t *testing.T, s store.Store, id, phone string) {
	t.Helper()
	ctx := t.Context()
	med, text, reason, program := "amlodipine", "fine thanks", "missed doses", "hypertension"
	if id == erased {
		med, text, reason, program = "furosemide", "ankles swollen", "breathless at night", "heart-failure"
	}
	p := store.Patient{ID: id, Phone: phone, Language: "en", Timezone: "UTC", Channel: "sms", Programs: []string{program},
		Medications:  []store.Medication{{ID: med, Display: med + " 40 mg", Times: []string{"08:00"}}},
		Appointments: []store.Appointment{{ID: "cardio-visit-" + map[bool]string{true: "77", false: "12"}[id == erased], At: "2027-03-04T09:30"}},
		EnrolledAt:   t0}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("enroll", s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("s"),
		SetTimers: []store.Timer{{PatientID: id, Name: "med|" + med, Due: t0.Add(time.Hour)}}}))
	must("turn", s.Commit(ctx, store.Commit{PatientID: id, Version: 1, Session: []byte("s2"), DedupeKey: "twilio:SM-" + id,
		Events: []store.Event{{ID: "in-" + id, Type: "message.in", At: t0, Channel: "sms", Text: text},
			{ID: "esc-" + id, Type: "escalation", At: t0, Priority: "high", Reason: reason}},
		Outbox: []store.OutboxEntry{
			{ID: "o1-" + id, PatientID: id, Channel: "sms", To: phone, Text: "take your " + med, NotBefore: t0, CreatedAt: t0},
			{ID: "o2-" + id, PatientID: id, Channel: "sms", To: phone, Text: "take your " + med, NotBefore: t0.Add(time.Hour), CreatedAt: t0}},
		Escalations: []store.Escalation{{ID: "tk-" + id, PatientID: id, Priority: "high", Reason: reason, OpenedAt: t0, Due: t0.Add(time.Hour), Status: store.TicketOpen}},
	}))
	claimed, err := s.ClaimOutbox(ctx, t0, 10) // o1 stays claimed
	must("ClaimOutbox", err)
	if len(claimed) == 0 {
		t.Fatal("nothing claimed")
	}
	must("PutCode", s.PutCode(ctx, "code-of-"+strings.TrimSuffix(id, "-0001"), id, t0.Add(time.Hour)))
	_, err = s.AppendAudit(ctx, audit.Record{At: t0, Staff: "nurse@clinic.org", Action: audit.ViewTimeline, Patient: id, From: "10.0.0.1"})
	must("AppendAudit", err)
}

// checkErased fails when dump, all but the audit log, holds anything of
// the erased patient, or lacks the kept one (which shows the dump sees).
func checkErased(t *testing.T, dump string, sealed bool) {
	t.Helper()
	for _, w := range erasedPHI {
		if strings.Contains(dump, w) {
			t.Errorf("sealed=%v: %q is still in the store after erasure", sealed, w)
		}
	}
	if !strings.Contains(dump, kept) {
		t.Errorf("the dump lacks the kept patient %s: it cannot see", kept)
	}
	if !sealed && !strings.Contains(dump, "missed doses") {
		t.Errorf("the plain dump lacks the kept patient's reason: it cannot see")
	}
}

// TestEraseDump: after ErasePatient, no key or value of the embedded
// store but the audit log holds the erased patient's id or PHI, sealed or
// not. The check reads every bucket as bbolt holds it (freed pages of the
// file are not zeroed: see the README, "PHI at rest").
func TestEraseDump(t *testing.T) {
	t.Parallel()
	for _, sealed := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tend.db")
			var s store.Store = openEmbedded(t, path, embedded.Options{NoSync: true})
			if sealed {
				s = seal.Wrap(s, ring(t, keyLine("k1", 1)))
			}
			writeForErasure(t, s, erased, "+15557770001")
			writeForErasure(t, s, kept, "+15557770002")
			if err := s.(store.Eraser).ErasePatient(t.Context(), erased); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			checkErased(t, boltDump(t, path, "audit"), sealed)
		})
	}
}

// TestEraseDumpRedis is TestEraseDump on Redis: every key and value but
// the audit list.
func TestEraseDumpRedis(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	for _, sealed := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("erase%v", sealed)
			rs, err := redisstore.Open(t.Context(), redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix, Lease: -1})
			if err != nil {
				t.Fatal(err)
			}
			var s store.Store = rs
			if sealed {
				s = seal.Wrap(s, ring(t, keyLine("k1", 1)))
			}
			defer s.Close()
			writeForErasure(t, s, erased, "+15557770001")
			writeForErasure(t, s, kept, "+15557770002")
			if err := s.(store.Eraser).ErasePatient(t.Context(), erased); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, rec := range strings.Split(redisDump(t, addr, prefix), "\n") {
				// The audit list's key and its records, which stay.
				if !strings.Contains(rec, ":audit") && !strings.Contains(rec, `"action":`) {
					b.WriteString(rec + "\n")
				}
			}
			checkErased(t, b.String(), sealed)
		})
	}
}
