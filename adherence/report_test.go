package adherence

import (
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/store"
)

type classes map[string]string

func (c classes) Class(med string) (string, float64, bool) {
	med = strings.ToLower(med)
	for k, v := range c {
		if strings.HasPrefix(med, k) {
			return v, 0.80, true
		}
	}
	return med, 0.80, false
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("America/Chicago")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	events := []store.Event{
		{Type: "dispense", Medication: "Lisinopril", Date: "2026-01-01", Days: 90},
		{Type: "dispense", Medication: "lisinopril", Date: "2026-03-20", Days: 90},
		{Type: "dispense", Medication: "atorvastatin", Date: "2026-01-05", Days: 30},
		{Type: "dispense", Medication: "atorvastatin", Date: "2025-12-01", Days: 30}, // before the period
		{Type: "adherence", Medication: "m1", Status: "taken", At: at("2026-01-02 08:10")},
		{Type: "adherence", Medication: "m1", Status: "not_yet", At: at("2026-01-03 08:10")},
		{Type: "adherence", Medication: "m1", Status: "not_taken", At: at("2026-01-03 09:00")},
		{Type: "adherence", Medication: "m1", Status: "missed", At: at("2026-01-04 10:00")}, // recorded before no_answer existed
		{Type: "adherence", Medication: "m1", Status: "no_answer", At: at("2026-01-05 10:00")},
		{Type: "adherence", Medication: "m1", Status: "undelivered", At: at("2026-01-06 10:00")},
		{Type: "adherence", Medication: "m1", Status: "taken", At: at("2025-12-31 23:30")}, // the day before, local time
		{Type: "adherence", Medication: "m2", Status: "taken", At: at("2026-06-30 23:30")},
		{Type: "message.out", Medication: "m1", Status: "taken"},
	}
	enrolled := []enrollment.Medication{{ID: "m1", Display: "Lisinopril 10 mg"}, {ID: "m2", Display: "Metformin 500 mg"}}
	from, to := day(t, "2026-01-01"), day(t, "2026-06-30")
	rep := Summarize(events, enrolled, classes{"lisinopril": "ras", "metformin": "diabetes"}, from, to, loc)
	if len(rep.Medications) != 3 {
		t.Fatalf("medications %+v, want atorvastatin, m1, m2", rep.Medications)
	}
	ator, m1, m2 := rep.Medications[0], rep.Medications[1], rep.Medications[2]
	if ator.Medication != "atorvastatin" || ator.PDC == nil || ator.PDC.Reason != ReasonOneFill || ator.PDC.Covered != 30 {
		t.Errorf("atorvastatin %+v %+v: want one fill in the period", ator, ator.PDC)
	}
	if m1.Medication != "m1" || m1.Class != "ras" || m1.PDC == nil {
		t.Fatalf("m1 %+v: want the lisinopril fills in class ras", m1)
	}
	// Jan 1 - Mar 31, then Apr 1 - Jun 29 (the second fill shifted): 180 of 181 days.
	if p := m1.PDC; !p.Eligible || p.Covered != 180 || p.Days != 181 || !p.Adherent {
		t.Errorf("m1 PDC %+v, want 180 of 181 days", p)
	}
	if want := (Doses{Taken: 1, NotTaken: 2, NoAnswer: 1, Undelivered: 1}); m1.Doses != want {
		t.Errorf("m1 doses %+v, want %+v", m1.Doses, want)
	}
	if m1.Doses.Prompted() != 4 || m1.Doses.Answered() != 3 {
		t.Errorf("prompted %d answered %d", m1.Doses.Prompted(), m1.Doses.Answered())
	}
	if m2.Class != "diabetes" || m2.PDC != nil || m2.Doses.Taken != 1 {
		t.Errorf("m2 %+v: want doses only, class by its display", m2)
	}
}

// TestClassPDCs: two statins make one class, an unknown medicine its own.
func TestClassPDCs(t *testing.T) {
	t.Parallel()
	fills := []Fill{
		{"lisinopril", day(t, "2026-01-01"), 90}, {"lisinopril", day(t, "2026-04-01"), 90},
		{"Furosemide", day(t, "2026-01-01"), 30}, {"furosemide", day(t, "2026-03-01"), 30},
	}
	got := ClassPDCs(fills, classes{"lisinopril": "ras"}, day(t, "2026-01-01"), day(t, "2026-06-30"))
	if r := got["ras"]; !r.Eligible || r.Covered != 180 || r.Days != 181 {
		t.Errorf("ras %+v", r)
	}
	if r := got["furosemide"]; !r.Eligible || r.Covered != 60 || r.Adherent {
		t.Errorf("furosemide %+v", r)
	}
	if len(got) != 2 {
		t.Errorf("classes %v", got)
	}
}
