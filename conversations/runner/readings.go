package runner

import (
	"context"
	"slices"
	"strconv"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/store"
)

// Readings records a batch of a patient's home readings (from the API or
// a FHIR Observation) in one commit: each is classified by the rules, a
// "reading" event, and what it sets off (a confirm question, an episode's
// ticket, the safety reply) is part of the same commit, so a reading is
// never recorded without its consequences nor the other way round. A
// reading whose id was recorded before is a duplicate: its outcome is the
// earlier one and nothing new happens. The readings must be valid
// (readings.Validate); an empty At is now, an empty Source the patient.
func (r *Runner) Readings(ctx context.Context, patientID string, rs []readings.Reading) ([]readings.Outcome, error) {
	var outs []readings.Outcome
	_, err := r.runOn(ctx, "reading", patientID, "", "", false, func(w *work) error {
		outs = outs[:0]
		var out conversations.Output
		for i := range rs {
			rd := rs[i]
			if rd.At.IsZero() {
				rd.At = w.now
			}
			if rd.Source == "" {
				rd.Source = readings.Patient
			}
			in := w.input(conversations.Input{Kind: conversations.Reading, Reading: &rd})
			in.Conditions, in.Location = Conditions(&w.p), r.location(&w.p)
			if err := r.Engine.Turn(&w.s, in, w.now, &out); err != nil {
				return err
			}
			for _, ef := range out.Effects {
				if ef.Kind == conversations.Record {
					outs = append(outs, readings.Outcome{ID: rd.ID, Level: ef.Level, Rule: ef.Rule, Duplicate: ef.Duplicate})
				}
			}
			w.out.Effects = append(w.out.Effects, out.Effects...)
			if out.Keyword != "" {
				w.out.Keyword = out.Keyword
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// Conditions are a patient's conditions as the reading rules see them:
// their programs and the conditions the clinic named beyond them.
func Conditions(p *store.Patient) []string {
	cs := make([]string, 0, len(p.Programs)+len(p.Conditions))
	for _, c := range p.Programs {
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	for _, c := range p.Conditions {
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	return cs
}

// readingEvent is a Record effect's timeline event: at the time the
// reading was taken, its value in the canonical unit.
func (r *Runner) readingEvent(w *work, ef *conversations.Effect) store.Event {
	rd := &ef.Reading
	at := rd.At
	if at.IsZero() {
		at = w.now
	}
	return store.Event{ID: r.NewID(w.now), Type: "reading", At: at, Kind: string(rd.Kind), Value: FormatValue(rd), Unit: rd.Unit,
		Source: string(rd.Source), Level: string(ef.Level), Rule: ef.Rule, Status: ef.Status, Flow: ef.Origin}
}

// FormatValue is a reading's value as events carry it: "150/95" for a
// blood pressure, the number otherwise.
func FormatValue(rd *readings.Reading) string {
	if rd.Kind == readings.BloodPressure {
		return strconv.Itoa(rd.Systolic) + "/" + strconv.Itoa(rd.Diastolic)
	}
	return strconv.FormatFloat(rd.Value, 'f', -1, 64)
}

// episodeEvent is an EpisodeChange effect's timeline event, naming the
// episode's ticket: the open ticket of the condition's reason.
func (r *Runner) episodeEvent(w *work, ef *conversations.Effect) store.Event {
	e := store.Event{ID: r.NewID(w.now), Type: "episode", At: w.now, Condition: ef.Condition, Rule: ef.Rule, Status: ef.Status,
		Priority: ef.Priority, Flow: ef.Origin}
	for _, t := range w.s.Tickets {
		if t.Reason == ef.Reason {
			e.Ticket = t.ID
		}
	}
	return e
}
