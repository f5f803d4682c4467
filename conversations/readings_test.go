package conversations

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/rules"
)

// patientSim drives the engine for one patient with a manual clock, as
// the Runner would: readings, texts, and the flow timer when it is due.
type patientSim struct {
	t     *testing.T
	e     *Engine
	s     Session
	clock *ManualClock
	conds []string
	loc   *time.Location
	chain []string
	out   Output
}

func newSim(t *testing.T, conds ...string) *patientSim {
	t.Helper()
	return &patientSim{t: t, e: simEngine(t), s: Session{Lang: "en"}, clock: NewManualClock(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)), conds: conds}
}

var simEngineOnce struct {
	e *Engine
}

func simEngine(t testing.TB) *Engine {
	if simEngineOnce.e == nil {
		simEngineOnce.e = testEngine(t)
	}
	return simEngineOnce.e
}

func (p *patientSim) turn(in Input) []string {
	p.t.Helper()
	in.Conditions, in.Location, in.Chain = p.conds, p.loc, p.chain
	if err := p.e.Turn(&p.s, in, p.clock.Now(), &p.out); err != nil {
		p.t.Fatal(err)
	}
	return summarize(p.out.Effects)
}

// bp, value: a reading now.
func (p *patientSim) bp(sys, dia int) []string {
	p.t.Helper()
	return p.turn(Input{Kind: Reading, Reading: &readings.Reading{Kind: readings.BloodPressure, Systolic: sys, Diastolic: dia, Unit: readings.UnitMmHg, At: p.clock.Now()}})
}

func (p *patientSim) value(kind readings.Kind, v float64) []string {
	p.t.Helper()
	unit := map[readings.Kind]string{readings.Weight: readings.UnitKg, readings.Glucose: readings.UnitMgDL, readings.SpO2: readings.UnitPercent, readings.HeartRate: readings.UnitPerMin}[kind]
	return p.turn(Input{Kind: Reading, Reading: &readings.Reading{Kind: kind, Value: v, Unit: unit, At: p.clock.Now()}})
}

func (p *patientSim) text(s string) []string {
	p.t.Helper()
	return p.turn(Input{Kind: Text, Text: s})
}

// timeout moves the clock to the flow timer and fires it.
func (p *patientSim) timeout() []string {
	p.t.Helper()
	if p.s.TimerDue == 0 {
		p.t.Fatal("no flow timer")
	}
	p.clock.Set(time.Unix(p.s.TimerDue, 0).UTC())
	return p.turn(Input{Kind: Timeout, Due: p.s.TimerDue})
}

func (p *patientSim) state() rules.State {
	var st rules.State
	if err := rules.DecodeState(p.s.Section(rules.SectionEpisodes), &st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

// summarize writes effects as short lines: "record alert bp-crisis",
// "episode confirming hypertension bp-crisis high", "say confirm.bp.ask",
// "escalate high home readings: blood pressure". Timers are left out.
func summarize(efs []Effect) []string {
	var out []string
	for _, ef := range efs {
		switch ef.Kind {
		case Record:
			s := fmt.Sprintf("record %s %s", ef.Level, ef.Rule)
			if ef.Duplicate {
				s += " duplicate"
			}
			out = append(out, strings.TrimSpace(s))
		case EpisodeChange:
			out = append(out, strings.TrimSpace(fmt.Sprintf("episode %s %s %s %s", ef.Status, ef.Condition, ef.Rule, ef.Priority)))
		case Send:
			out = append(out, "say "+ef.Message)
		case Escalate:
			out = append(out, "escalate "+ef.Priority+" "+ef.Reason)
		}
	}
	return out
}

func want(t *testing.T, what string, got []string, lines ...string) {
	t.Helper()
	if !slices.Equal(got, lines) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, lines)
	}
}

func has(got []string, line string) bool { return slices.Contains(got, line) }

const (
	bpReason      = "escalate high home readings: blood pressure"
	bpAcuteReason = "escalate acute home readings: blood pressure"
)

// bp-crisis: the patient is asked first; a second high reading confirms
// the alert and opens the ticket at the rule's priority.
func TestBPCrisisConfirmedBySecondReading(t *testing.T) {
	p := newSim(t, "hypertension")
	want(t, "first crisis reading", p.bp(185, 100),
		"record alert bp-crisis", "episode confirming hypertension bp-crisis high", "say confirm.bp.ask")
	if p.s.Flow != "confirm-bp" {
		t.Fatalf("flow %q, want confirm-bp", p.s.Flow)
	}
	want(t, "no symptoms", p.text("no"), "say confirm.bp.remeasure")
	p.clock.Add(5 * time.Minute)
	want(t, "second crisis reading", p.bp(182, 101),
		"record alert bp-crisis", "escalate high home readings: blood pressure", "episode opened hypertension bp-crisis high", "say reading.ticket")
	if p.s.Flow != "" {
		t.Fatalf("the confirm flow still runs: %q", p.s.Flow)
	}
	p.clock.Add(time.Hour)
	want(t, "a third attaches", p.bp(190, 100), "record alert bp-crisis", "episode attached hypertension bp-crisis high")
}

// Symptoms YES: one priority higher at once; for a crisis that is acute,
// the safety reply.
func TestBPCrisisWithSymptomsIsAnEmergency(t *testing.T) {
	p := newSim(t)
	p.bp(181, 95)
	want(t, "yes", p.text("yes"), "escalate acute home readings: blood pressure", "episode opened hypertension bp-crisis acute", "say keyword.emergency")
}

// No answer in the confirm timeout: the ticket at the rule's priority.
func TestBPCrisisUnanswered(t *testing.T) {
	p := newSim(t)
	p.bp(150, 125)
	want(t, "timeout", p.timeout(), bpReason, "episode opened hypertension bp-crisis high")
	// And after NO, no second reading in time: the same.
	q := newSim(t)
	q.bp(150, 125)
	q.text("NO")
	want(t, "timeout after no", q.timeout(), bpReason, "episode opened hypertension bp-crisis high")
}

// A second reading in range dismisses the alert: no ticket.
func TestBPCrisisDismissed(t *testing.T) {
	p := newSim(t)
	p.bp(185, 100)
	p.text("no")
	want(t, "in range", p.bp(132, 84), "record normal", "episode dismissed hypertension bp-crisis", "say reading.thanks")
	if len(p.state().Episodes) != 0 || p.s.Flow != "" || p.s.TimerDue != 0 {
		t.Fatalf("after dismissal: episodes %+v flow %q timer %d", p.state().Episodes, p.s.Flow, p.s.TimerDue)
	}
	// The next alert asks again.
	want(t, "next alert", p.bp(186, 100), "record alert bp-crisis", "episode confirming hypertension bp-crisis high", "say confirm.bp.ask")
}

func TestBPLow(t *testing.T) {
	p := newSim(t)
	want(t, "low", p.bp(85, 55), "record alert bp-low", "episode confirming hypertension bp-low high", "say confirm.bp_low.ask")
	want(t, "dizzy", p.text("yes"), "escalate acute home readings: blood pressure", "episode opened hypertension bp-low acute", "say keyword.emergency")
}

// Close after N normal days, re-arm after the quiet period.
func TestBPEpisodeClosesAndRearms(t *testing.T) {
	p := newSim(t)
	p.bp(185, 100)
	p.timeout()
	// Three normal readings on one day are one day.
	for range 3 {
		p.clock.Add(time.Hour)
		want(t, "normal", p.bp(125, 80), "record normal")
	}
	for day := 1; day <= 2; day++ {
		p.clock.Add(24 * time.Hour)
		got := p.bp(125, 80)
		if day == 2 {
			want(t, "third normal day", got, "record normal", "episode closed hypertension bp-crisis high")
		} else {
			want(t, "second normal day", got, "record normal")
		}
	}
	p.clock.Add(24 * time.Hour)
	want(t, "alert in the quiet period", p.bp(185, 100), "record alert bp-crisis")
	p.clock.Add(48 * time.Hour)
	want(t, "after 72 h", p.bp(185, 100), "record alert bp-crisis", "episode confirming hypertension bp-crisis high", "say confirm.bp.ask")
}

// An acute reading acts even in the quiet period, and a snooze never
// turns an acute rule off.
func TestSpO2Emergency(t *testing.T) {
	p := newSim(t)
	st := rules.State{Snoozes: []rules.Snooze{{Rule: "spo2-emergency", Until: p.clock.Now().Add(time.Hour).Unix()}}}
	p.s.SetSection(rules.SectionEpisodes, st.AppendBinary(nil))
	want(t, "spo2 83", p.value(readings.SpO2, 83),
		"record acute spo2-emergency", "say keyword.emergency", "escalate acute home readings: oxygen", "episode opened spo2 spo2-emergency acute")
}

// SpO2: the floor, COPD's lower floor, and the personal median.
func TestSpO2Low(t *testing.T) {
	p := newSim(t)
	want(t, "91", p.value(readings.SpO2, 91), "record alert spo2-low", "episode confirming spo2 spo2-low high", "say confirm.spo2.ask")

	c := newSim(t, "copd")
	want(t, "copd 90", c.value(readings.SpO2, 90), "record normal")
	want(t, "copd 87", c.value(readings.SpO2, 87), "record alert spo2-low", "episode confirming spo2 spo2-low high", "say confirm.spo2.ask")

	m := newSim(t)
	for _, v := range []float64{98, 97, 98, 97, 98} {
		m.clock.Add(24 * time.Hour)
		want(t, "usual", m.value(readings.SpO2, v), "record normal")
	}
	m.clock.Add(24 * time.Hour)
	want(t, "4 below the median", m.value(readings.SpO2, 93), "record alert spo2-low", "episode confirming spo2 spo2-low high", "say confirm.spo2.ask")
}

// Heart failure weight: the fixed rules and the personal baseline.
func TestWeightRules(t *testing.T) {
	p := newSim(t, "heart-failure")
	want(t, "first", p.value(readings.Weight, 80), "record normal")
	p.clock.Add(24 * time.Hour)
	want(t, "+1.5 in a day", p.value(readings.Weight, 81.5), "record alert weight-gain", "episode confirming heart-failure weight-gain low", "say confirm.weight.ask")
	want(t, "swelling", p.text("yes"), "escalate high home readings: weight", "episode opened heart-failure weight-gain high", "say reading.ticket")

	// Not a heart failure patient: weight rules do not apply.
	q := newSim(t, "hypertension")
	q.value(readings.Weight, 80)
	q.clock.Add(24 * time.Hour)
	want(t, "no hf", q.value(readings.Weight, 83), "record normal")

	// +2.3 over the week's lowest, never 1.4 in a day.
	w := newSim(t, "heart-failure")
	for _, v := range []float64{80, 80.8, 81.6, 82.4} {
		w.clock.Add(24 * time.Hour)
		w.value(readings.Weight, v)
	}
	w.clock.Add(24 * time.Hour)
	if got := w.value(readings.Weight, 82.4); got[0] != "record alert weight-gain" {
		t.Fatalf("+2.4 over the week: %q", got)
	}

	// Loss: 0.9 kg in 2 days.
	l := newSim(t, "heart-failure")
	l.value(readings.Weight, 80)
	l.clock.Add(24 * time.Hour)
	l.value(readings.Weight, 79.6)
	l.clock.Add(24 * time.Hour)
	want(t, "loss", l.value(readings.Weight, 79.0), "record alert weight-loss", "episode confirming heart-failure weight-loss low", "say confirm.weight.ask")
}

// The personal baseline: a patient whose weight barely moves is alerted on
// a rise the fixed rules miss.
func TestWeightPersonal(t *testing.T) {
	p := newSim(t, "heart-failure")
	for i := range 20 {
		p.clock.Add(24 * time.Hour)
		p.value(readings.Weight, 80+0.1*float64(i%2))
	}
	p.clock.Add(24 * time.Hour)
	want(t, "+0.8", p.value(readings.Weight, 80.8), "record normal")
	p.clock.Add(24 * time.Hour)
	want(t, "+1.6 over the mean", p.value(readings.Weight, 81.7), "record alert weight-personal", "episode confirming heart-failure weight-personal low", "say confirm.weight.ask")

	// The same rise for a patient whose weight swings by a kilo a day is
	// not beyond their own spread.
	q := newSim(t, "heart-failure")
	for i := range 20 {
		q.clock.Add(24 * time.Hour)
		q.value(readings.Weight, 79.5+1.0*float64(i%2))
	}
	q.clock.Add(24 * time.Hour)
	q.value(readings.Weight, 80.8)
	q.clock.Add(24 * time.Hour)
	want(t, "within their spread", q.value(readings.Weight, 81.7), "record normal")
}

// Glucose: level 2 asks with the rule of 15; level 1 says it and counts;
// two level-1 readings in 7 days open a routine ticket.
func TestGlucoseLow(t *testing.T) {
	p := newSim(t, "type2-diabetes")
	want(t, "50", p.value(readings.Glucose, 50), "record alert glucose-level2", "episode confirming type2-diabetes glucose-level2 high", "say confirm.glucose_low.ask")
	want(t, "no answer in 15 min", p.timeout(), "escalate high home readings: blood sugar", "episode opened type2-diabetes glucose-level2 high")

	q := newSim(t, "type2-diabetes")
	got := q.value(readings.Glucose, 65)
	if !has(got, "say r15.lesson.treat") || q.s.Flow != "rule-of-15" || !slices.ContainsFunc(q.out.Effects, func(ef Effect) bool { return ef.Kind == Send && ef.Urgent }) {
		t.Fatalf("65: %q, flow %q: want the rule of 15 lesson at once, urgent", got, q.s.Flow)
	}
	q.clock.Add(3 * 24 * time.Hour)
	if got := q.value(readings.Glucose, 65); !has(got, "escalate low low blood sugar twice in 7 days: medication review") {
		t.Fatalf("65 again: %q", got)
	}
}

func TestGlucoseHigh(t *testing.T) {
	p := newSim(t, "type2-diabetes")
	want(t, "310", p.value(readings.Glucose, 310), "record alert glucose-high", "episode confirming type2-diabetes glucose-high medium", "say confirm.glucose_high.ask")

	q := newSim(t, "type2-diabetes")
	want(t, "260", q.value(readings.Glucose, 260), "record normal")
	q.clock.Add(time.Hour)
	want(t, "265 an hour later", q.value(readings.Glucose, 265), "record normal")
	q.clock.Add(4 * time.Hour)
	want(t, "270 five hours after the first", q.value(readings.Glucose, 270), "record alert glucose-high", "episode confirming type2-diabetes glucose-high medium", "say confirm.glucose_high.ask")
}

// Attach and raise: a later, more severe alert of the same condition
// raises the open episode's ticket; never lowers it.
func TestEpisodeAttachAndRaise(t *testing.T) {
	p := newSim(t, "type2-diabetes")
	p.value(readings.Glucose, 310)
	want(t, "unanswered", p.timeout(), "escalate medium home readings: blood sugar", "episode opened type2-diabetes glucose-high medium")
	p.clock.Add(time.Hour)
	want(t, "level 2", p.value(readings.Glucose, 50), "record alert glucose-level2", "escalate high home readings: blood sugar", "episode raised type2-diabetes glucose-level2 high")
	p.clock.Add(time.Hour)
	want(t, "high again", p.value(readings.Glucose, 320), "record alert glucose-high", "episode attached type2-diabetes glucose-high high")
	// Glucose closes after 3 normal readings (not days).
	for i := range 3 {
		p.clock.Add(time.Hour)
		got := p.value(readings.Glucose, 120)
		if i == 2 {
			want(t, "third normal", got, "record normal", "episode closed type2-diabetes glucose-high high")
		}
	}
}

// One episode per condition: a second condition opens its own.
func TestOneEpisodePerCondition(t *testing.T) {
	p := newSim(t, "type2-diabetes")
	p.bp(185, 100)
	p.timeout()
	p.clock.Add(time.Hour)
	want(t, "glucose alert", p.value(readings.Glucose, 50), "record alert glucose-level2", "episode confirming type2-diabetes glucose-level2 high", "say confirm.glucose_low.ask")
	p.clock.Add(time.Minute)
	want(t, "bp alert attaches", p.bp(184, 100), "record alert bp-crisis", "episode attached hypertension bp-crisis high")
	if st := p.state(); len(st.Episodes) != 2 {
		t.Fatalf("episodes %+v", st.Episodes)
	}
}

// Watch rules: patterns and firsts.
func TestBPReviewAndFirstHigh(t *testing.T) {
	p := newSim(t, "hypertension")
	if got := p.bp(142, 88); got[0] != "record watch bp-first-high" || !has(got, "say bpm.lesson.before") || p.s.Flow != "bp-measuring" {
		t.Fatalf("first high: %q, flow %q: want the measuring lesson", got, p.s.Flow)
	}
	for day := 2; day <= 4; day++ {
		p.clock.Add(24 * time.Hour)
		got := p.bp(142, 88)
		if day == 4 {
			want(t, "fourth day above 135/85", got, "record watch bp-review", "escalate low blood pressure above target on 4 of the last 7 days: review treatment")
		} else {
			want(t, "a high day is not yet a pattern", got, "record normal")
		}
	}
	p.clock.Add(24 * time.Hour)
	want(t, "at most every 14 days", p.bp(142, 88), "record watch bp-review")

	// 132/82 is above the target with diabetes, not without.
	d := newSim(t, "type2-diabetes")
	n := newSim(t, "hypertension")
	for day := 1; day <= 4; day++ {
		d.clock.Add(24 * time.Hour)
		n.clock.Add(24 * time.Hour)
		gd, gn := d.bp(132, 82), n.bp(132, 82)
		if day == 4 && !has(gd, "escalate low blood pressure above target on 4 of the last 7 days: review treatment") {
			t.Fatalf("diabetes at 132/82 on 4 days: %q", gd)
		}
		if has(gn, "record watch bp-review") {
			t.Fatalf("no diabetes at 132/82: %q", gn)
		}
	}
}

func TestGlucoseFastingReview(t *testing.T) {
	p := newSim(t, "type2-diabetes")
	p.clock.Set(time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC))
	want(t, "evening 200 is not fasting", p.turn(Input{Kind: Reading, Reading: &readings.Reading{Kind: readings.Glucose, Value: 200, Unit: readings.UnitMgDL, At: time.Date(2026, 3, 1, 19, 0, 0, 0, time.UTC)}}), "record normal")
	for day := 1; day <= 3; day++ {
		got := p.value(readings.Glucose, 190)
		if day == 3 {
			want(t, "third fasting day", got, "record watch glucose-fasting-review", "escalate low fasting blood sugar above 180 on 3 of the last 7 days: review treatment")
		}
		p.clock.Add(24 * time.Hour)
	}
}

func TestHeartRate(t *testing.T) {
	p := newSim(t)
	want(t, "105", p.value(readings.HeartRate, 105), "record watch hr-watch")
	want(t, "125", p.value(readings.HeartRate, 125), "record alert hr-alert", "episode confirming heart-rate hr-alert medium", "say confirm.hr.ask")
	want(t, "symptoms", p.text("yes"), "escalate high home readings: pulse", "episode opened heart-rate hr-alert high", "say reading.ticket")
}

// A reading posted again with its id is recorded once.
func TestDuplicateReading(t *testing.T) {
	p := newSim(t)
	r := readings.Reading{ID: "r-1", Kind: readings.BloodPressure, Systolic: 185, Diastolic: 100, Unit: readings.UnitMmHg, At: p.clock.Now()}
	p.turn(Input{Kind: Reading, Reading: &r})
	want(t, "again", p.turn(Input{Kind: Reading, Reading: &r}), "record alert bp-crisis duplicate")
}

// Nobody can be asked (opted out everywhere, or a person has the
// conversation): the episode opens at once, nothing is sent.
func TestAlertNobodyToAsk(t *testing.T) {
	p := newSim(t)
	p.s.OptedOut.Add(SMS)
	want(t, "opted out", p.bp(185, 100), "record alert bp-crisis", bpReason, "episode opened hypertension bp-crisis high")
	q := newSim(t)
	q.s.Owner = "nurse@clinic.org"
	want(t, "owned", q.bp(185, 100), "record alert bp-crisis", bpReason, "episode opened hypertension bp-crisis high")
}

// A nurse's threshold and snooze change the patient's rules.
func TestThresholdAndSnooze(t *testing.T) {
	p := newSim(t)
	st := rules.State{Thresholds: []rules.Threshold{{Rule: "bp-crisis", Measure: "systolic", Op: "at_least", Value: 170}}}
	p.s.SetSection(rules.SectionEpisodes, st.AppendBinary(nil))
	if got := p.bp(172, 90); got[0] != "record alert bp-crisis" {
		t.Fatalf("172 with the threshold at 170: %q", got)
	}
	q := newSim(t)
	st = rules.State{Snoozes: []rules.Snooze{{Rule: "hr-watch", Until: q.clock.Now().Add(24 * time.Hour).Unix(), Reason: "beta blocker started"}}}
	q.s.SetSection(rules.SectionEpisodes, st.AppendBinary(nil))
	want(t, "snoozed", q.value(readings.HeartRate, 105), "record normal")
	q.clock.Add(25 * time.Hour)
	want(t, "snooze over", q.value(readings.HeartRate, 105), "record watch hr-watch")
}

// A reading while another flow waits: the confirm question interrupts
// it (safety priority), and the interrupted flow comes back after.
func TestConfirmInterruptsAFlow(t *testing.T) {
	p := newSim(t)
	p.turn(Input{Kind: Start, Flow: "hf-daily-weight"})
	p.bp(185, 100)
	if p.s.Flow != "confirm-bp" || len(p.s.Queue) != 1 || p.s.Queue[0].Flow != "hf-daily-weight" {
		t.Fatalf("flow %q queue %+v", p.s.Flow, p.s.Queue)
	}
	p.text("no")
	got := p.bp(130, 80)
	if p.s.Flow != "hf-daily-weight" || !has(got, "episode dismissed hypertension bp-crisis") {
		t.Fatalf("after the dismissal: flow %q, %q", p.s.Flow, got)
	}
}

// Typed readings: recorded like a device's, after the safety checks; an
// implausible one is asked again; an unclear weight takes the unit of the
// patient's recent weight; a question that waited is asked again.
func TestTypedReadings(t *testing.T) {
	p := newSim(t, "hypertension", "heart-failure")
	want(t, "BP 185/100", p.text("BP 185/100"), "record alert bp-crisis", "episode confirming hypertension bp-crisis high", "say confirm.bp.ask")
	if !p.out.Effects[2].Reply {
		t.Fatal("the confirm question answers the patient")
	}
	want(t, "chest pain first", p.text("chest pain 185/100 crushing, can't breathe"), "say keyword.emergency", "escalate acute emergency: chest pain")

	q := newSim(t, "heart-failure")
	q.turn(Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "lisinopril"}}})
	want(t, "a reading while a question waits", q.text("peso 82,4 kg"), "record normal", "say reading.thanks", "say med.ask")
	want(t, "implausible", q.text("weight 900 kg"), "say reading.again", "say med.ask")
	q.clock.Add(24 * time.Hour)
	got := q.text("weight 182")
	if got[0] != "record normal" {
		t.Fatalf("182 with a baseline of 82.4 kg: %q", got)
	}
	var h rules.History
	rules.DecodeHistory(q.s.Section(rules.SectionReadings), &h)
	if v, _ := h.LastValue(readings.Weight); v < 82 || v > 83 {
		t.Fatalf("182 read as %v kg, want lb", v)
	}
	r := newSim(t, "heart-failure")
	want(t, "unclear without a baseline", r.text("weight 120"), "say reading.unit")
	want(t, "not a reading", newSim(t).text("see you on the 12th at 3"), "escalate low patient message", "say idle.reply")
}

// A closed heart failure episode starts the salt and fluids refresher.
func TestHFEpisodeCloseStartsRefresher(t *testing.T) {
	p := newSim(t, "heart-failure")
	p.value(readings.Weight, 80)
	p.clock.Add(24 * time.Hour)
	p.value(readings.Weight, 81.6)
	p.timeout()
	for day := 1; day <= 3; day++ {
		p.clock.Add(24 * time.Hour)
		got := p.value(readings.Weight, 81.5)
		if day == 3 && (!has(got, "episode closed heart-failure weight-gain low") || p.s.Flow != "salt-and-fluids") {
			t.Fatalf("third normal day: %q, flow %q", got, p.s.Flow)
		}
	}
}
