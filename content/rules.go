package content

import (
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendcare/tend/locales"
)

// Levels a rule gives a reading (readings.Level's values; content does not
// import readings' types so that the pack stays the one thing every part
// reads). Normal is what no rule matched.
const (
	LevelNormal = "normal"
	LevelWatch  = "watch"
	LevelAlert  = "alert"
	LevelAcute  = "acute"
)

// Measures a rule's test reads: a blood pressure's two numbers, or the
// reading's value for every other kind.
const (
	MeasureSystolic  = "systolic"
	MeasureDiastolic = "diastolic"
	MeasureValue     = "value"
)

// Baselines a test may compare the reading with (Test.From). The empty
// baseline compares the reading's own value with the thresholds: a fixed
// floor. The others compare the change from the patient's own recent
// readings: a personal baseline.
const (
	FromPreviousDay = "previous_day" // the last reading of an earlier day
	FromLowest      = "lowest"       // the lowest reading of the window
	FromHighest     = "highest"      // the highest reading of the window
	FromMean        = "mean"         // the mean of the window
	FromMedian      = "median"       // the median of the window
)

// Baselines lists the baselines a test may name, in the order lint says them.
func Baselines() []string {
	return []string{FromPreviousDay, FromLowest, FromHighest, FromMean, FromMedian}
}

// RuleSet is one rules file (rules/*.yaml): the rules for one kind of
// reading in one condition. The condition names the episode: a patient
// has at most one open episode per condition, whichever of its rules
// opened it.
type RuleSet struct {
	// Condition is the episode's condition id (hypertension, ...).
	Condition string `yaml:"condition"`
	// Conditions are the patient conditions (program ids and enrollment
	// conditions) these rules apply to; empty: every patient who sends
	// this kind of reading.
	Conditions []string `yaml:"conditions"`
	// Kind is the reading kind the rules read, Unit the unit their
	// numbers are in (the kind's canonical unit).
	Kind string `yaml:"kind"`
	Unit string `yaml:"unit"`
	// Episode is how the condition's episodes close and re-arm.
	Episode EpisodePolicy `yaml:"episode"`
	// Rules, most severe first: a reading takes the level of the first
	// rule of the highest level that matches.
	Rules []*Rule `yaml:"rules"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// EpisodePolicy is how an episode of a condition ends and comes back.
type EpisodePolicy struct {
	// Reason is the reason of the episode's ticket, as the nurse reads it:
	// every escalation of the episode attaches to that ticket.
	Reason string `yaml:"reason"`
	// CloseAfter normal readings in a row close the episode; CloseBy says
	// whether they count as readings or as days with a reading.
	CloseAfter int    `yaml:"close_after"`
	CloseBy    string `yaml:"close_by"` // readings | days
	// Rearm is the quiet period after an episode closes: an alert in it
	// opens no new episode (hysteresis); an acute reading always does.
	Rearm Duration `yaml:"rearm"`
	// OnClose are actions run when an episode closes after normal
	// readings (a refresher lesson).
	OnClose []Action `yaml:"on_close"`
}

// Close-by units.
const (
	CloseByReadings = "readings"
	CloseByDays     = "days"
)

// Rule is one classification rule: when its tests match a reading, the
// reading is at the rule's level, and what follows depends on the level
// (docs/clinical.md): acute is the safety reply and an acute ticket now;
// alert asks the patient first (Confirm) and opens the episode's ticket
// once confirmed or unanswered; watch records, runs Do and, with a
// Priority, opens a routine ticket of its own.
type Rule struct {
	ID    string `yaml:"id"`
	Level string `yaml:"level"` // watch | alert | acute
	// When: the rule matches when any of its tests does.
	When []Test `yaml:"when"`
	// Repeat, when set, matches only when the tests held on enough days
	// or readings within a window (a pattern, not one reading).
	Repeat *Repeat `yaml:"repeat"`
	// First matches only the patient's first reading of the kind that
	// the tests match.
	First bool `yaml:"first"`
	// Confirm is the flow that asks the patient first (alert rules).
	Confirm string `yaml:"confirm"`
	// Urgent confirm questions go out in quiet hours too.
	Urgent bool `yaml:"urgent"`
	// Priority of the ticket: an alert's once confirmed or unanswered, a
	// watch rule's at once (empty: no ticket).
	Priority string `yaml:"priority"`
	// WithSymptoms is the priority when the patient reports symptoms
	// (default: one above Priority; acute means the safety reply).
	WithSymptoms string `yaml:"with_symptoms"`
	// Reason of a watch rule's own ticket.
	Reason string `yaml:"reason"`
	// Every bounds how often a watch rule's actions and ticket run.
	Every Duration `yaml:"every"`
	// Do are actions run when the rule classifies a reading.
	Do []Action `yaml:"do"`
	// Gap, instead of tests, is a monitoring gap: no reading of the kind
	// for a while.
	Gap *Gap `yaml:"gap"`
	// Source is where the numbers come from.
	Source *Source `yaml:"source"`

	Line int `yaml:"-"`
}

// Gap is a rule about readings that do not come: After the last one (Early
// in the patient's first EarlyDays of enrollment) the patient is reminded
// with Say; EscalateAfter it a person is asked to call (a low ticket).
type Gap struct {
	After         Duration `yaml:"after"`
	Early         Duration `yaml:"early"`
	EarlyDays     int      `yaml:"early_days"`
	Say           string   `yaml:"say"`
	EscalateAfter Duration `yaml:"escalate_after"`
	Reason        string   `yaml:"reason"`
}

// Source names a rule's reference.
type Source struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// Test is one comparison. Without From, the measure itself is compared
// with the thresholds (a fixed floor); with From, its change from the
// patient's own baseline over Over is (a personal baseline), and with
// Spread the change must also exceed Spread standard deviations of the
// patient's own day-to-day changes over SpreadOver.
type Test struct {
	Measure string   `yaml:"measure"` // systolic | diastolic | value (default)
	AtLeast *float64 `yaml:"at_least"`
	Above   *float64 `yaml:"above"`
	Below   *float64 `yaml:"below"`
	AtMost  *float64 `yaml:"at_most"`

	From string   `yaml:"from"`
	Over Duration `yaml:"over"`
	// MinReadings is how many earlier readings the baseline needs
	// (default 3; previous_day needs 1): without them the test does not
	// match, and the fixed floors still apply.
	MinReadings int      `yaml:"min_readings"`
	Spread      float64  `yaml:"spread"`
	SpreadOver  Duration `yaml:"spread_over"`
	// Fasting: only readings taken before 10:00 local time.
	Fasting bool `yaml:"fasting"`
	// Repeat makes this one test a pattern (glucose > 250 on 2 readings 4
	// hours apart) while the rule's other tests match on one reading.
	Repeat *Repeat `yaml:"repeat"`
	// OnlyFor and NotFor limit the test to patients with (without) one
	// of these conditions: a different target for diabetes, say.
	OnlyFor []string `yaml:"only_for"`
	NotFor  []string `yaml:"not_for"`
}

// Repeat is a pattern: the tests held on Days distinct days, or on
// Readings readings at least Apart apart, within Within.
type Repeat struct {
	Days     int      `yaml:"days"`
	Readings int      `yaml:"readings"`
	Apart    Duration `yaml:"apart"`
	Within   Duration `yaml:"within"`
}

// Rule returns the rule with the given id and its set, or nil.
func (p *Pack) Rule(id string) (*Rule, *RuleSet) {
	for _, rs := range p.Rules {
		for _, r := range rs.Rules {
			if r.ID == id {
				return r, rs
			}
		}
	}
	return nil, nil
}

// parseRules loads rules/*.yaml strictly: an unknown field is an error
// naming file and line, so a misspelt threshold cannot silently vanish.
func parseRules(fsys fs.FS, p *Pack) []Problem {
	var problems []Problem
	files, _ := fs.Glob(fsys, "rules/*.yaml")
	for _, f := range files {
		var rs RuleSet
		root, err := decodeStrict(fsys, f, &rs)
		if err != nil {
			problems = append(problems, Problem{File: f, Line: locales.YAMLErrLine(err), Msg: err.Error()})
			continue
		}
		rs.File, rs.Line = f, root.Line
		if rn := mapValue(root, "rules"); rn != nil && rn.Kind == yaml.SequenceNode {
			for i, n := range rn.Content {
				if i < len(rs.Rules) && rs.Rules[i] != nil {
					rs.Rules[i].Line = n.Line
					placeActions(rs.Rules[i].Do, mapValue(n, "do"))
				}
			}
		}
		p.Rules = append(p.Rules, &rs)
	}
	return problems
}

// ---- lint ----

var ruleLevels = []string{LevelWatch, LevelAlert, LevelAcute}

// rules checks the rule files: known kinds and units, thresholds that can
// match, baselines that exist, confirm flows present and asking, priorities
// known, sources cited, rule ids unique, messages present in every language
// (through the actions' refs).
func (l *linter) rules() {
	ids := map[string]string{}
	for _, rs := range l.p.Rules {
		line := rs.Line
		if rs.Condition == "" {
			l.errorf(rs.File, line, "rules have no condition (the episode's condition id)")
		}
		unit, ok := kindUnits[rs.Kind]
		switch {
		case rs.Kind == "":
			l.errorf(rs.File, line, "rules have no kind (one of %s)", strings.Join(ReadingKinds(), ", "))
		case !ok:
			l.errorf(rs.File, line, "rules: unknown reading kind %q (want one of %s)", rs.Kind, strings.Join(ReadingKinds(), ", "))
		case rs.Unit != unit:
			l.errorf(rs.File, line, "rules: unit %q: the numbers of %s rules are in %s", rs.Unit, rs.Kind, unit)
		}
		ep := rs.Episode
		if strings.TrimSpace(ep.Reason) == "" {
			l.errorf(rs.File, line, "rules: episode has no reason (the ticket's reason the nurse reads)")
		}
		if ep.CloseAfter < 1 {
			l.errorf(rs.File, line, "rules: episode close_after must be at least 1 normal reading")
		}
		if ep.CloseBy != CloseByReadings && ep.CloseBy != CloseByDays {
			l.errorf(rs.File, line, "rules: episode close_by %q is not readings or days", ep.CloseBy)
		}
		if len(rs.Rules) == 0 {
			l.errorf(rs.File, line, "rules file has no rules")
		}
		l.knownConditions(rs.File, line, "rules", rs.Conditions)
		l.actions(&Flow{ID: "rules", File: rs.File}, ep.OnClose, line, "rules: episode on_close")
		for _, other := range l.p.Rules {
			if other != rs && other.Condition == rs.Condition && !sameEpisode(other.Episode, ep) {
				l.errorf(rs.File, line, "rules: condition %s's episode is also described, differently, in %s (one episode per condition: say it the same in both)", rs.Condition, other.File)
			}
		}
		for _, r := range rs.Rules {
			if r == nil {
				continue
			}
			l.rule(rs, r, ids)
		}
	}
}

// otherConditions are the patient conditions no bundled program is for
// (api.OtherConditions, which enrollment accepts); a program's id is a
// condition too.
var otherConditions = []string{"copd", "chronic-kidney-disease"}

// knownConditions warns of a condition no patient can have: a typo would
// silently turn a test off (or on) for everyone.
func (l *linter) knownConditions(file string, line int, where string, cs []string) {
	for _, c := range cs {
		if l.p.Programs[c] == nil && !containsString(otherConditions, c) {
			l.warnf(file, line, "%s: condition %q is neither a program nor one of %s: no patient has it", where, c, strings.Join(otherConditions, ", "))
		}
	}
}

func (l *linter) rule(rs *RuleSet, r *Rule, ids map[string]string) {
	line := firstLine(r.Line, rs.Line)
	where := fmt.Sprintf("rule %q", r.ID)
	for _, t := range r.When {
		l.knownConditions(rs.File, line, where, t.OnlyFor)
		l.knownConditions(rs.File, line, where, t.NotFor)
	}
	if r.ID == "" {
		l.errorf(rs.File, line, "a rule has no id")
	} else if prev, dup := ids[r.ID]; dup {
		l.errorf(rs.File, line, "%s is also defined in %s", where, prev)
	} else {
		ids[r.ID] = rs.File
	}
	if !containsString(ruleLevels, r.Level) {
		l.errorf(rs.File, line, "%s: level %q is not one of %s", where, r.Level, strings.Join(ruleLevels, ", "))
	}
	if r.Source == nil || r.Source.Name == "" || !strings.HasPrefix(r.Source.URL, "https://") {
		l.errorf(rs.File, line, "%s cites no source (source: {name, url} with an https URL)", where)
	}
	if g := r.Gap; g != nil {
		if len(r.When) > 0 || r.Level != LevelWatch {
			l.errorf(rs.File, line, "%s: a gap rule is a watch rule without tests", where)
		}
		if g.After <= 0 || g.EscalateAfter <= g.After {
			l.errorf(rs.File, line, "%s: gap needs after, and escalate_after later than it", where)
		}
		if g.Say == "" {
			l.errorf(rs.File, line, "%s: gap has no say (the reminder)", where)
		} else {
			l.ref(g.Say, rs.File, line, "%s gap say", where)
		}
		if strings.TrimSpace(g.Reason) == "" {
			l.errorf(rs.File, line, "%s: gap has no reason (its ticket's)", where)
		}
	} else if len(r.When) == 0 {
		l.errorf(rs.File, line, "%s has no tests (when)", where)
	}
	for i := range r.When {
		l.test(rs, r, &r.When[i], fmt.Sprintf("%s test %d", where, i+1), line)
	}
	if rp := r.Repeat; rp != nil {
		if (rp.Days > 0) == (rp.Readings > 0) {
			l.errorf(rs.File, line, "%s repeat: set days or readings (one of them)", where)
		}
		if rp.Within <= 0 {
			l.errorf(rs.File, line, "%s repeat has no within", where)
		}
		for _, t := range r.When {
			if t.From != "" {
				l.errorf(rs.File, line, "%s: a repeated rule's tests must be fixed thresholds (no from)", where)
				break
			}
		}
	}
	prio := func(p, what string) {
		if p != "" && !containsString(escalatePriorities, p) {
			l.errorf(rs.File, line, "%s: %s %q is not one of %s", where, what, p, strings.Join(escalatePriorities, ", "))
		}
	}
	prio(r.Priority, "priority")
	prio(r.WithSymptoms, "with_symptoms")
	switch r.Level {
	case LevelAlert:
		if r.Priority == "" {
			l.errorf(rs.File, line, "%s: an alert needs a priority (its ticket's, once confirmed or unanswered)", where)
		}
		if r.Confirm == "" {
			l.errorf(rs.File, line, "%s: an alert needs a confirm flow (the patient is asked first)", where)
		}
	case LevelWatch:
		if r.Confirm != "" {
			l.errorf(rs.File, line, "%s: only an alert confirms", where)
		}
		if r.Priority != "" && strings.TrimSpace(r.Reason) == "" {
			l.errorf(rs.File, line, "%s: a watch rule's ticket needs a reason", where)
		}
	case LevelAcute:
		if r.Confirm != "" {
			l.errorf(rs.File, line, "%s: an acute reading is not confirmed first: the safety reply goes at once", where)
		}
	}
	if r.Confirm != "" {
		l.confirmFlow(rs, r, where, line)
	}
	l.actions(&Flow{ID: "rules", File: rs.File}, r.Do, line, where+" do")
}

// confirmFlow checks that a rule's confirm flow exists, is a safety flow
// (it must interrupt), asks about symptoms and ends the episode's wait on
// timeout, so that every outcome (symptoms, none, no answer) is reachable.
func (l *linter) confirmFlow(rs *RuleSet, r *Rule, where string, line int) {
	f := l.p.Flows[r.Confirm]
	if f == nil {
		l.errorf(rs.File, line, "%s: confirm flow %q is not defined (flows: %s)", where, r.Confirm, strings.Join(sortedKeys(l.p.Flows), ", "))
		return
	}
	if f.Priority != PrioritySafety {
		l.errorf(rs.File, line, "%s: confirm flow %q must have priority safety (it interrupts whatever is asked)", where, r.Confirm)
	}
	seen := map[string]bool{}
	for _, st := range f.States {
		mark := func(as []Action) {
			for _, a := range as {
				if a.Episode != "" {
					seen[a.Episode] = true
				}
			}
		}
		mark(st.Do)
		for _, c := range st.Choices {
			mark(c.Do)
		}
		if st.Timeout != nil {
			mark(st.Timeout.Do)
		}
	}
	for _, want := range []string{EpisodeSymptoms, EpisodeUnanswered} {
		if !seen[want] {
			l.errorf(f.File, f.Line, "confirm flow %q (of %s) never records episode: %s", f.ID, where, want)
		}
	}
}

func (l *linter) test(rs *RuleSet, r *Rule, t *Test, where string, line int) {
	switch {
	case rs.Kind == "blood_pressure" && t.Measure != MeasureSystolic && t.Measure != MeasureDiastolic:
		l.errorf(rs.File, line, "%s: a blood pressure test measures systolic or diastolic", where)
	case rs.Kind != "blood_pressure" && t.Measure != "" && t.Measure != MeasureValue:
		l.errorf(rs.File, line, "%s: a %s test measures the value", where, rs.Kind)
	}
	n := 0
	for _, v := range []*float64{t.AtLeast, t.Above, t.Below, t.AtMost} {
		if v != nil {
			n++
		}
	}
	if n == 0 {
		l.errorf(rs.File, line, "%s has no threshold (at_least, above, below or at_most)", where)
	}
	lo, hi := t.AtLeast, t.AtMost
	if t.Above != nil {
		lo = t.Above
	}
	if t.Below != nil {
		hi = t.Below
	}
	if lo != nil && hi != nil && *lo > *hi {
		l.errorf(rs.File, line, "%s can never match (lower bound %g above upper bound %g)", where, *lo, *hi)
	}
	if t.From != "" && !containsString(Baselines(), t.From) {
		l.errorf(rs.File, line, "%s: from %q is not one of %s", where, t.From, strings.Join(Baselines(), ", "))
	}
	if t.From != "" && t.From != FromPreviousDay && t.Over <= 0 {
		l.errorf(rs.File, line, "%s: a baseline from %s needs over (its window)", where, t.From)
	}
	if t.Spread > 0 && (t.From == "" || t.SpreadOver <= 0) {
		l.errorf(rs.File, line, "%s: spread needs from and spread_over", where)
	}
	if rp := t.Repeat; rp != nil {
		if (rp.Days > 0) == (rp.Readings > 0) || rp.Within <= 0 || t.From != "" || r.Repeat != nil {
			l.errorf(rs.File, line, "%s repeat: days or readings, a within, a fixed threshold, and no repeat on the rule", where)
		}
	}
	if t.Fasting && rs.Kind != "glucose" {
		l.errorf(rs.File, line, "%s: fasting applies to glucose", where)
	}
	_ = r
}

// kindUnits are the reading kinds rules may read and their canonical
// units (readings.Kinds; content does not import readings).
var kindUnits = map[string]string{
	"blood_pressure": "mmHg", "weight": "kg", "glucose": "mg/dL", "spo2": "%", "heart_rate": "/min",
}

// ReadingKinds lists the kinds rules may read.
func ReadingKinds() []string {
	return []string{"blood_pressure", "weight", "glucose", "spo2", "heart_rate"}
}

// Episode actions a confirm flow records (Action.Episode).
const (
	// EpisodeSymptoms: the patient reports symptoms; the ticket opens now
	// one priority higher (acute: the safety reply).
	EpisodeSymptoms = "symptoms"
	// EpisodeNoSymptoms: no symptoms; the episode waits for the second
	// reading, which confirms or dismisses it.
	EpisodeNoSymptoms = "no_symptoms"
	// EpisodeUnanswered: the question timed out; the ticket opens at the
	// rule's priority.
	EpisodeUnanswered = "unanswered"
)

func episodeActions() []string {
	return []string{EpisodeSymptoms, EpisodeNoSymptoms, EpisodeUnanswered}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameEpisode compares two files' episode policies (actions by count: the
// second file usually repeats the first's or leaves them out).
func sameEpisode(a, b EpisodePolicy) bool {
	return a.Reason == b.Reason && a.CloseAfter == b.CloseAfter && a.CloseBy == b.CloseBy && a.Rearm == b.Rearm
}
