package conversations

import (
	"slices"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/rules"
)

// Episode changes, as "episode" events record them (store.Event.Status).
const (
	EpisodeConfirming = "confirming"
	EpisodeOpened     = "opened"
	EpisodeAttached   = "attached"
	EpisodeRaised     = "raised"
	EpisodeClosed     = "closed"
	EpisodeDismissed  = "dismissed"
)

// Messages the episode life-cycle sends itself (the confirm flows send
// their own questions).
const (
	MsgReadingTicket = "reading.ticket" // a person will contact you within {{.Hours}}
	MsgReadingThanks = "reading.thanks" // the second reading was in range: recorded, nothing more
)

// rulesFlow stands for the rules when their actions run outside a flow.
var rulesFlow = &flow{Flow: &content.Flow{ID: "rules"}}

// act follows a classified reading through the episode life-cycle of
// research clinical.md 1.5, per condition whose rules read it: acute is
// the safety reply and an acute ticket now; alert asks the patient first
// (or, with an episode open, attaches to it and may only raise it); a
// reading in range counts toward closing the episode, and the second
// reading of a confirming episode confirms or dismisses it.
func (t *turn) act(r *readings.Reading, res *rules.Result) {
	st := &t.clinical().st
	// Watch rules' actions run when the reading is at watch: an alert or
	// acute reading is the episode's business, not a lesson's.
	for _, m := range res.Matched {
		if m.Rule.Level == content.LevelWatch && res.Level == readings.Watch {
			t.watch(st, m.Rule)
		}
	}
	acuteSaid := false
	for _, set := range t.e.rules.Sets(r.Kind) {
		if len(set.Conditions) > 0 && !anyIn(set.Conditions, t.in.Conditions) {
			continue
		}
		if firstOf(t.e.rules.Sets(r.Kind), set) != set {
			continue // a second file of the same condition (monitoring gaps)
		}
		top := topOf(res, set.Condition)
		switch {
		case top != nil && top.Rule.Level == content.LevelAcute:
			if !acuteSaid {
				t.out.Keyword = "emergency"
				t.say(content.MsgEmergency, func(ef *Effect) { ef.Urgent = true })
				t.endFlow(false)
				acuteSaid = true
			}
			t.raiseTo(st, top, escalation.Acute)
		case top != nil && top.Rule.Level == content.LevelAlert:
			t.alert(st, top)
		default:
			t.inRange(st, set, r, top != nil)
		}
	}
}

// firstOf returns the first set of sets with set's condition.
func firstOf(sets []*content.RuleSet, set *content.RuleSet) *content.RuleSet {
	for _, s := range sets {
		if s.Condition == set.Condition {
			return s
		}
	}
	return set
}

// topOf is the most severe rule that matched for a condition.
func topOf(res *rules.Result, condition string) *rules.Match {
	var top *rules.Match
	for i := range res.Matched {
		m := &res.Matched[i]
		if m.Set.Condition != condition {
			continue
		}
		if top == nil || levelRank(m.Rule.Level) > levelRank(top.Rule.Level) {
			top = m
		}
	}
	return top
}

func levelRank(l string) int {
	switch l {
	case content.LevelWatch:
		return 1
	case content.LevelAlert:
		return 2
	case content.LevelAcute:
		return 3
	}
	return 0
}

// watch runs a watch rule's actions and its own ticket, at most once per
// Every (a "first" rule: once ever).
func (t *turn) watch(st *rules.State, rule *content.Rule) {
	if last := st.FiredAt(rule.ID); last != 0 {
		if rule.First || rule.Every > 0 && t.now.Unix()-last < int64(time.Duration(rule.Every)/time.Second) {
			return
		}
	}
	st.Fire(rule.ID, t.now)
	t.ruleActions(rule.Do)
	if rule.Priority != "" {
		t.escalate(rule.Priority, rule.Reason)
	}
}

// ruleActions runs a rule's actions; a patient who opted out of every
// channel gets none of its messages (its tickets and tallies still count).
func (t *turn) ruleActions(as []content.Action) {
	if len(as) == 0 {
		return
	}
	if !t.muted() {
		t.run(rulesFlow, as)
		return
	}
	for _, a := range as {
		if a.Say == "" {
			t.run(rulesFlow, []content.Action{a})
		}
	}
}

// alert handles an alert of a condition: an open episode takes the reading
// (attached, raised if the rule's priority is higher); a confirming one is
// confirmed by it; a closed one in its quiet period ignores it; otherwise
// a new episode asks the patient first, or opens at once when nobody can
// be asked (opted out everywhere, or a person has the conversation).
func (t *turn) alert(st *rules.State, m *rules.Match) {
	rule, set := m.Rule, m.Set
	ep := st.Episode(set.Condition)
	switch {
	case ep != nil && ep.Status == rules.Open:
		ep.Normals, ep.LastNormal = 0, 0
		if escalation.Rank(rule.Priority) > escalation.Rank(ep.Priority) {
			ep.Priority = rule.Priority
			t.escalate(rule.Priority, set.Episode.Reason)
			t.episodeEvent(set, rule.ID, EpisodeRaised, ep.Priority)
			return
		}
		t.episodeEvent(set, rule.ID, EpisodeAttached, ep.Priority)
	case ep != nil && ep.Status == rules.Confirming:
		// The second abnormal reading confirms the first.
		prio := ep.Priority
		if escalation.Rank(rule.Priority) > escalation.Rank(prio) {
			prio = rule.Priority
		}
		t.stopConfirm(ep.Flow)
		t.open(ep, set, rule.ID, prio)
		t.tellTicket(prio, false)
	case ep != nil && ep.Status == rules.Closed && t.now.Unix()-ep.Closed < int64(time.Duration(set.Episode.Rearm)/time.Second):
		// The quiet period after an episode closed (hysteresis): the
		// reading is recorded; an acute one would still act.
	default:
		if ep != nil && ep.Status != rules.Closed {
			return
		}
		t.ruleActions(rule.Do)
		e := rules.Episode{Condition: set.Condition, Rule: rule.ID, Priority: rule.Priority, Opened: t.now.Unix()}
		if t.muted() || t.s.Owner != "" || t.e.flows[rule.Confirm] == nil {
			st.SetEpisode(e)
			t.open(st.Episode(set.Condition), set, rule.ID, rule.Priority)
			return
		}
		e.Status, e.Flow = rules.Confirming, rule.Confirm
		st.SetEpisode(e)
		t.episodeEvent(set, rule.ID, EpisodeConfirming, rule.Priority)
		reply := t.reply
		if rule.Urgent {
			t.reply = true // a crisis is asked about at night too
		}
		_ = t.start(rule.Confirm, nil)
		t.reply = reply
	}
}

// raiseTo opens the condition's episode at a priority, or raises the one
// that is open or confirming to it.
func (t *turn) raiseTo(st *rules.State, m *rules.Match, prio string) {
	set := m.Set
	ep := st.Episode(set.Condition)
	switch {
	case ep != nil && ep.Status == rules.Open:
		ep.Normals, ep.LastNormal = 0, 0
		if escalation.Rank(prio) > escalation.Rank(ep.Priority) {
			ep.Priority = prio
			t.escalate(prio, set.Episode.Reason)
			t.episodeEvent(set, m.Rule.ID, EpisodeRaised, prio)
			return
		}
		t.episodeEvent(set, m.Rule.ID, EpisodeAttached, ep.Priority)
	case ep != nil && ep.Status == rules.Confirming:
		t.stopConfirm(ep.Flow)
		t.open(ep, set, m.Rule.ID, prio)
	default:
		st.SetEpisode(rules.Episode{Condition: set.Condition, Rule: m.Rule.ID, Opened: t.now.Unix()})
		t.open(st.Episode(set.Condition), set, m.Rule.ID, prio)
	}
}

// open opens an episode's ticket at prio: the ticket of the condition's
// reason, which every later escalation of the episode attaches to.
func (t *turn) open(ep *rules.Episode, set *content.RuleSet, rule, prio string) {
	ep.Status, ep.Priority, ep.Flow, ep.Normals, ep.LastNormal = rules.Open, prio, "", 0, 0
	t.escalate(prio, set.Episode.Reason)
	t.episodeEvent(set, rule, EpisodeOpened, prio)
}

// tellTicket tells the patient a person will contact them (an acute
// ticket: the safety reply, which also stops the active flow unless the
// answer came from inside it: the flow ends by its own transition).
// Nothing but the safety reply is said to a patient who opted out.
func (t *turn) tellTicket(prio string, inFlow bool) {
	if prio == escalation.Acute {
		t.out.Keyword = "emergency"
		t.say(content.MsgEmergency, func(ef *Effect) { ef.Urgent = true })
		if !inFlow {
			t.endFlow(false)
		}
		return
	}
	if t.muted() {
		return
	}
	hours := t.in.Deadlines.ResponseHours(prio)
	t.say(MsgReadingTicket, func(ef *Effect) { ef.Count = hours })
}

// stopConfirm ends a confirm flow that is asking (or waiting to ask):
// the question is answered by the reading.
func (t *turn) stopConfirm(id string) {
	if id == "" {
		return
	}
	t.s.Queue = slices.DeleteFunc(t.s.Queue, func(q Queued) bool { return q.Flow == id })
	if len(t.s.Queue) == 0 {
		t.s.Queue = nil
	}
	if t.s.Flow == id {
		t.endFlow(true)
	}
}

// inRange handles a reading that is not an alert for the condition: the
// second reading of a confirming episode dismisses it; a normal reading
// counts toward closing an open episode, a watch reading starts the count
// again.
func (t *turn) inRange(st *rules.State, set *content.RuleSet, r *readings.Reading, watch bool) {
	ep := st.Episode(set.Condition)
	if ep == nil || !ep.Active() {
		return
	}
	if ep.Status == rules.Confirming {
		rule := ep.Rule
		flowID := ep.Flow
		st.Episodes = slices.DeleteFunc(st.Episodes, func(e rules.Episode) bool { return e.Condition == set.Condition })
		t.episodeEvent(set, rule, EpisodeDismissed, "")
		t.stopConfirm(flowID)
		if !t.muted() {
			t.say(MsgReadingThanks, nil)
		}
		return
	}
	if watch {
		ep.Normals, ep.LastNormal = 0, 0
		return
	}
	at := r.At
	if at.IsZero() {
		at = t.now
	}
	if set.Episode.CloseBy == content.CloseByDays {
		day := rules.LocalDay(at, t.in.Location)
		if ep.LastNormal != 0 && rules.LocalDay(time.Unix(ep.LastNormal, 0), t.in.Location) == day {
			return
		}
		ep.LastNormal = at.Unix()
	}
	ep.Normals++
	if ep.Normals >= set.Episode.CloseAfter {
		ep.Status, ep.Closed = rules.Closed, t.now.Unix()
		t.episodeEvent(set, ep.Rule, EpisodeClosed, ep.Priority)
	}
}

// confirmed applies a confirm flow's episode action to the episodes that
// wait on the flow.
func (t *turn) confirmed(f *flow, what string) {
	if f == nil {
		return
	}
	st := &t.clinical().st
	for i := range st.Episodes {
		ep := &st.Episodes[i]
		if ep.Status != rules.Confirming || ep.Flow != f.ID {
			continue
		}
		rule, set := t.e.rules.Rule(ep.Rule)
		if rule == nil || set == nil {
			continue
		}
		switch what {
		case content.EpisodeSymptoms:
			prio := rule.WithSymptoms
			if prio == "" {
				prio = oneAbove(ep.Priority)
			}
			ep.Symptoms = true
			t.open(ep, set, ep.Rule, prio)
			t.tellTicket(prio, true)
		case content.EpisodeUnanswered:
			t.open(ep, set, ep.Rule, ep.Priority)
		case content.EpisodeNoSymptoms:
			// Wait for the second reading (or the timeout).
		}
	}
}

// oneAbove is the priority one step more urgent.
func oneAbove(p string) string {
	switch p {
	case escalation.Low:
		return escalation.Medium
	case escalation.Medium:
		return escalation.High
	}
	return escalation.Acute
}

// episodeEvent records an episode change.
func (t *turn) episodeEvent(set *content.RuleSet, rule, status, prio string) {
	t.add(Effect{Kind: EpisodeChange, Condition: set.Condition, Rule: rule, Status: status, Priority: prio, Reason: set.Episode.Reason})
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
