package risk

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reachability states. They are apart from the tier: silence is never
// points.
const (
	Reachable   = "reachable"
	Unreachable = "unreachable"
	// OptedOut: the patient stopped every channel; that is their choice,
	// not a reachability problem to chase.
	OptedOut = "opted_out"
)

// Point is one row of the table that scored, with its explanation.
type Point struct {
	Points int    `json:"points"`
	Why    string `json:"why"`
	// Input is the row's input id.
	Input string `json:"input"`
}

// Context is what Assess reads beside the state: the clock, whether an
// acute ticket is open, the enrollment's social needs and whether the
// patient opted out of every channel.
type Context struct {
	Now         time.Time
	AcuteOpen   bool
	SocialNeeds []string
	OptedOut    bool
	// PDC, when set, computes the proportion of days covered per
	// medication class over [from, to) from the fills (the adherence
	// package's PQA method, with its medication classes); nil uses
	// PerMedicationPDC.
	PDC func(fills []Fill, from, to time.Time) map[string]float64
}

// Fill is one dispense as the PDC reads it.
type Fill struct {
	Medication string
	Date       time.Time
	Days       int
}

// Assessment is a patient's tier and how it came about.
type Assessment struct {
	// Tier is the tier in force: acute while an acute ticket is open,
	// else the pin while it lasts, else the score's.
	Tier Tier
	// Scored is the score's tier, Score the score.
	Scored Tier
	Score  int
	Points []Point
	// Pin is the clinician's pin in force, nil when none.
	Pin *Pin
	// Acute: an acute ticket is open.
	Acute        bool
	Reachability string
}

// Explain is the assessment's points, one "+N: why" a line, as the risk
// event's text carries them; "no points" when none scored.
func (a *Assessment) Explain() string {
	if len(a.Points) == 0 {
		return "no points"
	}
	var b strings.Builder
	for i, p := range a.Points {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "+%d: %s", p.Points, p.Why)
	}
	return b.String()
}

// Assess scores a state against the table at c.Now. It is pure: the same
// state, table and context give the same assessment.
func Assess(t *Table, s *State, c Context) Assessment {
	var a Assessment
	done := map[string]bool{} // inputs a row already scored
	for _, r := range t.Rows {
		if done[r.Input] {
			continue
		}
		pts, why := score(r, s, &c)
		if pts <= 0 {
			continue
		}
		done[r.Input] = true
		a.Score += pts
		a.Points = append(a.Points, Point{Points: pts, Why: why, Input: r.Input})
	}
	a.Scored = t.TierOf(a.Score)
	a.Tier = a.Scored
	if s.Pin != nil && c.Now.Before(s.Pin.Until) {
		pin := *s.Pin
		a.Pin = &pin
		a.Tier = pin.Tier
	}
	if c.AcuteOpen {
		a.Acute, a.Tier = true, Acute
	}
	a.Reachability = reachability(t, s, &c)
	return a
}

// reachability is Reachable, Unreachable or OptedOut.
func reachability(t *Table, s *State, c *Context) string {
	switch {
	case c.OptedOut:
		return OptedOut
	case s.Since != 0 && s.Prompts >= t.Reachability.Prompts &&
		c.Now.Sub(time.Unix(s.Since, 0)) >= time.Duration(t.Reachability.Days)*24*time.Hour:
		return Unreachable
	}
	return Reachable
}

// score is what one row gives: its points (0: it does not apply) and the
// explanation.
func score(r *Row, s *State, c *Context) (int, string) {
	since := c.Now.Add(-r.Within.Duration()).Unix()
	count := func(k FactKind) int {
		n := 0
		for _, f := range s.Facts {
			if f.Kind == k && f.At >= since && f.At <= c.Now.Unix() {
				n++
			}
		}
		return n
	}
	why := func(n int, what string) string {
		return strings.NewReplacer("{n}", strconv.Itoa(n), "{days}", strconv.Itoa(int(r.Within)), "{what}", what).Replace(r.Why)
	}
	switch r.Input {
	case InputInpatient:
		if n := count(FactInpatient); n > 0 {
			return r.Points, why(n, "")
		}
	case InputEmergency:
		if n := count(FactEmergency); n > 0 {
			return r.Points, why(n, "")
		}
	case InputAlertEpisode:
		if len(s.Open) > 0 {
			open := slices.Sorted(slices.Values(s.Open))
			return capped(r, r.Points*len(open)), why(len(open), strings.Join(open, ", "))
		}
	case InputHypoOrHFWeight:
		var what []string
		lows := 0
		for _, f := range s.Facts {
			if f.Kind == FactLowGlucose && f.At >= since && float64(f.A) < r.GlucoseBelow {
				lows++
			}
		}
		if lows > 0 {
			what = append(what, fmt.Sprintf("glucose below %g mg/dL (%d)", r.GlucoseBelow, lows))
		}
		if n := count(FactHFWeight); n > 0 {
			what = append(what, fmt.Sprintf("heart-failure weight episode (%d)", n))
		}
		if len(what) > 0 {
			return r.Points, why(lows+count(FactHFWeight), strings.Join(what, " and "))
		}
	case InputBPMean:
		var n, sys, dia int
		for _, f := range s.Facts {
			if f.Kind == FactBP && f.At >= since {
				n, sys, dia = n+1, sys+f.A, dia+f.B
			}
		}
		if n >= r.Count {
			ms, md := (sys+n/2)/n, (dia+n/2)/n
			if ms >= r.Systolic || md >= r.Diastolic {
				return r.Points, why(n, fmt.Sprintf("%d/%d", ms, md))
			}
		}
	case InputAdherence:
		if n := count(FactNotTaken); n >= r.Count {
			return r.Points, why(n, "")
		}
		if r.PDCBelow > 0 {
			if low := lowPDC(r, s, c); low != "" {
				return r.Points, low
			}
		}
	case InputMisconception:
		var items []string
		for _, f := range s.Facts {
			if f.Kind == FactMisconception && !slices.Contains(items, f.S) {
				items = append(items, f.S)
			}
		}
		if len(items) > 0 {
			return r.Points, why(len(items), strings.Join(items, ", "))
		}
	case InputSocialNeed:
		needs := slices.Compact(slices.Sorted(slices.Values(c.SocialNeeds)))
		if len(needs) > 0 {
			return capped(r, r.Points*len(needs)), why(len(needs), strings.Join(needs, ", "))
		}
	}
	return 0, ""
}

func capped(r *Row, pts int) int {
	if r.Cap > 0 {
		return min(pts, r.Cap)
	}
	return pts
}

// lowPDC explains the classes (or medications) whose proportion of days
// covered is below the row's threshold over its PDC window, "" for none.
func lowPDC(r *Row, s *State, c *Context) string {
	to := c.Now
	from := to.Add(-r.PDCWithin.Duration())
	var fills []Fill
	for _, f := range s.Facts {
		if f.Kind == FactDispense {
			fills = append(fills, Fill{Medication: f.S, Date: time.Unix(f.At, 0).UTC(), Days: f.A})
		}
	}
	if len(fills) == 0 {
		return ""
	}
	pdc := c.PDC
	if pdc == nil {
		pdc = PerMedicationPDC
	}
	byClass := pdc(fills, from, to)
	var low []string
	for _, class := range slices.Sorted(maps.Keys(byClass)) {
		if v := byClass[class]; v < r.PDCBelow {
			low = append(low, fmt.Sprintf("%s %d%%", class, int(v*100)))
		}
	}
	if len(low) == 0 {
		return ""
	}
	return fmt.Sprintf("days covered below %d%% in the last %d days: %s", int(r.PDCBelow*100+0.5), int(r.PDCWithin), strings.Join(low, ", "))
}

// PerMedicationPDC is the proportion of days covered of each medication
// over [from, to), by the PQA method applied to one medication at a time:
// the period runs from the first fill in it (the index fill) to its end, a
// fill that starts while the previous supply lasts is shifted to start
// after it, and a medication needs at least two fills in the period to be
// measured (one fill says nothing of persistence; it is left out). The
// adherence package's class-based PDC replaces it when the Runner gives
// Context.PDC.
func PerMedicationPDC(fills []Fill, from, to time.Time) map[string]float64 {
	by := map[string][]Fill{}
	for _, f := range fills {
		if !f.Date.Before(from) && f.Date.Before(to) {
			by[f.Medication] = append(by[f.Medication], f)
		}
	}
	out := map[string]float64{}
	for med, fs := range by {
		if len(fs) < 2 {
			continue
		}
		slices.SortFunc(fs, func(a, b Fill) int { return a.Date.Compare(b.Date) })
		index := fs[0].Date
		days := int(to.Sub(index).Hours()/24 + 0.5)
		if days <= 0 {
			continue
		}
		covered := make([]bool, days)
		next := 0 // first day not yet covered by an earlier fill, in days from index
		for _, f := range fs {
			start := max(int(f.Date.Sub(index).Hours()/24+0.5), next)
			for d := start; d < start+f.Days && d < days; d++ {
				covered[d] = true
			}
			next = start + f.Days
		}
		n := 0
		for _, c := range covered {
			if c {
				n++
			}
		}
		out[med] = float64(n) / float64(days)
	}
	return out
}
