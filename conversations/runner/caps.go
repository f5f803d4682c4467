package runner

import (
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// capping is one start a cap refused in a turn, for the metric.
type capping struct{ outcome, rule string }

// capStart makes a start Tend decides on its own (a schedule's timer, a
// deferred start, a clinic's API call) within the caps the patient was
// promised (conversations.CapsOf). The count lives in the session's
// tallies, so it survives restarts and is shared by replicas through the
// store's compare-and-set like the rest of the session.
//
// Not counted: a start that is already there (active, queued or held), one
// that changes nothing (the patient opted out everywhere), and safety
// flows. Never passing here: replies, safety replies, keyword answers, a
// person's messages, the welcome (it answers the enrollment) and the
// starts a person hands back (counted when they were held).
//
// A start over a cap is deferred to the first local day it fits, or
// dropped when it would be stale by then (stale; zero: never); either way
// a "capped" timeline event says so.
func (r *Runner) capStart(w *work, in conversations.Input, stale time.Time) error {
	in = w.input(in)
	f := r.Engine.Pack.Flows[in.Flow]
	if f == nil || f.Priority == content.PrioritySafety || w.s.OptedOut.HasAll(in.Chain) || w.s.Has(in.Flow, in.Params) {
		return r.Engine.Turn(&w.s, in, w.now, &w.out)
	}
	loc := r.location(&w.p)
	d := conversations.DecideCap(w.s.Tallies, conversations.CapsOf(r.Engine.Pack, &w.p), f.Purpose, stale, w.now, loc)
	if !d.Allowed {
		r.capped(w, in, d, loc)
		return nil
	}
	if err := r.Engine.Turn(&w.s, in, w.now, &w.out); err != nil {
		return err
	}
	if w.s.Has(in.Flow, in.Params) || said(&w.out, in.Flow) {
		w.s.CountStart(f.Purpose, w.now)
	}
	return nil
}

// said reports whether a turn sent a message of flow: a flow that asks
// nothing ends in the turn that starts it.
func said(out *conversations.Output, flow string) bool {
	for _, ef := range out.Effects {
		if ef.Kind == conversations.Send && ef.Origin == flow {
			return true
		}
	}
	return false
}

// capped records a refused start on the timeline and, when deferred, sets
// the timer that tries it again: at the same local time on the day it
// fits, or when sending opens that day if that time is in quiet hours.
func (r *Runner) capped(w *work, in conversations.Input, d conversations.CapDecision, loc *time.Location) {
	w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "capped", At: w.now, Flow: in.Flow, Status: d.Outcome, Reason: d.Rule})
	w.capped = append(w.capped, capping{d.Outcome, d.Rule})
	r.log().Info("start capped", "patient", w.p.ID, "outcome", d.Outcome, "rule", d.Rule)
	if d.Outcome != conversations.CapDeferred {
		return
	}
	due := d.Until
	if !r.Quiet.Allowed(due, loc) {
		l := due.In(loc)
		due = r.Quiet.NextOpen(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc), loc)
	}
	w.setTimer(conversations.DeferredTimer(in.Flow, in.Params), due.Truncate(time.Second))
}

// staleAt is when a scheduled start is too late to make: a daily dose
// reminder's stale second, an appointment reminder's appointment; zero
// for the others, which are worth making a day later.
func staleAt(sc conversations.Scheduled, stale int64, loc *time.Location) time.Time {
	if stale != 0 {
		return time.Unix(stale, 0)
	}
	var date, clock string
	for _, p := range sc.Params {
		switch p.Key {
		case "date":
			date = p.Value
		case "time":
			clock = p.Value
		}
	}
	if date == "" || clock == "" {
		return time.Time{}
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", date+" "+clock, loc)
	if err != nil {
		return time.Time{}
	}
	return at
}
