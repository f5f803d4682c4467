package rules

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/readings"
)

// Rules are a pack's rule files indexed by reading kind.
type Rules struct {
	byKind map[readings.Kind][]*content.RuleSet
	byID   map[string]*content.Rule
	setOf  map[string]*content.RuleSet
}

// New indexes a linted pack's rules.
func New(p *content.Pack) *Rules {
	rs := &Rules{byKind: map[readings.Kind][]*content.RuleSet{}, byID: map[string]*content.Rule{}, setOf: map[string]*content.RuleSet{}}
	for _, set := range p.Rules {
		rs.byKind[readings.Kind(set.Kind)] = append(rs.byKind[readings.Kind(set.Kind)], set)
		for _, r := range set.Rules {
			rs.byID[r.ID] = r
			rs.setOf[r.ID] = set
		}
	}
	return rs
}

// Rule returns a rule by id and its file's set.
func (rs *Rules) Rule(id string) (*content.Rule, *content.RuleSet) {
	return rs.byID[id], rs.setOf[id]
}

// Sets returns the rule sets of a reading kind.
func (rs *Rules) Sets(kind readings.Kind) []*content.RuleSet { return rs.byKind[kind] }

// Patient is what classification needs to know of the patient.
type Patient struct {
	// Conditions are the patient's program ids and enrollment conditions.
	Conditions []string
	// Loc is the patient's time zone (days and fasting hours are local);
	// nil is UTC.
	Loc *time.Location
}

// Match is one rule that matched a reading.
type Match struct {
	Rule *content.Rule
	Set  *content.RuleSet
}

// Result is a reading's classification: the level of the first rule of
// the highest level that matched (Rule, Set; nil when normal), and every
// rule that matched, in file order.
type Result struct {
	Level   readings.Level
	Rule    *content.Rule
	Set     *content.RuleSet
	Matched []Match
}

var rank = map[string]int{content.LevelWatch: 1, content.LevelAlert: 2, content.LevelAcute: 3}

// Level returns a content level as a readings.Level.
func Level(l string) readings.Level {
	switch l {
	case content.LevelWatch:
		return readings.Watch
	case content.LevelAlert:
		return readings.Alert
	case content.LevelAcute:
		return readings.Acute
	}
	return readings.Normal
}

// Classify classifies r against the rules of its kind that apply to the
// patient. h is the history before r (r is not in it); st holds the
// patient's thresholds, snoozes and fired rules. A snoozed rule is skipped
// unless it is acute; a "first" rule that fired before does not match.
func (rs *Rules) Classify(r readings.Reading, p Patient, h *History, st *State, now time.Time) Result {
	res := Result{Level: readings.Normal}
	best := 0
	loc := p.Loc
	if loc == nil {
		loc = time.UTC
	}
	c := ctx{r: r, p: p, h: h, st: st, loc: loc}
	for _, set := range rs.byKind[r.Kind] {
		if len(set.Conditions) > 0 && !anyOf(set.Conditions, p.Conditions) {
			continue
		}
		for _, rule := range set.Rules {
			if rule.Gap != nil {
				continue
			}
			if rule.Level != content.LevelAcute && st != nil && st.Snoozed(rule.ID, now) {
				continue
			}
			if rule.First && st != nil && st.FiredAt(rule.ID) != 0 {
				continue
			}
			if !c.rule(rule) {
				continue
			}
			res.Matched = append(res.Matched, Match{Rule: rule, Set: set})
			if rank[rule.Level] > best {
				best = rank[rule.Level]
				res.Level, res.Rule, res.Set = Level(rule.Level), rule, set
			}
		}
	}
	return res
}

// ctx is one classification's inputs.
type ctx struct {
	r   readings.Reading
	p   Patient
	h   *History
	st  *State
	loc *time.Location
}

// rule reports whether any of the rule's tests matches (and, with a
// repeat, held often enough).
func (c *ctx) rule(rule *content.Rule) bool {
	for i := range rule.When {
		t := &rule.When[i]
		if !c.applies(t) {
			continue
		}
		if !c.test(rule, t, c.measure(t.Measure, c.r.Systolic, c.r.Diastolic, c.r.Value), c.r.At) {
			continue
		}
		if t.Repeat != nil && !c.repeated(rule, t.Repeat, []content.Test{*t}) {
			continue
		}
		if rule.Repeat != nil && !c.repeated(rule, rule.Repeat, rule.When) {
			return false
		}
		return true
	}
	return false
}

func (c *ctx) applies(t *content.Test) bool {
	if len(t.OnlyFor) > 0 && !anyOf(t.OnlyFor, c.p.Conditions) {
		return false
	}
	if len(t.NotFor) > 0 && anyOf(t.NotFor, c.p.Conditions) {
		return false
	}
	return true
}

func (c *ctx) measure(m string, sys, dia int, v float64) float64 {
	switch m {
	case content.MeasureSystolic:
		return float64(sys)
	case content.MeasureDiastolic:
		return float64(dia)
	}
	return v
}

func (c *ctx) pastMeasure(m string, p Past) float64 {
	if m == content.MeasureDiastolic {
		return p.B
	}
	return p.A
}

// test compares a value (the reading's, at) with the test: directly, or
// as its change from the patient's baseline.
func (c *ctx) test(rule *content.Rule, t *content.Test, v float64, at time.Time) bool {
	if t.Fasting && at.In(c.loc).Hour() >= 10 {
		return false
	}
	if t.From != "" {
		base, ok := c.baseline(t, at)
		if !ok {
			return false
		}
		delta := v - base
		if t.Spread > 0 {
			sd, ok := c.spread(t, at)
			if !ok || math.Abs(delta) <= t.Spread*sd {
				return false
			}
		}
		v = delta
	}
	atLeast, above, below, atMost := t.AtLeast, t.Above, t.Below, t.AtMost
	if c.st != nil {
		for _, th := range c.st.Thresholds {
			if th.Rule != rule.ID || th.From != t.From || normMeasure(th.Measure) != normMeasure(t.Measure) {
				continue
			}
			val := th.Value
			switch th.Op {
			case "at_least":
				if atLeast != nil {
					atLeast = &val
				}
			case "above":
				if above != nil {
					above = &val
				}
			case "below":
				if below != nil {
					below = &val
				}
			case "at_most":
				if atMost != nil {
					atMost = &val
				}
			}
		}
	}
	switch {
	case atLeast != nil && v < *atLeast,
		above != nil && v <= *above,
		below != nil && v >= *below,
		atMost != nil && v > *atMost:
		return false
	}
	return true
}

func normMeasure(m string) string {
	if m == "" {
		return content.MeasureValue
	}
	return m
}

// window returns the values of the history's readings of the kind taken
// in [at-over, at).
func (c *ctx) window(m string, at time.Time, over time.Duration) []float64 {
	from, to := at.Add(-over).Unix(), at.Unix()
	var vs []float64
	for _, p := range c.h.Readings {
		if p.Kind == c.r.Kind && p.At >= from && p.At < to {
			vs = append(vs, c.pastMeasure(m, p))
		}
	}
	return vs
}

// baseline is the test's baseline at the reading's time; false when the
// history is too short for one.
func (c *ctx) baseline(t *content.Test, at time.Time) (float64, bool) {
	if c.h == nil {
		return 0, false
	}
	if t.From == content.FromPreviousDay {
		day := localDay(at, c.loc)
		for i := len(c.h.Readings) - 1; i >= 0; i-- {
			p := c.h.Readings[i]
			if p.Kind == c.r.Kind && p.At < at.Unix() && localDay(time.Unix(p.At, 0), c.loc) < day {
				return c.pastMeasure(t.Measure, p), true
			}
		}
		return 0, false
	}
	vs := c.window(t.Measure, at, time.Duration(t.Over))
	min := t.MinReadings
	if min == 0 {
		min = 3
	}
	if len(vs) < min || len(vs) == 0 {
		return 0, false
	}
	switch t.From {
	case content.FromLowest:
		return slices.Min(vs), true
	case content.FromHighest:
		return slices.Max(vs), true
	case content.FromMean:
		return mean(vs), true
	case content.FromMedian:
		sort.Float64s(vs)
		n := len(vs)
		if n%2 == 1 {
			return vs[n/2], true
		}
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return 0, false
}

// minChanges is how many day-to-day changes a spread needs.
const minChanges = 5

// spread is the standard deviation of the patient's own day-to-day
// changes (the last reading of each local day) over SpreadOver.
func (c *ctx) spread(t *content.Test, at time.Time) (float64, bool) {
	from, to := at.Add(-time.Duration(t.SpreadOver)).Unix(), at.Unix()
	var days []float64
	lastDay := int64(math.MinInt64)
	for _, p := range c.h.Readings {
		if p.Kind != c.r.Kind || p.At < from || p.At >= to {
			continue
		}
		d := localDay(time.Unix(p.At, 0), c.loc)
		v := c.pastMeasure(t.Measure, p)
		if d == lastDay {
			days[len(days)-1] = v
			continue
		}
		days = append(days, v)
		lastDay = d
	}
	if len(days) < minChanges+1 {
		return 0, false
	}
	changes := make([]float64, len(days)-1)
	for i := 1; i < len(days); i++ {
		changes[i-1] = days[i] - days[i-1]
	}
	m := mean(changes)
	var ss float64
	for _, x := range changes {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(changes)-1)), true
}

// repeated reports whether the tests (fixed thresholds) held on enough
// days, or readings far enough apart, within the window, counting the
// reading being classified.
func (c *ctx) repeated(rule *content.Rule, rp *content.Repeat, tests []content.Test) bool {
	if c.h == nil {
		return rp.Days <= 1 && rp.Readings <= 1
	}
	from := c.r.At.Add(-time.Duration(rp.Within)).Unix()
	holds := func(p Past) bool {
		at := time.Unix(p.At, 0)
		for i := range tests {
			t := &tests[i]
			if t.From != "" || !c.applies(t) {
				continue
			}
			sys, dia := int(p.A), int(p.B)
			if c.test(rule, t, c.measure(t.Measure, sys, dia, p.A), at) {
				return true
			}
		}
		return false
	}
	if rp.Days > 0 {
		days := map[int64]bool{localDay(c.r.At, c.loc): true}
		for _, p := range c.h.Readings {
			if p.Kind == c.r.Kind && p.At >= from && p.At <= c.r.At.Unix() && holds(p) {
				days[localDay(time.Unix(p.At, 0), c.loc)] = true
			}
		}
		return len(days) >= rp.Days
	}
	n, last := 1, c.r.At.Unix()
	apart := int64(time.Duration(rp.Apart) / time.Second)
	for i := len(c.h.Readings) - 1; i >= 0 && n < rp.Readings; i-- {
		p := c.h.Readings[i]
		if p.Kind != c.r.Kind || p.At < from || p.At > c.r.At.Unix() || last-p.At < apart {
			continue
		}
		if holds(p) {
			n++
			last = p.At
		}
	}
	return n >= rp.Readings
}

// localDay numbers a local calendar day.
func localDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// LocalDay numbers a local calendar day (days-mode episode closing).
func LocalDay(t time.Time, loc *time.Location) int64 {
	if loc == nil {
		loc = time.UTC
	}
	return localDay(t, loc)
}

func mean(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

func anyOf(want, have []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
