package conversations

import (
	"errors"

	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/rules"
)

// Rules are the engine's compiled reading rules.
func (e *Engine) Rules() *rules.Rules { return e.rules }

// errNoReading is a Reading input without its reading.
var errNoReading = errors.New("conversations: a reading input carries no reading")

// clinical is a turn's view of the patient's clinical sections, decoded
// once when a turn first needs them and written back at its end.
type clinical struct {
	h  rules.History
	st rules.State
}

// clinical decodes the sections. A section that cannot be read starts
// over empty: a lost history costs personal baselines for a few days, a
// session that cannot take readings would cost far more.
func (t *turn) clinical() *clinical {
	if t.cl == nil {
		t.cl = &clinical{}
		_ = rules.DecodeHistory(t.s.Section(rules.SectionReadings), &t.cl.h)
		_ = rules.DecodeState(t.s.Section(rules.SectionEpisodes), &t.cl.st)
	}
	return t.cl
}

// saveClinical writes the sections back when the turn read them.
func (t *turn) saveClinical() {
	if t.cl == nil {
		return
	}
	t.s.SetSection(rules.SectionReadings, t.cl.h.AppendBinary(t.s.Section(rules.SectionReadings)[:0:0]))
	t.s.SetSection(rules.SectionEpisodes, t.cl.st.AppendBinary(nil))
}

// patient is what the rules need of the patient, from the input.
func (t *turn) patient() rules.Patient {
	return rules.Patient{Conditions: t.in.Conditions, Loc: t.in.Location}
}

// reading handles a home reading: a reading whose id was recorded before
// is answered as it was and changes nothing; any other is classified
// against the patient's history, recorded, and acted on (episodes.go).
func (t *turn) reading(r *readings.Reading) error {
	if r == nil {
		return errNoReading
	}
	cl := t.clinical()
	if seen, ok := cl.h.Lookup(r.ID); ok {
		t.add(Effect{Kind: Record, Reading: *r, Level: seen.Level, Rule: seen.Rule, Duplicate: true, Status: "recorded"})
		t.cl = nil // nothing changed: leave the sections as they are
		return nil
	}
	res := t.e.rules.Classify(*r, t.patient(), &cl.h, &cl.st, t.now)
	rule := ""
	if res.Rule != nil {
		rule = res.Rule.ID
	}
	cl.h.Add(*r, res.Level, rule, t.now)
	t.armGaps(r)
	t.add(Effect{Kind: Record, Reading: *r, Level: res.Level, Rule: rule, Status: "recorded"})
	t.act(r, &res)
	return nil
}

// Messages about a typed reading.
const (
	MsgReadingAgain = "reading.again" // the value cannot be right: measure and send it again
	MsgReadingUnit  = "reading.unit"  // kg or lb? send it again with the unit
)

// typedReading reads a message as a home reading ("BP 150/95", "peso
// 82,4"). A reading is recorded and acted on like a device's; one that
// cannot be right is asked again, never alerted on; a weight whose unit
// is unclear takes the unit that fits the patient's recent weight, or is
// asked again with its unit. A flow that waited for a choice asks its
// question again. It reports whether the message was a reading.
func (t *turn) typedReading(raw string) bool {
	var asked readings.Kind
	if _, st := t.current(); st != nil {
		asked = readings.Kind(st.Reading)
	}
	r, problem := readings.ParseTextAs(raw, t.e.words, asked)
	switch problem {
	case readings.NotReading:
		return false
	case readings.Implausible:
		t.out.Keyword = "reading_again"
		t.say(MsgReadingAgain, nil)
		t.reask(t.s.Flow, t.s.State)
		return true
	case readings.UnitUnclear:
		base, ok := t.clinical().h.LastValue(readings.Weight)
		unit := ""
		if ok {
			unit = readings.GuessWeightUnit(r.Value, base)
		}
		if unit == "" {
			t.out.Keyword = "reading_unit"
			t.say(MsgReadingUnit, nil)
			t.reask(t.s.Flow, t.s.State)
			return true
		}
		if r, problem = readings.WithUnit(r, unit); problem != readings.OK {
			t.say(MsgReadingAgain, nil)
			return true
		}
	}
	t.out.Keyword = "reading"
	r.At, r.Source = t.now, readings.Patient
	flow, state := t.s.Flow, t.s.State
	n := len(t.out.Effects)
	_ = t.reading(&r)
	said := false
	for _, ef := range t.out.Effects[n:] {
		if ef.Kind == Send {
			said = true
		}
	}
	if !said && t.s.Owner == "" {
		t.say(MsgReadingThanks, nil)
	}
	if t.s.Owner == "" {
		t.reask(flow, state)
	}
	return true
}

// reask asks the waiting question again after a message that was not its
// answer, when the flow still waits where it did before the message.
func (t *turn) reask(flow, state string) {
	if flow == "" || t.s.Flow != flow || t.s.State != state {
		return
	}
	f, st := t.current()
	if st == nil || len(st.Choices) == 0 || st.Say == "" {
		return
	}
	t.say(st.Say, func(ef *Effect) { ef.Params, ef.Flow, ef.State, ef.Step = t.s.Params, f.ID, st.ID, t.s.Step })
}
