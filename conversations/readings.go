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
	t.add(Effect{Kind: Record, Reading: *r, Level: res.Level, Rule: rule, Status: "recorded"})
	t.act(r, &res)
	return nil
}
