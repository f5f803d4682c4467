package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tendcare/tend/adherence"
	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/risk"
	"github.com/tendcare/tend/store"
)

// Why a risk event was written (its Reason).
const (
	RiskOnEvent  = "event"
	RiskNightly  = "nightly"
	RiskPinned   = "pinned"
	RiskUnpinned = "unpinned"
)

// ReasonReachability is the reason of the ticket that asks a person to
// check a silent patient's channel and language.
const ReasonReachability = "reachability check"

// checkinTimer prefixes the timer of a patient's next check-in
// (checkin|flow): it is not part of the enrollment's schedule, the risk
// state arms and moves it.
const checkinTimer = "checkin|"

// riskTypes are the event types that can move a tier or reachability.
var riskTypes = map[string]bool{"message.in": true, "message.out": true, "encounter": true, "reading": true, "episode": true,
	"adherence": true, "lesson": true, "dispense": true}

// assess brings the patient's risk state up to date with the turn: the
// turn's clinical events are folded in, the tier recomputed, a risk event
// written when it changed (why: w.riskReason, RiskOnEvent when unset), the
// reachability ticket opened once per silence, and the check-in timer set
// to the tier's cadence. It runs on every turn, after the effects were
// applied (an acute ticket the turn opened counts), and costs a glance at
// the turn's events when nothing relevant happened.
func (r *Runner) assess(w *work, force bool) {
	t := r.Engine.Pack.Risk
	if t == nil {
		return
	}
	var evs []risk.Event
	for i := range w.c.Events {
		if e := &w.c.Events[i]; riskTypes[e.Type] {
			evs = append(evs, riskEvent(e))
		}
	}
	data := w.s.Section(risk.Section)
	acute := acuteOpen(&w.s)
	if !force && len(evs) == 0 && w.riskReason == "" && acute == (risk.PeekTier(data) == risk.Acute) {
		return
	}
	var st risk.State
	if err := st.Decode(data); err != nil {
		r.log().Error("risk state unreadable; starting it over", "patient", w.p.ID, "err", err)
		st = risk.State{}
	}
	st.Fold(evs)
	st.Forget(t, w.now)
	a := risk.Assess(t, &st, r.riskContext(w, acute))
	pinning := w.riskReason == RiskPinned || w.riskReason == RiskUnpinned
	if pinning || (a.Tier != st.Tier && (st.Tier != "" || a.Tier != risk.Low)) {
		reason := w.riskReason
		if reason == "" {
			reason = RiskOnEvent
		}
		text := a.Explain()
		if a.Pin != nil && pinning {
			text += "\npinned " + string(a.Pin.Tier) + " until " + a.Pin.Until.Format(time.RFC3339) + " by " + a.Pin.By + ": " + a.Pin.Reason
		}
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "risk", At: w.now, Status: string(a.Tier), Text: text, Reason: reason})
	}
	st.Tier = a.Tier
	if a.Reachability == risk.Unreachable && !st.Ticketed {
		st.Ticketed = true
		r.escalate(w, &conversations.Effect{Kind: conversations.Escalate, Priority: escalation.Low, Reason: ReasonReachability})
	}
	r.armCheckin(w, &st)
	w.s.SetSection(risk.Section, st.Encode())
}

// riskContext is what the assessment reads beside the state.
func (r *Runner) riskContext(w *work, acute bool) risk.Context {
	return risk.Context{Now: w.now, AcuteOpen: acute, SocialNeeds: w.p.SocialNeeds, OptedOut: w.s.OptedOut.HasAll(w.chain), PDC: r.classPDC}
}

// classPDC is the proportion of days covered per medication class over
// [from, to] by the adherence package's PQA method, with the pack's
// classes (an unknown medication is a class of its own). Classes PQA
// leaves out (one fill, an index fill less than 91 days before the end)
// are not in the map: they score nothing.
func (r *Runner) classPDC(fills []risk.Fill, from, to time.Time) map[string]float64 {
	type class struct {
		fills     []adherence.Fill
		threshold float64
	}
	by := map[string]*class{}
	for _, f := range fills {
		id, threshold, ok := r.Engine.Pack.Medications.Class(f.Medication)
		if !ok {
			id, threshold = content.NormalizeMedication(f.Medication), 0.8
		}
		c := by[id]
		if c == nil {
			c = &class{threshold: threshold}
			by[id] = c
		}
		c.fills = append(c.fills, adherence.Fill{Medication: content.NormalizeMedication(f.Medication), Date: adherence.DayOf(f.Date), Days: f.Days})
	}
	out := map[string]float64{}
	for id, c := range by {
		if res := adherence.PDC(id, c.fills, adherence.DayOf(from), adherence.DayOf(to), c.threshold); res.Eligible {
			out[id] = res.PDC
		}
	}
	return out
}

// acuteOpen reports whether the patient has an acute ticket open.
func acuteOpen(s *conversations.Session) bool {
	for _, t := range s.Tickets {
		if t.Priority == escalation.Acute {
			return true
		}
	}
	return false
}

// riskEvent is the part of a timeline event the risk inputs read.
func riskEvent(e *store.Event) risk.Event {
	return risk.Event{Type: e.Type, At: e.At, Status: e.Status, Priority: e.Priority, Kind: e.Kind, Value: e.Value, Condition: e.Condition,
		Rule: e.Rule, Quiz: e.Quiz, Question: e.Question, Correct: e.Correct, Date: e.Date, Days: e.Days, Staff: e.Staff, Medication: e.Medication}
}

// checkins is the check-in cadence of the patient's first program that has
// one, nil when none does.
func (r *Runner) checkins(p *store.Patient) *content.Checkins {
	for _, id := range p.Programs {
		if pr := r.Engine.Pack.Programs[id]; pr != nil && pr.Checkins != nil {
			return pr.Checkins
		}
	}
	return nil
}

// armCheckin sets the check-in timer to the tier's cadence: the program's
// local time, the tier's interval after the last check-in (after now for
// the first), and none while acute or for a tier the program gives no
// cadence.
func (r *Runner) armCheckin(w *work, st *risk.State) {
	c := r.checkins(&w.p)
	var every time.Duration
	if c != nil && st.Tier != risk.Acute {
		every = time.Duration(c.Every[string(st.Tier)])
	}
	if every <= 0 {
		if st.CheckinNext != 0 {
			for _, pr := range r.Engine.Pack.Programs {
				if pr.Checkins != nil {
					w.deleteTimer(checkinTimer + pr.Checkins.Flow)
				}
			}
			st.CheckinNext = 0
		}
		return
	}
	h, m, err := content.ParseClock(c.At)
	if err != nil {
		return // lint refused it
	}
	loc := r.location(&w.p)
	base := w.now
	if st.CheckinLast != 0 {
		base = time.Unix(st.CheckinLast, 0)
	}
	// The program's time on the local day the interval ends.
	d := base.Add(every).In(loc)
	due := conversations.NextLocal(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc), loc, h, m)
	if !due.After(w.now) {
		due = conversations.NextLocal(w.now, loc, h, m)
	}
	if st.CheckinNext == due.Unix() {
		return
	}
	st.CheckinNext = due.Unix()
	w.setTimer(checkinTimer+c.Flow, due)
}

// checkin starts the check-in flow a check-in timer stands for, through the
// caps like any start Tend makes (a check-in not made today is dropped,
// not deferred: the next one comes at the tier's cadence), and arms the
// next one.
func (r *Runner) checkin(ctx context.Context, t store.Timer) error {
	flow := strings.TrimPrefix(t.Name, checkinTimer)
	return r.run(ctx, "checkin", t.PatientID, "", func(w *work) error {
		var st risk.State
		if err := st.Decode(w.s.Section(risk.Section)); err != nil || st.CheckinNext != t.Due.Unix() {
			return nil // moved since it was read (a tier changed); the new timer stands
		}
		w.deleteTimer(t.Name)
		st.CheckinNext = 0
		loc := r.location(&w.p)
		if st.Tier == risk.Acute || !r.Quiet.Allowed(w.now, loc) {
			w.s.SetSection(risk.Section, st.Encode())
			return nil // a person has the patient, or it is too late: the next one is armed after the turn
		}
		st.CheckinLast = w.now.Unix()
		w.s.SetSection(risk.Section, st.Encode())
		l := w.now.In(loc)
		endOfDay := time.Date(l.Year(), l.Month(), l.Day(), 23, 59, 0, 0, loc)
		err := r.capStart(w, conversations.Input{Kind: conversations.Start, Flow: flow}, endOfDay)
		if errors.Is(err, conversations.ErrUnknownFlow) {
			r.log().Warn("check-in timer names a flow the pack lacks", "patient", t.PatientID)
			return nil
		}
		return err
	})
}

// Risk assesses a patient now, from the risk state their turns keep: it
// reads and writes nothing (a tier that changed with time alone is
// recorded by the nightly run).
func (r *Runner) Risk(ctx context.Context, patientID string) (risk.Assessment, error) {
	p, ss, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return risk.Assessment{}, err
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		return risk.Assessment{}, err
	}
	t := r.Engine.Pack.Risk
	if t == nil {
		return risk.Assessment{}, errors.New("runner: the content pack has no risk table")
	}
	var st risk.State
	if err := st.Decode(s.Section(risk.Section)); err != nil {
		return risk.Assessment{}, err
	}
	now := r.Clock()
	st.Forget(t, now)
	w := &work{p: p, s: s, now: now, chain: conversations.Chain(p.Channel, p.Channels)}
	return risk.Assess(t, &st, r.riskContext(w, acuteOpen(&s))), nil
}

// ErrInvalidPin: a pin without a known tier, a reason, or a future expiry.
var ErrInvalidPin = errors.New("runner: invalid risk pin")

// maxPin is how far ahead a pin may run: a clinician's judgement is
// reviewed at least yearly.
const maxPin = 366 * 24 * time.Hour

// PinRisk sets a clinician's tier for a patient until pin.Until, with the
// reason (kept in the patient's sealed session and on the risk event, never
// in the audit log, which says the tier and the expiry). An open acute
// ticket still overrides it. The audit record is written first; nothing
// is pinned when it cannot be. Errors: store.ErrNotFound, ErrInvalidPin.
func (r *Runner) PinRisk(ctx context.Context, by Actor, patientID string, pin risk.Pin) error {
	now := r.Clock()
	switch {
	case pin.Tier != risk.Low && pin.Tier != risk.Medium && pin.Tier != risk.High:
		return fmt.Errorf("%w: tier: want low, medium or high (acute comes from an open acute ticket)", ErrInvalidPin)
	case strings.TrimSpace(pin.Reason) == "" || utf8.RuneCountInString(pin.Reason) > 500:
		return fmt.Errorf("%w: reason: 1 to 500 characters", ErrInvalidPin)
	case !pin.Until.After(now) || pin.Until.Sub(now) > maxPin:
		return fmt.Errorf("%w: until: a time after now, at most a year ahead", ErrInvalidPin)
	}
	if _, _, err := r.Store.Load(ctx, patientID); err != nil {
		return err
	}
	pin.By, pin.At, pin.Until, pin.Reason = by.Staff, now.UTC(), pin.Until.UTC().Truncate(time.Second), strings.TrimSpace(pin.Reason)
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: audit.PinRisk, Patient: patientID,
		Detail: string(pin.Tier) + " until " + pin.Until.Format(time.RFC3339)}); err != nil {
		return fmt.Errorf("risk not pinned: audit record not written: %w", err)
	}
	return r.run(ctx, "risk", patientID, "", func(w *work) error {
		var st risk.State
		st.Decode(w.s.Section(risk.Section))
		st.Pin = &pin
		w.s.SetSection(risk.Section, st.Encode())
		w.riskReason = RiskPinned
		return nil
	})
}

// UnpinRisk removes a patient's pin (audited); the score's tier applies
// again. No pin is no error.
func (r *Runner) UnpinRisk(ctx context.Context, by Actor, patientID string) error {
	if _, _, err := r.Store.Load(ctx, patientID); err != nil {
		return err
	}
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: audit.UnpinRisk, Patient: patientID}); err != nil {
		return fmt.Errorf("risk not unpinned: audit record not written: %w", err)
	}
	return r.run(ctx, "risk", patientID, "", func(w *work) error {
		var st risk.State
		st.Decode(w.s.Section(risk.Section))
		if st.Pin == nil {
			return nil
		}
		st.Pin = nil
		w.s.SetSection(risk.Section, st.Encode())
		w.riskReason = RiskUnpinned
		return nil
	})
}

// ErrInvalidEncounter: an encounter of an unknown kind or with a bad date.
var ErrInvalidEncounter = errors.New("runner: invalid encounter")

// Encounter records a hospital stay ("inpatient") or an emergency visit
// ("emergency") on date (YYYY-MM-DD, not in the future) as an "encounter"
// event, which the risk table reads (audited). The same encounter posted
// twice is recorded once. Errors: store.ErrNotFound, ErrInvalidEncounter.
func (r *Runner) Encounter(ctx context.Context, by Actor, patientID, kind, date string) error {
	if kind != risk.EncounterInpatient && kind != risk.EncounterEmergency {
		return fmt.Errorf("%w: kind: want inpatient or emergency", ErrInvalidEncounter)
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return fmt.Errorf("%w: date: want YYYY-MM-DD", ErrInvalidEncounter)
	}
	if d.After(r.Clock().Add(24 * time.Hour)) {
		return fmt.Errorf("%w: date: in the future", ErrInvalidEncounter)
	}
	if _, _, err := r.Store.Load(ctx, patientID); err != nil {
		return err
	}
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: audit.Encounter, Patient: patientID}); err != nil {
		return fmt.Errorf("encounter not recorded: audit record not written: %w", err)
	}
	err = r.run(ctx, "encounter", patientID, "encounter|"+patientID+"|"+kind+"|"+date, func(w *work) error {
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "encounter", At: w.now, Kind: kind, Date: date})
		return nil
	})
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	return err
}

// NightlyStats is what a nightly risk run did.
type NightlyStats struct {
	Patients, Changed, Failed int
	Took                      time.Duration
}

// RecomputeRisk runs the nightly assessment over every enrolled patient,
// with workers at once: a tier that changed with time alone (a hospital
// stay leaving its window, a pin expiring, a silence reaching the
// reachability threshold) is recorded as a turn would record it. It only
// reads a patient whose assessment did not change, so the run costs a
// session read per patient, not a commit.
func (r *Runner) RecomputeRisk(ctx context.Context, workers int) (NightlyStats, error) {
	l, ok := r.Store.(store.PatientLister)
	if !ok {
		return NightlyStats{}, ErrListUnsupported
	}
	start := r.Clock()
	var patients, changed, failed atomic.Int64
	ids := make(chan string, 256)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				patients.Add(1)
				moved, err := r.recompute(ctx, id)
				switch {
				case err != nil && !errors.Is(err, store.ErrNotFound):
					failed.Add(1)
					r.log().Error("nightly risk", "patient", id, "err", err)
				case moved:
					changed.Add(1)
				}
			}
		}()
	}
	err := l.PatientIDs(ctx, func(id string) error {
		select {
		case ids <- id:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(ids)
	wg.Wait()
	st := NightlyStats{Patients: int(patients.Load()), Changed: int(changed.Load()), Failed: int(failed.Load()), Took: r.Clock().Sub(start)}
	return st, err
}

// recompute assesses one patient and, when the assessment moved, records it
// in a turn.
func (r *Runner) recompute(ctx context.Context, patientID string) (bool, error) {
	p, ss, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return false, err
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		return false, err
	}
	t := r.Engine.Pack.Risk
	var st risk.State
	if st.Decode(s.Section(risk.Section)) != nil {
		st = risk.State{}
	}
	now := r.Clock()
	pinned := st.Pin != nil
	st.Forget(t, now)
	w := &work{p: p, s: s, now: now, chain: conversations.Chain(p.Channel, p.Channels)}
	a := risk.Assess(t, &st, r.riskContext(w, acuteOpen(&s)))
	stale := a.Tier != st.Tier && (st.Tier != "" || a.Tier != risk.Low)
	if !stale && pinned == (st.Pin != nil) && !(a.Reachability == risk.Unreachable && !st.Ticketed) {
		return false, nil
	}
	return true, r.run(ctx, "risk", patientID, "", func(w *work) error {
		w.riskReason = RiskNightly
		return nil
	})
}

// RunNightlyRisk runs RecomputeRisk once a day at hour:00 UTC until ctx
// ends. Replicas agree through the store which of them runs a day's.
func (r *Runner) RunNightlyRisk(ctx context.Context, hour int) {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		now := r.Clock().UTC()
		if now.Hour() >= hour {
			day := now.Format(time.DateOnly)
			if first, err := r.Store.Once(ctx, "risk-nightly:"+day, 36*time.Hour, now); err == nil && first {
				st, err := r.RecomputeRisk(ctx, 4)
				if err != nil && ctx.Err() == nil {
					r.log().Error("nightly risk", "err", err)
				}
				r.log().Info("nightly risk", "patients", st.Patients, "changed", st.Changed, "failed", st.Failed, "took", st.Took.Round(time.Millisecond).String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
