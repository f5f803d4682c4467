package runner

import (
	"context"

	"github.com/tendcare/tend/rules"
)

// SetThresholds replaces a patient's own thresholds (a nurse's numbers for
// the rules' tests, rules.Threshold) in one commit; an empty list goes
// back to the pack's. Each is checked first (*rules.InputError names the
// field); store.ErrNotFound for an unknown patient.
func (r *Runner) SetThresholds(ctx context.Context, patientID string, ths []rules.Threshold) error {
	for _, th := range ths {
		if err := r.Engine.Rules().CheckThreshold(th); err != nil {
			return err
		}
	}
	return r.run(ctx, "thresholds", patientID, "", func(w *work) error {
		var st rules.State
		_ = rules.DecodeState(w.s.Section(rules.SectionEpisodes), &st)
		st.Thresholds = append([]rules.Threshold(nil), ths...)
		w.s.SetSection(rules.SectionEpisodes, st.AppendBinary(nil))
		return nil
	})
}

// Snooze turns a rule off for a patient until a time, with a reason
// (rules.CheckSnooze: never an acute rule); snoozing a rule again
// replaces its snooze.
func (r *Runner) Snooze(ctx context.Context, patientID string, z rules.Snooze) error {
	if err := r.Engine.Rules().CheckSnooze(z, r.Clock()); err != nil {
		return err
	}
	return r.run(ctx, "snooze", patientID, "", func(w *work) error {
		var st rules.State
		_ = rules.DecodeState(w.s.Section(rules.SectionEpisodes), &st)
		st.SetSnooze(z, w.now)
		w.s.SetSection(rules.SectionEpisodes, st.AppendBinary(nil))
		return nil
	})
}
