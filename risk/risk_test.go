package risk

import (
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// bundled is the table the binary ships.
func bundled(t testing.TB) *Table {
	t.Helper()
	data, err := os.ReadFile("../content/default/risk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tb, ps := Parse(data)
	if len(ps) > 0 {
		t.Fatalf("bundled table: %v", ps)
	}
	return tb
}

var now = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

func daysAgo(n float64) time.Time { return now.Add(-time.Duration(n * 24 * float64(time.Hour))) }

func date(n int) string { return now.AddDate(0, 0, -n).Format(time.DateOnly) }

func yes() *bool { b := true; return &b }

// TestTiers: each input of research 2.2 scores its points with its
// explanation, and the score falls in the tier the table says.
func TestTiers(t *testing.T) {
	t.Parallel()
	tb := bundled(t)
	cases := []struct {
		name   string
		events []Event
		ctx    Context
		tier   Tier
		points []string // "+N: why"
	}{
		{name: "nothing", tier: Low},
		{name: "hospital 10 days ago", events: []Event{{Type: "encounter", Kind: "inpatient", Date: date(10)}},
			tier: Medium, points: []string{"+4: hospital stay in the last 30 days"}},
		{name: "hospital 60 days ago scores the 90-day row", events: []Event{{Type: "encounter", Kind: "inpatient", Date: date(60)}},
			tier: Low, points: []string{"+2: hospital stay in the last 90 days"}},
		{name: "hospital 100 days ago: nothing", events: []Event{{Type: "encounter", Kind: "inpatient", Date: date(100)}}, tier: Low},
		{name: "ED visit", events: []Event{{Type: "encounter", Kind: "emergency", Date: date(3)}},
			tier: Medium, points: []string{"+3: emergency department visit in the last 30 days"}},
		{name: "two episodes open", events: []Event{
			{Type: "episode", Status: "opened", Condition: "hypertension", At: daysAgo(2)},
			{Type: "episode", Status: "opened", Condition: "type2-diabetes", At: daysAgo(1)},
		}, tier: Medium, points: []string{"+4: confirmed alert episode open (hypertension, type2-diabetes)"}},
		{name: "three episodes open: capped at 4", events: []Event{
			{Type: "episode", Status: "opened", Condition: "hypertension", At: daysAgo(2)},
			{Type: "episode", Status: "opened", Condition: "type2-diabetes", At: daysAgo(1)},
			{Type: "episode", Status: "opened", Condition: "copd", At: daysAgo(1)},
		}, tier: Medium, points: []string{"+4: confirmed alert episode open (copd, hypertension, type2-diabetes)"}},
		{name: "episode still confirming: no points", events: []Event{{Type: "episode", Status: "confirming", Condition: "hypertension", At: daysAgo(1)}}, tier: Low},
		{name: "episode closed", events: []Event{
			{Type: "episode", Status: "opened", Condition: "hypertension", At: daysAgo(2)},
			{Type: "episode", Status: "closed", Condition: "hypertension", At: daysAgo(1)},
		}, tier: Low},
		{name: "level-2 low", events: []Event{{Type: "reading", Kind: "glucose", Value: "50", Status: "recorded", At: daysAgo(5)}},
			tier: Medium, points: []string{"+3: glucose below 54 mg/dL (1) in the last 30 days"}},
		{name: "level-1 low: no points", events: []Event{{Type: "reading", Kind: "glucose", Value: "62", Status: "recorded", At: daysAgo(5)}}, tier: Low},
		{name: "HF weight episode closed still counts 30 days", events: []Event{
			{Type: "episode", Status: "opened", Condition: "heart-failure", Rule: "weight-gain", At: daysAgo(20)},
			{Type: "episode", Status: "closed", Condition: "heart-failure", Rule: "weight-gain", At: daysAgo(15)},
		}, tier: Medium, points: []string{"+3: heart-failure weight episode (1) in the last 30 days"}},
		{name: "BP mean high", events: []Event{
			{Type: "reading", Kind: "blood_pressure", Value: "170/95", At: daysAgo(3)},
			{Type: "reading", Kind: "blood_pressure", Value: "165/98", At: daysAgo(2)},
			{Type: "reading", Kind: "blood_pressure", Value: "158/96", At: daysAgo(1)},
		}, tier: Low, points: []string{"+2: mean blood pressure 164/96 over 3 readings in the last 7 days"}},
		{name: "BP mean from too few readings: no points", events: []Event{
			{Type: "reading", Kind: "blood_pressure", Value: "190/110", At: daysAgo(1)},
		}, tier: Low},
		{name: "three doses not taken", events: []Event{
			{Type: "adherence", Status: "not_taken", At: daysAgo(10)},
			{Type: "adherence", Status: "missed", At: daysAgo(5)},
			{Type: "adherence", Status: "not_taken", At: daysAgo(1)},
		}, tier: Low, points: []string{"+2: 3 doses reported not taken in the last 14 days"}},
		{name: "no answer is never a miss", events: []Event{
			{Type: "adherence", Status: "no_answer", At: daysAgo(3)},
			{Type: "adherence", Status: "no_answer", At: daysAgo(2)},
			{Type: "adherence", Status: "undelivered", At: daysAgo(1)},
			{Type: "adherence", Status: "not_taken", At: daysAgo(1)},
		}, tier: Low},
		{name: "PDC low", events: []Event{
			{Type: "dispense", Medication: "lisinopril", Date: date(80), Days: 30},
			{Type: "dispense", Medication: "lisinopril", Date: date(20), Days: 30},
		}, tier: Low, points: []string{"+2: days covered below 80% in the last 90 days: lisinopril 62%"}},
		{name: "misconception until answered right", events: []Event{
			{Type: "lesson", Status: "misconception", Quiz: "why-take-pills", Question: "q1", At: daysAgo(3)},
		}, tier: Low, points: []string{"+1: confident wrong answer not corrected yet (why-take-pills/q1)"}},
		{name: "misconception answered right since", events: []Event{
			{Type: "lesson", Status: "misconception", Quiz: "why-take-pills", Question: "q1", At: daysAgo(3)},
			{Type: "lesson", Status: "mastered", Quiz: "why-take-pills", Question: "q1", Correct: yes(), At: daysAgo(1)},
		}, tier: Low},
		{name: "social needs capped at 2", ctx: Context{SocialNeeds: []string{"transport", "food", "cost"}},
			tier: Low, points: []string{"+2: social need: cost, food, transport"}},
		{name: "high", events: []Event{
			{Type: "encounter", Kind: "inpatient", Date: date(5)},
			{Type: "episode", Status: "opened", Condition: "heart-failure", Rule: "weight-gain", At: daysAgo(1)},
		}, tier: High, points: []string{"+4: hospital stay in the last 30 days", "+2: confirmed alert episode open (heart-failure)", "+3: heart-failure weight episode (1) in the last 30 days"}},
		{name: "acute overrides", ctx: Context{AcuteOpen: true}, tier: Acute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			s.Fold(c.events)
			c.ctx.Now = now
			a := Assess(tb, &s, c.ctx)
			if a.Tier != c.tier {
				t.Errorf("tier %s, want %s (%s)", a.Tier, c.tier, a.Explain())
			}
			var got []string
			for _, p := range a.Points {
				got = append(got, "+"+itoa(p.Points)+": "+p.Why)
			}
			if !reflect.DeepEqual(got, c.points) {
				t.Errorf("points\n got %q\nwant %q", got, c.points)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestPin: a pin sets the tier until it expires; an acute ticket
// overrides it; Forget drops it after expiry.
func TestPin(t *testing.T) {
	t.Parallel()
	tb := bundled(t)
	s := State{Pin: &Pin{Tier: High, Reason: "recent discharge, lives alone", By: "dr@clinic.org", At: daysAgo(1), Until: now.Add(48 * time.Hour)}}
	if a := Assess(tb, &s, Context{Now: now}); a.Tier != High || a.Scored != Low || a.Pin == nil {
		t.Errorf("pinned: %+v", a)
	}
	if a := Assess(tb, &s, Context{Now: now, AcuteOpen: true}); a.Tier != Acute {
		t.Errorf("acute with a pin: %s", a.Tier)
	}
	later := now.Add(49 * time.Hour)
	if a := Assess(tb, &s, Context{Now: later}); a.Tier != Low || a.Pin != nil {
		t.Errorf("expired pin: %+v", a)
	}
	s.Forget(tb, later)
	if s.Pin != nil {
		t.Error("Forget kept an expired pin")
	}
}

// TestReachability: silence is a state apart, never points; a message
// from the patient resets it; opted out is not unreachable.
func TestReachability(t *testing.T) {
	t.Parallel()
	tb := bundled(t)
	var s State
	for d := 20; d >= 0; d -= 5 {
		s.Fold([]Event{{Type: "message.out", Status: "queued", At: daysAgo(float64(d))}})
	}
	a := Assess(tb, &s, Context{Now: now})
	if a.Reachability != Unreachable || a.Score != 0 || a.Tier != Low {
		t.Errorf("silent 20 days, 5 prompts: %+v", a)
	}
	if a := Assess(tb, &s, Context{Now: now, OptedOut: true}); a.Reachability != OptedOut {
		t.Errorf("opted out: %s", a.Reachability)
	}
	// A reply in the same turn as the patient's message is no prompt.
	s.Fold([]Event{{Type: "message.in", At: now}, {Type: "message.out", Status: "queued", At: now}})
	if a := Assess(tb, &s, Context{Now: now}); a.Reachability != Reachable || s.Since != 0 || s.Prompts != 0 {
		t.Errorf("after a message: %s %+v", a.Reachability, s)
	}
	// A person's message is not a prompt; nor a message not sent.
	s.Fold([]Event{{Type: "message.out", Status: "queued", Staff: "rn@clinic.org", At: now}})
	s.Fold([]Event{{Type: "message.out", Status: "cancelled", At: now}})
	if s.Prompts != 0 {
		t.Errorf("prompts %d, want 0", s.Prompts)
	}
	// Two prompts over 20 days are not enough.
	var few State
	few.Fold([]Event{{Type: "message.out", Status: "queued", At: daysAgo(20)}})
	few.Fold([]Event{{Type: "message.out", Status: "queued", At: daysAgo(1)}})
	if a := Assess(tb, &few, Context{Now: now}); a.Reachability != Reachable {
		t.Errorf("two prompts: %s", a.Reachability)
	}
}

// TestStateRoundTrip: the section encoding keeps everything, and
// PeekTier reads the tier alone.
func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	s := State{Tier: Medium, Pin: &Pin{Tier: High, Reason: "r", By: "b", At: now.Add(-time.Hour), Until: now.Add(time.Hour)},
		Since: 1000, Prompts: 3, Ticketed: true, CheckinNext: 77, CheckinLast: 66, Open: []string{"hypertension"},
		Facts: []Fact{{Kind: FactBP, At: 5, A: 150, B: 95}, {Kind: FactDispense, At: 6, A: 30, S: "lisinopril"}}}
	data := s.Encode()
	var got State
	if err := got.Decode(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, s)
	}
	if PeekTier(data) != Medium {
		t.Errorf("PeekTier %q", PeekTier(data))
	}
	if (&State{}).Encode() != nil {
		t.Error("an empty state encodes to data")
	}
	for n := range data {
		if err := got.Decode(data[:n]); err == nil && n > 0 {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
}

// TestForget: facts leave when no row looks back that far; a
// misconception stays until answered right.
func TestForget(t *testing.T) {
	t.Parallel()
	tb := bundled(t)
	var s State
	s.Fold([]Event{
		{Type: "reading", Kind: "blood_pressure", Value: "150/90", At: daysAgo(8)},
		{Type: "reading", Kind: "blood_pressure", Value: "150/90", At: daysAgo(6)},
		{Type: "encounter", Kind: "inpatient", Date: date(89)},
		{Type: "encounter", Kind: "inpatient", Date: date(92)},
		{Type: "lesson", Status: "misconception", Quiz: "l", Question: "q", At: daysAgo(400)},
	})
	s.Forget(tb, now)
	kinds := map[FactKind]int{}
	for _, f := range s.Facts {
		kinds[f.Kind]++
	}
	if kinds[FactBP] != 1 || kinds[FactInpatient] != 1 || kinds[FactMisconception] != 1 {
		t.Errorf("after Forget: %v", kinds)
	}
}

// TestPerMedicationPDC: worked examples of the PQA method for one drug.
func TestPerMedicationPDC(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time { x, _ := time.Parse(time.DateOnly, s); return x }
	from, to := d("2026-01-01"), d("2026-04-01") // 90 days
	cases := []struct {
		name  string
		fills []Fill
		want  map[string]float64
	}{
		{"one fill: not measured", []Fill{{"a", d("2026-01-01"), 30}}, map[string]float64{}},
		{"full cover", []Fill{{"a", d("2026-01-01"), 30}, {"a", d("2026-01-31"), 30}, {"a", d("2026-03-02"), 30}}, map[string]float64{"a": 1}},
		// The second fill comes 10 days early: shifted, no double count.
		{"overlap shifted", []Fill{{"a", d("2026-01-01"), 30}, {"a", d("2026-01-21"), 30}}, map[string]float64{"a": 60.0 / 90}},
		// Index fill on day 30: the period is the 60 days from it.
		{"index fill later", []Fill{{"a", d("2026-01-31"), 30}, {"a", d("2026-03-12"), 30}}, map[string]float64{"a": 50.0 / 60}},
		{"fill before the period left out", []Fill{{"a", d("2025-12-20"), 30}, {"a", d("2026-01-01"), 30}, {"a", d("2026-02-15"), 30}}, map[string]float64{"a": 60.0 / 90}},
	}
	for _, c := range cases {
		got := PerMedicationPDC(c.fills, from, to)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTableProblems: a table that would score wrongly is refused, at its
// line.
func TestTableProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown field":  "tiers: {medium: 3, high: 6}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: inpatient\n    within: 30d\n    points: 4\n    colour: red\n",
		"unknown input":  "tiers: {medium: 3, high: 6}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: zodiac\n    points: 4\n    why: w\n    reason: r\n    source: s\n",
		"no window":      "tiers: {medium: 3, high: 6}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: inpatient\n    points: 4\n    why: w\n    reason: r\n    source: s\n",
		"no source":      "tiers: {medium: 3, high: 6}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: misconception\n    points: 1\n    why: w\n    reason: r\n",
		"tiers reversed": "tiers: {medium: 6, high: 3}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: misconception\n    points: 1\n    why: w\n    reason: r\n    source: s\n",
	}
	for name, yml := range cases {
		_, ps := Parse([]byte(yml))
		if len(ps) == 0 {
			t.Errorf("%s: no problem found", name)
			continue
		}
		if name == "unknown field" && ps[0].Line != 7 {
			t.Errorf("%s: line %d, want 7 (%s)", name, ps[0].Line, ps[0].Msg)
		}
		if name == "unknown input" && ps[0].Line != 4 {
			t.Errorf("%s: line %d, want 4 (%s)", name, ps[0].Line, ps[0].Msg)
		}
	}
}
