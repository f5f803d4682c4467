package adherence

import (
	"testing"
)

func day(t *testing.T, s string) Day {
	t.Helper()
	d, err := ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPDC works through the PQA definition by hand: each case says what
// the rule it shows does to the count of covered days.
func TestPDC(t *testing.T) {
	t.Parallel()
	type fill struct {
		med, date string
		days      int
	}
	cases := []struct {
		name     string
		from, to string
		fills    []fill
		// want
		index           string
		days, covered   int
		eligible, adher bool
		reason          string
	}{
		{
			// PQA's own fixture (pdc-dr.js): the second fill, collected
			// while 8 days of the first were left, starts 2018-10-03.
			// 2018-07-05..12-31 is 180 days, all covered; without the
			// shift the two would overlap and cover 172.
			name: "PQA fixture: early refill shifted", from: "2018-01-01", to: "2018-12-31",
			fills: []fill{{"lisinopril", "2018-07-05", 90}, {"lisinopril", "2018-09-25", 90}},
			index: "2018-07-05", days: 180, covered: 180, eligible: true, adher: true,
		},
		{
			// Jan 30 days, Mar 30 days, May 90 days: 150 of 365 days.
			name: "gaps", from: "2026-01-01", to: "2026-12-31",
			fills: []fill{{"metformin", "2026-01-01", 30}, {"metformin", "2026-03-01", 30}, {"metformin", "2026-05-01", 90}},
			index: "2026-01-01", days: 365, covered: 150, eligible: true,
		},
		{
			// 100 days (Jan 1 - Apr 10), 40 + 40 covered: 80 %, adherent.
			name: "exactly 80 %", from: "2026-01-01", to: "2026-04-10",
			fills: []fill{{"atorvastatin", "2026-01-01", 40}, {"atorvastatin", "2026-02-20", 40}},
			index: "2026-01-01", days: 100, covered: 80, eligible: true, adher: true,
		},
		{
			name: "one day under 80 %", from: "2026-01-01", to: "2026-04-10",
			fills: []fill{{"atorvastatin", "2026-01-01", 40}, {"atorvastatin", "2026-02-20", 39}},
			index: "2026-01-01", days: 100, covered: 79, eligible: true,
		},
		{
			// Three fills 30 days each, each collected early: shifted end
			// to end, Jan 1 - Mar 31, 90 of 120 days.
			name: "early refills of one medication chain", from: "2026-01-01", to: "2026-04-30",
			fills: []fill{{"lisinopril", "2026-01-01", 30}, {"lisinopril", "2026-01-20", 30}, {"lisinopril", "2026-02-10", 30}},
			index: "2026-01-01", days: 120, covered: 90, eligible: true,
		},
		{
			// A switch within the class: the rosuvastatin is not shifted
			// past the atorvastatin, the days overlap: Jan 1 - Feb 18.
			name: "overlap of two medications of a class is not shifted", from: "2026-01-01", to: "2026-04-30",
			fills: []fill{{"atorvastatin", "2026-01-01", 30}, {"rosuvastatin", "2026-01-20", 30}},
			index: "2026-01-01", days: 120, covered: 49, eligible: true,
		},
		{
			// Two fills of one medication on one day: the longer (90) counts,
			// not the sum; with the April fill 120 of 181 days.
			name: "same day: the longest supply counts", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"lisinopril", "2026-01-01", 30}, {"lisinopril", "2026-01-01", 90}, {"lisinopril", "2026-04-01", 30}},
			index: "2026-01-01", days: 181, covered: 120, eligible: true,
		},
		{
			// The December fill is before the period: not counted, and the
			// index is the first fill in the period (Feb 1). The March fill
			// starts Mar 3, after the February supply: 60 of 150 days.
			name: "fill before the period does not count", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"losartan", "2025-12-15", 90}, {"losartan", "2026-02-01", 30}, {"losartan", "2026-03-01", 30}},
			index: "2026-02-01", days: 150, covered: 60, eligible: true,
		},
		{
			// 90 days, then 120 of which 91 fall in the period.
			name: "supply past the end is cut off", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"metformin", "2026-01-01", 90}, {"metformin", "2026-04-01", 120}},
			index: "2026-01-01", days: 181, covered: 181, eligible: true, adher: true,
		},
		{
			name: "fill after the period does not count", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"metformin", "2026-01-01", 90}, {"metformin", "2026-04-01", 30}, {"metformin", "2026-07-01", 90}},
			index: "2026-01-01", days: 181, covered: 120, eligible: true,
		},
		{
			name: "one fill is not in the measure", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"metformin", "2026-01-01", 90}},
			index: "2026-01-01", days: 181, covered: 90, reason: ReasonOneFill,
		},
		{
			// Two medications on one date are one date of service.
			name: "two fills on one date are not two dates", from: "2026-01-01", to: "2026-06-30",
			fills: []fill{{"lisinopril", "2026-01-01", 30}, {"losartan", "2026-01-01", 30}},
			index: "2026-01-01", days: 181, covered: 30, reason: ReasonOneFill,
		},
		{
			// Oct 15 is 77 days before Dec 31: fewer than 91.
			name: "index fill too close to the end", from: "2026-01-01", to: "2026-12-31",
			fills: []fill{{"lisinopril", "2026-10-15", 30}, {"lisinopril", "2026-11-14", 30}},
			index: "2026-10-15", days: 78, covered: 60, reason: ReasonShortPeriod,
		},
		{
			name: "no fills", from: "2026-01-01", to: "2026-12-31",
			reason: ReasonNoFills,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var fills []Fill
			for _, f := range c.fills {
				fills = append(fills, Fill{Medication: f.med, Date: day(t, f.date), Days: f.days})
			}
			got := PDC("class", fills, day(t, c.from), day(t, c.to), 0.80)
			if c.index != "" && got.Index != day(t, c.index) {
				t.Errorf("index %s, want %s", got.Index, c.index)
			}
			if got.Days != c.days || got.Covered != c.covered {
				t.Errorf("%d of %d days covered, want %d of %d (supply %+v)", got.Covered, got.Days, c.covered, c.days, got.Supply)
			}
			if got.Eligible != c.eligible || got.Reason != c.reason || got.Adherent != c.adher {
				t.Errorf("eligible %v (%q) adherent %v, want %v (%q) %v", got.Eligible, got.Reason, got.Adherent, c.eligible, c.reason, c.adher)
			}
			if want := float64(c.covered) / float64(c.days); c.eligible && got.PDC != want {
				t.Errorf("PDC %v, want %v", got.PDC, want)
			}
			if !c.eligible && got.PDC != 0 {
				t.Errorf("PDC %v out of the measure, want 0", got.PDC)
			}
		})
	}
}

// TestPDCShiftedStart checks the date PQA's fixture expects the second
// supply to start on.
func TestPDCShiftedStart(t *testing.T) {
	t.Parallel()
	fills := []Fill{{"lisinopril", day(t, "2018-07-05"), 90}, {"lisinopril", day(t, "2018-09-25"), 90}}
	got := PDC("ras_antagonists", fills, day(t, "2018-01-01"), day(t, "2018-12-31"), 0.80)
	if len(got.Supply) != 2 {
		t.Fatalf("supply %+v", got.Supply)
	}
	if s := got.Supply[1]; s.First != day(t, "2018-10-03") || s.Last != day(t, "2018-12-31") {
		t.Errorf("second supply %s..%s, want 2018-10-03..2018-12-31", s.First, s.Last)
	}
}

func TestParseDay(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "2026-2-1", "2026-02-30", "01/02/2026", "2026-02-01T00:00"} {
		if _, err := ParseDay(bad); err == nil {
			t.Errorf("ParseDay(%q): no error", bad)
		}
	}
	if d := day(t, "1970-01-02"); d != 1 {
		t.Errorf("1970-01-02 is day %d", d)
	}
	if s := day(t, "2024-02-29").String(); s != "2024-02-29" {
		t.Errorf("round trip %s", s)
	}
}
