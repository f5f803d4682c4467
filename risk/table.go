package risk

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is where a content pack keeps its points table.
const File = "risk.yaml"

// Tier is a patient's risk tier. Acute is not a score: it overrides the
// others while an acute ticket is open.
type Tier string

const (
	Low    Tier = "low"
	Medium Tier = "medium"
	High   Tier = "high"
	Acute  Tier = "acute"
)

// Tiers lists the tiers from lowest to highest (the order Rank gives).
func Tiers() []Tier { return []Tier{Low, Medium, High, Acute} }

// Rank orders tiers: 0 for none, then low, medium, high, acute.
func Rank(t Tier) int {
	switch t {
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Acute:
		return 4
	}
	return 0
}

// tierOf is the tier of rank n (the inverse of Rank), "" for 0.
func tierOf(n int) Tier {
	if n < 1 || n > 4 {
		return ""
	}
	return Tiers()[n-1]
}

// Inputs a row of the table may score. Each is computed from the timeline's
// events as the row's fields say (window, count, thresholds); a row names
// one and nothing else decides what counts.
const (
	// InputInpatient: a hospital stay (an "inpatient" encounter) whose
	// date is within the row's window.
	InputInpatient = "inpatient"
	// InputEmergency: an emergency department visit within the window.
	InputEmergency = "emergency"
	// InputAlertEpisode: each condition with a confirmed alert episode
	// open now (an episode opened, not closed or dismissed since); the
	// row's cap bounds the total.
	InputAlertEpisode = "alert_episode"
	// InputHypoOrHFWeight: a level-2 low glucose reading (below the row's
	// glucose_below, mg/dL) or a heart-failure weight episode opened
	// within the window.
	InputHypoOrHFWeight = "hypo_or_hf_weight"
	// InputBPMean: the mean of the blood pressure readings within the
	// window at or above systolic or diastolic, from at least count
	// readings.
	InputBPMean = "bp_mean"
	// InputAdherence: at least count doses reported not taken within the
	// window, or a proportion of days covered below pdc_below over
	// pdc_within (dispenses). "No answer" never counts.
	InputAdherence = "adherence"
	// InputMisconception: a teach-back item answered wrong with
	// confidence (a "misconception" lesson event) and not answered right
	// since.
	InputMisconception = "misconception"
	// InputSocialNeed: each social need on the enrollment (food,
	// transport, cost); the row's cap bounds the total.
	InputSocialNeed = "social_need"
)

// InputIDs lists every input a row may name, for lint and docs.
func InputIDs() []string {
	return []string{InputInpatient, InputEmergency, InputAlertEpisode, InputHypoOrHFWeight, InputBPMean, InputAdherence, InputMisconception, InputSocialNeed}
}

// Table is a pack's points table and the thresholds around it.
type Table struct {
	// Tiers are the scores at which medium and high start (low is below
	// medium).
	Tiers struct {
		Medium int `yaml:"medium"`
		High   int `yaml:"high"`
	} `yaml:"tiers"`
	// Reachability says when a patient who does not answer is
	// unreachable: no message from them for Days since the first prompt
	// they left unanswered, and at least Prompts prompts meanwhile.
	Reachability struct {
		Days    int `yaml:"days"`
		Prompts int `yaml:"prompts"`
	} `yaml:"reachability"`
	Rows []*Row `yaml:"points"`

	File string `yaml:"-"`
}

// Row is one line of the table. Rows of the same input are alternatives:
// the first that applies scores and the later ones of that input do not
// (a hospital stay 10 days ago scores the 30-day row, not the 90-day one).
type Row struct {
	Input  string `yaml:"input"`
	Points int    `yaml:"points"`
	// Within is the window the input looks back over ("30d").
	Within Days `yaml:"within"`
	// Cap bounds the points of an input that scores per item (per
	// condition, per need); 0: no bound.
	Cap int `yaml:"cap"`
	// Count is how many occurrences it takes (doses not taken, BP
	// readings for a mean).
	Count int `yaml:"count"`
	// Systolic and Diastolic are a BP mean's thresholds (mmHg).
	Systolic  int `yaml:"systolic"`
	Diastolic int `yaml:"diastolic"`
	// GlucoseBelow is the level-2 low glucose threshold (mg/dL).
	GlucoseBelow float64 `yaml:"glucose_below"`
	// PDCBelow and PDCWithin: proportion of days covered below this over
	// that period (adherence).
	PDCBelow  float64 `yaml:"pdc_below"`
	PDCWithin Days    `yaml:"pdc_within"`
	// Why is the explanation shown beside the points; {n} is the count,
	// {days} the window in days, {what} the item (a condition, a need).
	Why string `yaml:"why"`
	// Reason says why the row is in the table, Source where its number
	// comes from (name and URL): a clinic reading the table should not
	// have to take a point on trust.
	Reason string `yaml:"reason"`
	Source string `yaml:"source"`

	Line int `yaml:"-"`
}

// Days is a number of whole days, written "30d" (or a bare number).
type Days int

// UnmarshalYAML reads "30d" or "30".
func (d *Days) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSuffix(strings.TrimSpace(n.Value), "d")
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: bad number of days %q (want e.g. 30d)", n.Line, n.Value)
	}
	*d = Days(v)
	return nil
}

// Duration is the window as a time.Duration.
func (d Days) Duration() time.Duration { return time.Duration(d) * 24 * time.Hour }

// Problem is one finding of Load, at a line of the table's file.
type Problem struct {
	Line int
	Msg  string
}

// Load reads and checks a pack's table (File in fsys). A missing file is
// (nil, nil): the caller falls back to the bundled table. Unknown fields
// are refused, naming the line, as every content file's are.
func Load(fsys fs.FS) (*Table, []Problem) {
	data, err := fs.ReadFile(fsys, File)
	if err != nil {
		return nil, nil
	}
	return Parse(data)
}

// Parse reads and checks a table.
func Parse(data []byte) (*Table, []Problem) {
	var t Table
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, []Problem{{Line: yamlLine(err), Msg: err.Error()}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		place(&t, doc.Content[0])
	}
	t.File = File
	return &t, t.check()
}

// place copies each row's line from the YAML tree.
func place(t *Table, root *yaml.Node) {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "points" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for j, n := range root.Content[i+1].Content {
			if j < len(t.Rows) && t.Rows[j] != nil {
				t.Rows[j].Line = n.Line
			}
		}
	}
}

// yamlLine finds "line N" in a yaml.v3 error, 0 when there is none.
func yamlLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	s = s[i+5:]
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[:j])
	return n
}

// check finds what would make the table score wrongly or silently.
func (t *Table) check() []Problem {
	var ps []Problem
	bad := func(line int, format string, args ...any) {
		ps = append(ps, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if t.Tiers.Medium < 1 || t.Tiers.High <= t.Tiers.Medium {
		bad(1, "tiers: want 0 < medium < high (got medium %d, high %d)", t.Tiers.Medium, t.Tiers.High)
	}
	if t.Reachability.Days < 1 || t.Reachability.Prompts < 1 {
		bad(1, "reachability: days and prompts must be at least 1")
	}
	if len(t.Rows) == 0 {
		bad(1, "points: the table has no rows")
	}
	known := map[string]bool{}
	for _, id := range InputIDs() {
		known[id] = true
	}
	for _, r := range t.Rows {
		if r == nil {
			bad(1, "points: empty row")
			continue
		}
		if !known[r.Input] {
			bad(r.Line, "input %q is not one of %s", r.Input, strings.Join(InputIDs(), ", "))
			continue
		}
		if r.Points < 1 || r.Points > 10 {
			bad(r.Line, "%s: points must be 1 to 10", r.Input)
		}
		if r.Why == "" || r.Reason == "" || r.Source == "" {
			bad(r.Line, "%s: every row says why (shown with the points), its reason and its source", r.Input)
		}
		switch r.Input {
		case InputInpatient, InputEmergency, InputHypoOrHFWeight, InputBPMean, InputAdherence:
			if r.Within < 1 {
				bad(r.Line, "%s: within (the window, e.g. 30d) is required", r.Input)
			}
		}
		switch r.Input {
		case InputHypoOrHFWeight:
			if r.GlucoseBelow <= 0 {
				bad(r.Line, "%s: glucose_below (mg/dL) is required", r.Input)
			}
		case InputBPMean:
			if r.Systolic <= 0 || r.Diastolic <= 0 || r.Count < 1 {
				bad(r.Line, "%s: systolic, diastolic and count (readings) are required", r.Input)
			}
		case InputAdherence:
			if r.Count < 1 {
				bad(r.Line, "%s: count (doses not taken) is required", r.Input)
			}
			if (r.PDCBelow > 0) != (r.PDCWithin > 0) || r.PDCBelow >= 1 {
				bad(r.Line, "%s: pdc_below (0 to 1) and pdc_within go together", r.Input)
			}
		case InputAlertEpisode, InputSocialNeed:
			if r.Cap < 0 {
				bad(r.Line, "%s: cap must not be negative", r.Input)
			}
		}
	}
	return ps
}

// TierOf is the tier a score falls in.
func (t *Table) TierOf(score int) Tier {
	switch {
	case score >= t.Tiers.High:
		return High
	case score >= t.Tiers.Medium:
		return Medium
	}
	return Low
}

// keep is how long a fact of kind is worth keeping: the longest window of
// a row that reads it, an hour's slack at the edge. ok is false when no row
// reads it.
func (t *Table) keep(kind FactKind) (d time.Duration, ok bool) {
	input := map[FactKind]string{FactInpatient: InputInpatient, FactEmergency: InputEmergency, FactLowGlucose: InputHypoOrHFWeight,
		FactHFWeight: InputHypoOrHFWeight, FactBP: InputBPMean, FactNotTaken: InputAdherence, FactMisconception: InputMisconception,
		FactDispense: InputAdherence}[kind]
	var days Days
	for _, r := range t.Rows {
		if r.Input != input {
			continue
		}
		ok = true
		w := r.Within
		if kind == FactDispense {
			w = r.PDCWithin
		}
		days = max(days, w)
	}
	return days.Duration() + time.Hour, ok
}
