package conversations

import (
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/enrollment"
)

// Rules a start can break (the "rule" of a capped timeline event and of
// tend_capped_starts_total).
const (
	CapPerDay  = "per_day"  // the program's daily cap, all purposes together
	CapFCCDay  = "fcc_day"  // FCC: one start a day per purpose
	CapFCCWeek = "fcc_week" // FCC: three starts in seven days per purpose
)

// What becomes of a start over a cap (the "outcome").
const (
	CapDeferred = "deferred" // tried again on the first local day it fits
	CapDropped  = "dropped"  // it would be stale by then (a dose reminder)
)

// CapRules and CapOutcomes are the fixed label sets of the capped-starts
// metric. (Functions, so that no caller can change them for everyone.)
func CapRules() []string    { return []string{CapPerDay, CapFCCDay, CapFCCWeek} }
func CapOutcomes() []string { return []string{CapDeferred, CapDropped} }

// keepStarts is how long a counted start is remembered: the FCC week and
// a day's slack for time zones.
const keepStarts = 8 * 24 * time.Hour

// CapsOf are the caps a patient's programs give: the smallest daily cap of
// them, and the FCC caps when any program opts in. The renderer promises
// the same number ({{.PerDay}}), so what the patient is told is what the
// Runner enforces.
func CapsOf(pack *content.Pack, p *enrollment.Patient) content.Caps {
	day, fcc, found := 0, false, false
	for _, id := range p.Programs {
		pr := pack.Programs[id]
		if pr == nil {
			continue
		}
		if n := pr.Caps.Day(); !found || n < day {
			day = n
		}
		found = true
		fcc = fcc || pr.Caps.FCC
	}
	if !found {
		return content.Caps{}
	}
	return content.Caps{PerDay: &day, FCC: fcc}
}

// CapDecision is what the caps say of one start.
type CapDecision struct {
	Allowed bool
	// Outcome and Rule say why a start was refused, and Until when it
	// fits again: the same local clock time on the first day no cap
	// refuses it (for a deferred start).
	Outcome, Rule string
	Until         time.Time
}

// DecideCap decides a start of a flow with purpose now, given the
// session's tallies (the starts so far) and the patient's caps. A start
// refused by a cap is deferred to the first local day (in loc) it fits,
// or dropped when that is after stale (zero: never stale). It is pure:
// the Runner counts the start (Session.CountStart) when it makes it.
func DecideCap(tallies []Tally, caps content.Caps, purpose string, stale, now time.Time, loc *time.Location) CapDecision {
	today := dayStart(now, loc)
	var all, mine []int64 // starts today, all purposes; this purpose's, this week
	weekStart := addDays(today, -6).Unix()
	for _, t := range tallies {
		p, ok := strings.CutPrefix(t.Name, content.StartTally)
		if !ok {
			continue
		}
		for _, x := range t.Times {
			if x >= today.Unix() {
				all = append(all, x)
			}
			if p == purpose && x >= weekStart {
				mine = append(mine, x)
			}
		}
	}
	slices.Sort(mine)
	d := CapDecision{Allowed: true}
	refuse := func(rule string, day time.Time) {
		if d.Allowed || day.After(d.Until) {
			d.Allowed, d.Rule, d.Until = false, rule, day
		}
	}
	tomorrow := addDays(today, 1)
	if len(all) >= caps.Day() {
		refuse(CapPerDay, tomorrow)
	}
	if caps.FCC {
		if countSince(mine, today.Unix()) >= content.FCCPerDay {
			refuse(CapFCCDay, tomorrow)
		}
		if k := len(mine); k >= content.FCCPerWeek {
			// The week of day D holds D-6..D: the start that must leave
			// it is the FCCPerWeek-th newest.
			refuse(CapFCCWeek, addDays(dayStart(time.Unix(mine[k-content.FCCPerWeek], 0), loc), 7))
		}
	}
	if d.Allowed {
		return d
	}
	l := now.In(loc)
	d.Until = localTime(d.Until.Year(), d.Until.Month(), d.Until.Day(), l.Hour(), l.Minute(), loc)
	d.Outcome = CapDeferred
	if !stale.IsZero() && d.Until.After(stale) {
		d.Outcome = CapDropped
	}
	return d
}

// CountStart records a conversation Tend started now for purpose, and
// forgets the starts no cap looks at any more.
func (s *Session) CountStart(purpose string, now time.Time) {
	name := content.StartTally + purpose
	since := now.Add(-keepStarts).Unix()
	for i := range s.Tallies {
		if strings.HasPrefix(s.Tallies[i].Name, content.StartTally) {
			s.Tallies[i].Times = slices.DeleteFunc(s.Tallies[i].Times, func(x int64) bool { return x < since })
		}
	}
	i := slices.IndexFunc(s.Tallies, func(t Tally) bool { return t.Name == name })
	if i < 0 {
		s.Tallies = append(s.Tallies, Tally{Name: name})
		i = len(s.Tallies) - 1
	}
	s.Tallies[i].Times = append(s.Tallies[i].Times, now.Unix())
	s.Tallies = slices.DeleteFunc(s.Tallies, func(t Tally) bool {
		return strings.HasPrefix(t.Name, content.StartTally) && len(t.Times) == 0
	})
}

// Has reports whether a start of flow with params is already there:
// active, queued or held for a person. Starting it again changes nothing,
// so it is not counted again.
func (s *Session) Has(flow string, params []Param) bool {
	if s.Flow == flow && sameParams(s.Params, params) {
		return true
	}
	for _, q := range s.Queue {
		if q.Flow == flow && sameParams(q.Params, params) {
			return true
		}
	}
	for _, h := range s.Held {
		if h.Flow == flow && sameParams(h.Params, params) {
			return true
		}
	}
	return false
}

func countSince(sorted []int64, since int64) int {
	i, _ := slices.BinarySearch(sorted, since)
	return len(sorted) - i
}

// dayStart is local midnight of t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// addDays moves a local midnight by n calendar days (not n×24 hours,
// which daylight-saving changes would break).
func addDays(midnight time.Time, n int) time.Time {
	return time.Date(midnight.Year(), midnight.Month(), midnight.Day()+n, 0, 0, 0, 0, midnight.Location())
}
