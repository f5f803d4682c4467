package runner

import (
	"context"
	"time"

	"github.com/tendcare/tend/adherence"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/store"
)

// Dispense records pharmacy fills as dispense events, in one commit. A fill
// the timeline already has (same medication, date and days' supply) is
// not recorded again, so a client's retry records nothing twice; the
// medication is kept as content.NormalizeMedication writes it. It returns
// the number recorded; store.ErrNotFound when the patient is not enrolled.
func (r *Runner) Dispense(ctx context.Context, patientID string, ds []enrollment.Dispense) (recorded int, err error) {
	err = r.run(ctx, "dispense", patientID, "", func(w *work) error {
		recorded = 0
		events, err := r.Store.Timeline(ctx, patientID)
		if err != nil {
			return err
		}
		for _, e := range newDispenses(events, ds) {
			w.c.Events = append(w.c.Events, r.dispenseEvent(w.now, e))
			recorded++
		}
		return nil
	})
	return recorded, err
}

func (r *Runner) dispenseEvent(now time.Time, d enrollment.Dispense) store.Event {
	return store.Event{ID: r.NewID(now), Type: adherence.EventDispense, At: now, Medication: d.Medication, Date: d.Date, Days: d.DaysSupply}
}

// newDispenses are the fills of ds the timeline does not have yet, each
// once, normalized.
func newDispenses(events []store.Event, ds []enrollment.Dispense) []enrollment.Dispense {
	type key struct {
		med, date string
		days      int
	}
	have := map[key]bool{}
	for i := range events {
		if e := &events[i]; e.Type == adherence.EventDispense {
			have[key{e.Medication, e.Date, e.Days}] = true
		}
	}
	var out []enrollment.Dispense
	for _, d := range ds {
		d.Medication = content.NormalizeMedication(d.Medication)
		k := key{d.Medication, d.Date, d.DaysSupply}
		if have[k] {
			continue
		}
		have[k] = true
		out = append(out, d)
	}
	return out
}

// Adherence reads a patient's adherence over the days [from, to] in their
// time zone: the PDC of each medication class from the dispense events,
// and the dose replies (adherence.Summarize).
func (r *Runner) Adherence(ctx context.Context, patientID string, from, to adherence.Day) (adherence.Report, error) {
	p, _, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return adherence.Report{}, err
	}
	events, err := r.Store.Timeline(ctx, patientID)
	if err != nil {
		return adherence.Report{}, err
	}
	return adherence.Summarize(events, p.Medications, &r.Engine.Pack.Medications, from, to, r.location(&p)), nil
}

// Today is the patient's date now, in their time zone: where an
// adherence period ends by default.
func (r *Runner) Today(p *store.Patient) adherence.Day {
	return adherence.DayOf(r.Clock().In(r.location(p)))
}

// reachWindow bounds how far back a timed-out flow's messages are looked
// for: no flow waits longer for an answer (the engine's default wait is a
// day).
const reachWindow = 48 * time.Hour

// reachedStatuses are the message statuses that say a message reached the
// patient, or may have: a provider accepted it ("sent": many carriers
// report no delivery), it was delivered or read, a call left a voicemail,
// or a send's outcome is unknown (a crash mid-send). Every other status
// (still queued or held, retrying, failed, undelivered, cancelled as
// stale, a call busy or unanswered) says it did not.
var reachedStatuses = map[string]bool{"sent": true, "delivered": true, "read": true, "voicemail": true, "unknown": true}

// undelivered turns the no_answer a flow's timeout recorded into
// undelivered when none of the flow's messages reached the patient: a
// reminder that never arrived is not a question the patient left
// unanswered. It reads the timeline, which only such a timeout needs.
func (r *Runner) undelivered(ctx context.Context, w *work) error {
	for i := range w.out.Effects {
		ef := &w.out.Effects[i]
		if ef.Kind != conversations.Adherence || ef.Status != adherence.NoAnswer {
			continue
		}
		events, err := r.Store.Timeline(ctx, w.p.ID)
		if err != nil {
			return err
		}
		if !r.reached(events, ef.Origin, w.now) {
			ef.Status = adherence.Undelivered
		}
	}
	return nil
}

// reached reports whether the run of flow that is timing out reached the
// patient: going back from now, a message the patient wrote, or a message
// of the flow with a status of reachedStatuses. The run began with the
// flow's first message (its start state's); copies of it sent again on
// another channel come after it, and the last of them is where the run's
// messages end.
func (r *Runner) reached(events []store.Event, flow string, now time.Time) bool {
	first := ""
	if f := r.Engine.Pack.Flows[flow]; f != nil && f.States[f.Start] != nil {
		first = f.States[f.Start].Say
	}
	since := now.Add(-reachWindow)
	for i := len(events) - 1; i >= 0; i-- {
		e := &events[i]
		if e.At.Before(since) {
			break
		}
		switch {
		case e.Type == "message.in":
			return true
		case e.Type == "message.out" && e.Flow == flow:
			if reachedStatuses[e.Status] {
				return true
			}
			if first != "" && e.Message == first {
				return false
			}
		case e.Type == adherence.EventAdherence && e.Flow == flow && e.Status != adherence.NotYet:
			return false // the end of the flow's run before this one
		}
	}
	return false
}
