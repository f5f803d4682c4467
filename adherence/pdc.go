package adherence

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Day is a calendar date as days since 1970-01-01: fills are dated by the
// day, and PDC counts days, so date arithmetic is integer arithmetic.
type Day int32

// ParseDay reads a YYYY-MM-DD date.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != len(time.DateOnly) {
		return 0, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return DayOf(t), nil
}

// DayOf is the calendar date of t in t's location.
func DayOf(t time.Time) Day {
	y, m, d := t.Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time is the day's midnight in loc.
func (d Day) Time(loc *time.Location) time.Time {
	t := time.Unix(int64(d)*86400, 0).UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

func (d Day) String() string { return d.Time(time.UTC).Format(time.DateOnly) }

// Fill is one dispense of a medication: the date it was handed over and
// the days it supplies.
type Fill struct {
	Medication string
	Date       Day
	Days       int
}

// MinTreatmentDays is PQA's shortest treatment period: the index fill must
// be at least 91 days before the end of the measurement period, or the
// patient is not in the measure.
const MinTreatmentDays = 91

// Reasons a class has no PDC (Result.Reason).
const (
	// ReasonNoFills: no fill of the class is dated in the period.
	ReasonNoFills = "no_fills"
	// ReasonOneFill: PQA counts a patient with at least two fills on
	// different dates in the period; one fill says nothing of refilling.
	ReasonOneFill = "one_fill"
	// ReasonShortPeriod: the index fill is less than MinTreatmentDays
	// before the end of the period.
	ReasonShortPeriod = "short_period"
)

// Result is one class's PDC over a measurement period.
type Result struct {
	Class     string
	Threshold float64
	// Fills counts the class's fills dated in the period (after keeping
	// the longest of one medication's fills on one day).
	Fills int
	// Index is the first fill in the period; the treatment period runs
	// from it to the period's end, Days days, Covered of them with the
	// class on hand.
	Index   Day
	Days    int
	Covered int
	// PDC is Covered ÷ Days; Adherent is PDC ≥ Threshold. Both are set
	// only when Eligible; otherwise Reason says why not (ReasonOneFill,
	// ReasonShortPeriod) and PDC is 0.
	PDC      float64
	Adherent bool
	Eligible bool
	Reason   string
	// Supply is each counted fill as it was counted: shifted past the
	// supply on hand of the same medication and cut at the period's end,
	// in medication and date order (the fill timeline a pharmacist
	// checks).
	Supply []Span
}

// Span is a fill's supply as PDC counts it: from First to Last, both
// included; Last < First when nothing of it falls in the period.
type Span struct {
	Medication  string
	Filled      Day
	First, Last Day
}

// PDC computes the proportion of days covered of one class over the
// measurement period [from, to] (both days included) by the PQA method:
//
//   - Only fills dated in the period count. The index fill is the first of
//     them, and the treatment period runs from it to the end of the period.
//   - A patient is in the measure with at least two fills on different
//     dates, the index fill at least 91 days (MinTreatmentDays) before the
//     end; otherwise the result is not Eligible and says why.
//   - Of several fills of one medication on one day, the one with the
//     longest supply counts.
//   - A fill of a medication that is still on hand from an earlier fill of
//     the same medication starts the day after that supply ends (the
//     patient finishes one before opening the next); fills of different
//     medications of the class are not shifted: they overlap.
//   - A day counts as covered when any medication of the class is on hand;
//     supply past the end of the period is cut off.
//
// fills must all be of the class; threshold is the class's (0.80).
func PDC(class string, fills []Fill, from, to Day, threshold float64) Result {
	res := Result{Class: class, Threshold: threshold}
	in := make([]Fill, 0, len(fills))
	for _, f := range fills {
		if f.Date >= from && f.Date <= to && f.Days > 0 {
			in = append(in, f)
		}
	}
	slices.SortFunc(in, func(a, b Fill) int {
		return cmp.Or(cmp.Compare(a.Medication, b.Medication), cmp.Compare(a.Date, b.Date), cmp.Compare(b.Days, a.Days))
	})
	// The longest fill of a medication on a day: the first after the sort.
	in = slices.CompactFunc(in, func(a, b Fill) bool { return a.Medication == b.Medication && a.Date == b.Date })
	res.Fills = len(in)
	if len(in) == 0 {
		res.Reason = ReasonNoFills
		return res
	}
	res.Index = in[0].Date
	dates := map[Day]bool{}
	for _, f := range in {
		res.Index = min(res.Index, f.Date)
		dates[f.Date] = true
	}
	res.Days = int(to-res.Index) + 1
	covered := make([]bool, res.Days)
	var until Day // the day after the current medication's supply ends
	for i, f := range in {
		if i == 0 || in[i-1].Medication != f.Medication {
			until = f.Date
		}
		start := max(f.Date, until)
		until = start + Day(f.Days)
		last := min(until-1, to)
		res.Supply = append(res.Supply, Span{Medication: f.Medication, Filled: f.Date, First: start, Last: last})
		for d := start; d <= last; d++ {
			covered[d-res.Index] = true
		}
	}
	for _, c := range covered {
		if c {
			res.Covered++
		}
	}
	switch {
	case len(dates) < 2:
		res.Reason = ReasonOneFill
	case res.Days-1 < MinTreatmentDays:
		res.Reason = ReasonShortPeriod
	default:
		res.Eligible = true
		res.PDC = float64(res.Covered) / float64(res.Days)
		// Compared in whole days, so that 80 of 100 is adherent at 0.80
		// whatever the floating point says.
		res.Adherent = float64(res.Covered) >= threshold*float64(res.Days)-1e-9
	}
	return res
}

// ClassPDCs computes the PDC of every class the fills fall in over
// [from, to]: each fill in its class (classes; a medication no class
// names is a class of its own), each class by PDC. It is what a caller
// holding fills outside a timeline (the risk score) asks.
func ClassPDCs(fills []Fill, classes Classes, from, to Day) map[string]Result {
	type class struct {
		threshold float64
		fills     []Fill
	}
	by := map[string]*class{}
	for _, f := range fills {
		f.Medication = strings.Join(strings.Fields(strings.ToLower(f.Medication)), " ")
		id, threshold, ok := classes.Class(f.Medication)
		if !ok {
			id = f.Medication
		}
		if by[id] == nil {
			by[id] = &class{threshold: threshold}
		}
		by[id].fills = append(by[id].fills, f)
	}
	out := make(map[string]Result, len(by))
	for id, c := range by {
		out[id] = PDC(id, c.fills, from, to, c.threshold)
	}
	return out
}
