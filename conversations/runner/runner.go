package runner

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Runner runs turns against a store: load the session, run the engine,
// render the messages, and write everything in one store.Commit. It is the
// only way conversations change, so every channel, the API, the scheduler and
// the simulator get the same guarantees.
type Runner struct {
	Store  store.Store
	Engine *conversations.Engine
	Render *conversations.Renderer
	// Clock is the only source of time: tests and the simulator move it.
	Clock func() time.Time
	// Teams are each care team's response times and re-page ladder; the
	// zero value is escalation's default deadlines and no paging.
	Teams escalation.Teams
	// ConsoleURL is where a page points (the public URL's /console/).
	ConsoleURL string
	// ReopenWithin is how soon after a ticket is resolved a message from
	// the patient reopens it instead of opening another; 0: never.
	ReopenWithin time.Duration
	// Channels say how each channel addresses a patient, whether it has
	// a window (templates), speaks a turn in one call, may name a
	// medicine: cmd/tend passes the list the dispatcher has.
	Channels channels.Specs
	Quiet    conversations.QuietHours
	Log      *slog.Logger
	// Notify, when set, is called after a commit that queued messages, so
	// the dispatcher sends at once instead of at its next poll.
	Notify func()
	// Changed, when set, hears of every ticket a commit touched, or whose
	// conversation it added to (ticket id and team, nothing else), so the
	// console's open pages refresh (package live).
	Changed func(ticket, team string)
	// Observe, when set, sees every committed turn (for metrics).
	Observe func(kind string, took time.Duration, out *conversations.Output)
	// TooLong, when set, is told of each message a committed turn did not
	// send because it was over its channel's budget (for metrics).
	TooLong func(channel string)
	// Capped, when set, hears of every committed start a cap refused:
	// outcome is one of conversations.CapOutcomes, rule of CapRules.
	Capped func(outcome, rule string)
	// StaffParams are argon2id's for the passwords the Runner hashes (a
	// new account's, a reset's); staff.DefaultParams when zero.
	StaffParams staff.Params

	locks [256]sync.Mutex
	seq   atomic.Uint64
	node  string
	once  sync.Once

	// staffMu serializes the read-modify-write of staff accounts in this
	// process (the store's PutStaff is not compare-and-set).
	staffMu sync.Mutex
}

// staleDaily is how late after its dose time (or the opening of the sending
// window, for a dose time in quiet hours) a daily reminder may still start.
const staleDaily = 2 * time.Hour

// maxAttempts bounds the retries of a turn that lost a compare-and-set race.
const maxAttempts = 8

// work is the state of one turn while it is being built.
type work struct {
	p      store.Patient
	s      conversations.Session
	now    time.Time
	c      store.Commit
	out    conversations.Output
	timers map[string]*store.Timer // nil value: delete
	order  []string
	// chain is the patient's channels; channel the one the turn's input
	// came on ("" for timers and API starts), where replies go.
	chain   []string
	channel string
	// sync turns return their messages in said instead of queuing them.
	sync bool
	said []Outgoing
	dup  bool
	// tooLong are the channels of the messages queue refused as over
	// budget, told to Runner.TooLong once the turn is committed.
	tooLong []string
	// linked are the channels addressed by link (Runner.Channels).
	linked conversations.ChannelSet
	// raise are open tickets a new escalation attaches to with a higher
	// priority; runOn reads and rewrites them before the commit.
	raise []conversations.TicketRef
	// team is the patient's care team: its deadlines are quoted to the
	// patient and given to the tickets the turn opens.
	team escalation.Team
	// reopen is the escalation that reopens the patient's ticket resolved
	// last (Session.Resolved); runOn reads and rewrites it before the
	// commit.
	reopen *reopening
	// staleFlow is the daily reminder a timer starts in this turn, and
	// staleAfter when its messages stop being worth sending: queue stamps
	// them, so that the dispatcher cancels rather than sends them late.
	staleFlow  string
	staleAfter time.Time
	// capped are the starts a cap refused in this turn (capStart).
	capped []capping
}

// reopening is an escalation that reopens a ticket, with the id of its
// escalation event, which names the new ticket if none can be reopened.
type reopening struct {
	id string
	ef conversations.Effect
}

// input stamps an engine input with the patient's channels that can reach
// them now: a Telegram chat not linked yet, or a blocked bot, reaches no one,
// and a patient who stopped every other channel must not get flows that
// only end in "missed" and tickets.
func (w *work) input(in conversations.Input) conversations.Input {
	c := conversations.ContactOf(&w.p, &w.s, w.linked)
	in.Chain = make([]string, 0, len(c.Chain))
	for _, ch := range c.Chain {
		if c.Reaches(ch) {
			in.Chain = append(in.Chain, ch)
		}
	}
	if in.Channel == "" {
		in.Channel = w.channel
	}
	in.Deadlines = w.team.Deadlines
	return in
}

func (w *work) setTimer(name string, due time.Time) {
	if w.timers == nil {
		w.timers = map[string]*store.Timer{}
	}
	if _, ok := w.timers[name]; !ok {
		w.order = append(w.order, name)
	}
	w.timers[name] = &store.Timer{PatientID: w.p.ID, Name: name, Due: due}
}

func (w *work) deleteTimer(name string) {
	if w.timers == nil {
		w.timers = map[string]*store.Timer{}
	}
	if _, ok := w.timers[name]; !ok {
		w.order = append(w.order, name)
	}
	w.timers[name] = nil
}

// lock serializes the turns of one patient inside this process; the
// store's compare-and-set serializes them across processes.
func (r *Runner) lock(patientID string) func() {
	h := fnv.New32a()
	h.Write([]byte(patientID))
	m := &r.locks[h.Sum32()%uint32(len(r.locks))]
	m.Lock()
	return m.Unlock
}

// NewID returns a unique, roughly time-ordered id for events and messages.
func (r *Runner) NewID(now time.Time) string {
	r.once.Do(func() {
		var b [4]byte
		rand.Read(b[:])
		r.node = hex.EncodeToString(b[:])
	})
	return fmt.Sprintf("%012x%s%06x", now.UnixMilli(), r.node, r.seq.Add(1)&0xffffff)
}

// run loads a patient, lets fn build the turn, and commits it, retrying when
// another writer changed the session in between.
func (r *Runner) run(ctx context.Context, kind, patientID, dedupe string, fn func(*work) error) error {
	_, err := r.runOn(ctx, kind, patientID, dedupe, "", false, fn)
	return err
}

// runOn is run for a turn that came on a channel; a sync turn returns its
// messages in the work instead of queuing them.
func (r *Runner) runOn(ctx context.Context, kind, patientID, dedupe, channel string, sync bool, fn func(*work) error) (*work, error) {
	unlock := r.lock(patientID)
	defer unlock()
	for attempt := 0; ; attempt++ {
		start := r.Clock()
		p, ss, err := r.Store.Load(ctx, patientID)
		if err != nil {
			return nil, err
		}
		w := &work{p: p, now: r.Clock(), chain: conversations.Chain(p.Channel, p.Channels), channel: channel, sync: sync, linked: r.Channels.Linked(),
			team: r.Teams.Of(p.Team)}
		if err := r.Engine.DecodeSession(ss.Data, &w.s); err != nil {
			// A session that cannot be read must not lock the patient out,
			// nor silently opt them back in: start over opted out, and
			// tell the care team, who can re-enroll or ask the patient.
			r.log().Error("session unreadable; starting over with messages paused", "patient", patientID, "err", err)
			w.s = conversations.Session{OptedOut: conversations.AllChannels}
			w.out.Effects = append(w.out.Effects, conversations.Effect{Kind: conversations.Escalate, Priority: escalation.Low, Reason: conversations.ReasonSessionLost})
		}
		if w.s.Lang == "" {
			w.s.Lang = p.Language
		}
		w.c = store.Commit{PatientID: patientID, Version: ss.Version, DedupeKey: dedupe}
		lost := w.out.Effects
		w.out.Effects = nil
		if err := fn(w); err != nil {
			return nil, err
		}
		w.out.Effects = append(lost, w.out.Effects...)
		r.apply(w)
		if err := r.reopenTicket(ctx, w); err != nil {
			return nil, err
		}
		if err := r.raiseTickets(ctx, w); err != nil {
			return nil, err
		}
		w.flushTimers()
		err = r.commit(ctx, w)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if errors.Is(err, store.ErrDuplicate) {
			// A provider retry of a turn that already happened.
			return &work{p: p, dup: true}, nil
		}
		if err != nil {
			return nil, err
		}
		if r.Observe != nil {
			r.Observe(kind, r.Clock().Sub(start), &w.out)
		}
		if r.Capped != nil {
			for _, c := range w.capped {
				r.Capped(c.outcome, c.rule)
			}
		}
		return w, nil
	}
}

// commit writes a built turn with its session and wakes the dispatcher
// when the turn queued messages. Callers retry on store.ErrConflict.
func (r *Runner) commit(ctx context.Context, w *work) error {
	w.c.Session, _ = w.s.AppendBinary(nil)
	if err := r.Store.Commit(ctx, w.c); err != nil {
		return err
	}
	if len(w.c.Outbox) > 0 && r.Notify != nil {
		r.Notify()
	}
	if r.TooLong != nil {
		for _, ch := range w.tooLong {
			r.TooLong(ch)
		}
	}
	r.changed(w)
	return nil
}

// changed tells the console of the tickets a commit touched: those it
// wrote, and the open ones of a patient whose timeline it added to.
func (r *Runner) changed(w *work) {
	if r.Changed == nil {
		return
	}
	told := map[string]bool{}
	for _, e := range w.c.Escalations {
		told[e.ID] = true
		r.Changed(e.ID, cmp.Or(e.Team, w.p.Team, staff.DefaultTeam))
	}
	if len(w.c.Events) == 0 {
		return
	}
	for _, t := range w.s.Tickets {
		if !told[t.ID] {
			r.Changed(t.ID, cmp.Or(w.p.Team, staff.DefaultTeam))
		}
	}
}

// apply turns the engine's effects into the commit.
func (r *Runner) apply(w *work) {
	lang := r.Render.Lang(&w.s, &w.p)
	for i := range w.out.Effects {
		ef := &w.out.Effects[i]
		switch ef.Kind {
		case conversations.Send:
			r.queue(w, lang, ef)
		case conversations.Adherence:
			w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "adherence", At: w.now, Medication: ef.Medication, Status: ef.Status, Flow: ef.Origin})
		case conversations.Quiz:
			correct := ef.Correct
			w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "quiz", At: w.now, Quiz: ef.Quiz, Question: ef.Question, Correct: &correct})
		case conversations.Lesson:
			correct := ef.Correct
			w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "lesson", At: w.now, Quiz: ef.Quiz, Question: ef.Question, Correct: &correct, Confidence: ef.Confidence, Status: ef.Status, Flow: ef.Origin})
		case conversations.Escalate:
			r.escalate(w, ef)
		case conversations.Consent:
			ch := ef.Channel
			if ch == "" {
				ch = w.chain[0]
			}
			w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "consent", At: w.now, Channel: ch, Status: ef.Status})
		case conversations.Language:
			p := w.p
			p.Language = ef.Status
			w.c.Patient = &p
		case conversations.Record:
			if !ef.Duplicate {
				w.c.Events = append(w.c.Events, r.readingEvent(w, ef))
			}
		case conversations.EpisodeChange:
			w.c.Events = append(w.c.Events, r.episodeEvent(w, ef))
		case conversations.SetTimer:
			w.setTimer(ef.Timer, ef.Due)
		case conversations.CancelTimer:
			w.deleteTimer(ef.Timer)
		}
	}
}

// flushTimers puts the timers the turn set or deleted into its commit. It
// runs last, after the tickets a turn reopened or raised set their paging
// timers.
func (w *work) flushTimers() {
	for _, name := range w.order {
		if t := w.timers[name]; t != nil {
			w.c.SetTimers = append(w.c.SetTimers, *t)
		} else {
			w.c.DeleteTimers = append(w.c.DeleteTimers, name)
		}
	}
}

// queue renders a message and puts it in the outbox with its timeline event.
// A reply goes on the channel the patient wrote on; anything else on the
// first channel of their chain, and the dispatcher falls back along the
// chain at send time. A sync turn (a call) keeps its messages to speak them.
func (r *Runner) queue(w *work, lang string, ef *conversations.Effect) {
	if ef.Message == content.MsgLanguageConfirm {
		lang = r.Render.Lang(&w.s, &w.p) // the new language
	}
	ch := w.chain[0]
	if (ef.Reply || ef.Urgent || w.sync) && w.channel != "" {
		ch = w.channel
	}
	worded := *ef
	worded.Message = r.Render.Variant(lang, ef.Message, ch)
	named, forTemplate := r.named(&w.p, ch), &w.p
	text, labels, err := r.Render.Parts(lang, named, &worded)
	if err != nil {
		r.log().Error("message not rendered cleanly", "patient", w.p.ID, "message", ef.Message, "lang", lang, "err", err)
	}
	id := r.NewID(w.now)
	full := conversations.Numbered(text, labels)
	if spec := r.Channels.Of(ch); !spec.Fits(full) && !overBudgetExempt(ef) {
		// A medicine's name is the one value of any length a message
		// takes from the enrollment: without it, the text is the one
		// lint measured. Still too long, it is not sent at all.
		if named.PHIOK {
			generic := *named
			generic.PHIOK = false
			named, forTemplate = &generic, &generic
			text, labels, _ = r.Render.Parts(lang, named, &worded)
			full = conversations.Numbered(text, labels)
		}
		if !spec.Fits(full) {
			r.log().Warn("message over its channel's budget: not sent", "patient", w.p.ID, "message", ef.Message, "lang", lang, "channel", ch, "reason", channels.ReasonTooLong)
			w.tooLong = append(w.tooLong, ch)
			w.c.Events = append(w.c.Events, store.Event{ID: id, Type: "message.out", At: w.now, Channel: ch, Text: full, Status: "cancelled", Reason: channels.ReasonTooLong, Flow: ef.Origin, Message: ef.Message})
			return
		}
		r.log().Info("message over its channel's budget: sent without the medicine's name", "patient", w.p.ID, "message", ef.Message, "lang", lang, "channel", ch)
	}
	if w.sync {
		w.said = append(w.said, Outgoing{ID: id, Message: ef.Message, Text: text, Labels: labels, Step: ef.Step, Reading: r.readingAsked(ef)})
		w.c.Events = append(w.c.Events, store.Event{ID: id, Type: "message.out", At: w.now, Channel: w.channel, Text: full, Status: "delivered", Flow: ef.Origin, Message: ef.Message})
		return
	}
	var choices []string
	if ef.Flow != "" {
		if f := r.Render.Pack.Flows[ef.Flow]; f != nil && f.States[ef.State] != nil {
			for _, c := range f.States[ef.State].Choices {
				choices = append(choices, c.ID)
			}
		}
	}
	if n := len(w.c.Outbox); r.Channels.Of(ch).Synchronous && n > 0 && w.c.Outbox[n-1].Channel == ch && len(w.c.Outbox[n-1].Labels) == 0 {
		// One turn is one call: its messages are spoken one after another.
		last := &w.c.Outbox[n-1]
		last.Text += "\n" + text
		last.Labels, last.Choices, last.Step = labels, choices, ef.Step
		for i := range w.c.Events {
			if w.c.Events[i].ID == last.ID {
				w.c.Events[i].Text = conversations.Numbered(last.Text, labels)
			}
		}
		return
	}
	e := store.OutboxEntry{ID: id, PatientID: w.p.ID, Channel: ch, To: r.address(&w.p, ch), Text: text, Labels: labels, Step: ef.Step,
		MessageID: ef.Message, Choices: choices, Timezone: w.p.Timezone, Reply: ef.Reply, Urgent: ef.Urgent, NotBefore: w.now, CreatedAt: w.now}
	if w.staleFlow != "" && ef.Origin == w.staleFlow && !ef.Reply && !ef.Urgent {
		e.StaleAfter = w.staleAfter
	}
	if slices.ContainsFunc(w.chain, func(c string) bool { return r.Channels.Of(c).Window > 0 }) {
		e.Template, e.Vars = r.Render.Template(lang, forTemplate, ef)
	}
	w.c.Outbox = append(w.c.Outbox, e)
	w.c.Events = append(w.c.Events, store.Event{ID: id, Type: "message.out", At: w.now, Channel: ch, Text: full, Status: "queued", Flow: ef.Origin, Message: ef.Message})
}

// overBudgetExempt: the messages that go whatever their length. A safety
// reply, a STOP confirmation and the HELP answer are owed to the patient
// (and the law); none of them names a medicine, and lint keeps their words
// within the budget.
func overBudgetExempt(ef *conversations.Effect) bool {
	if ef.Urgent {
		return true
	}
	switch ef.Message {
	case content.MsgEmergency, content.MsgCrisis, content.MsgSafetyNo, content.MsgStopConfirm, content.MsgHelp:
		return true
	}
	return strings.HasPrefix(ef.Message, content.SafetyQuestion(""))
}

// address is where ch reaches p: a linked address (empty until linked) or
// the phone number, as the channel's spec says.
func (r *Runner) address(p *store.Patient, ch string) string {
	if r.Channels.Of(ch).Address == channels.ByLink {
		return p.Address(ch)
	}
	return p.Phone
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// Inbound runs the turn for a patient's message. dedupe is the provider's
// message id: a retry of the same id is a no-op.
func (r *Runner) Inbound(ctx context.Context, patientID, channel, text, dedupe string) error {
	_, err := r.Receive(ctx, patientID, Message{Channel: channel, Text: text, Dedupe: dedupe})
	return err
}

// StartFlow starts (or queues) a flow for a patient now, within the
// patient's caps: a start over one is deferred to the next day it fits
// and recorded on the timeline (capStart).
func (r *Runner) StartFlow(ctx context.Context, patientID, flow string, params []conversations.Param) error {
	return r.run(ctx, "start", patientID, "", func(w *work) error {
		return r.capStart(w, conversations.Input{Kind: conversations.Start, Flow: flow, Params: params}, time.Time{})
	})
}

// Fire runs the turn a due timer stands for.
func (r *Runner) Fire(ctx context.Context, t store.Timer) error {
	if strings.HasPrefix(t.Name, "page|") {
		return r.page(ctx, t)
	}
	return r.run(ctx, "timer", t.PatientID, "", func(w *work) error {
		if t.Name == conversations.SafetyTimer {
			// No quiet hours: a safety question that went unanswered
			// pages the care team at night too.
			if w.s.SafetyDue != t.Due.Unix() {
				return nil // answered or asked again since the timer was read
			}
			w.deleteTimer(conversations.SafetyTimer)
			return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.SafetyTimeout, Due: t.Due.Unix()}), w.now, &w.out)
		}
		if t.Name == conversations.FlowTimer {
			if w.s.TimerDue != t.Due.Unix() {
				return nil // stale: the flow moved on since the timer was read
			}
			if loc := r.location(&w.p); !r.Quiet.Allowed(w.now, loc) {
				// A timeout in quiet hours would queue a message that waits
				// for the morning and lands after the morning's reminder.
				// Keep waiting instead: a late reply still counts, and the
				// timeout runs, in order, when messages may go out again.
				due := r.Quiet.NextOpen(w.now, loc).Add(conversations.Spread(t.PatientID, 30*time.Minute)).Truncate(time.Second)
				w.s.TimerDue = due.Unix()
				w.setTimer(conversations.FlowTimer, due)
				return nil
			}
			w.deleteTimer(conversations.FlowTimer)
			if err := r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Timeout, Due: t.Due.Unix()}), w.now, &w.out); err != nil {
				return err
			}
			return r.undelivered(ctx, w)
		}
		sc, ok := conversations.ParseTimer(t.Name)
		if !ok {
			r.log().Warn("unknown timer dropped", "patient", t.PatientID, "timer", timerKind(t.Name))
			w.deleteTimer(t.Name)
			return nil
		}
		if !r.stillDue(ctx, t) {
			return nil // moved or removed (a re-enrollment) since it was read
		}
		loc := r.location(&w.p)
		var stale int64 // when a start held for a person is too late to make
		if sc.Daily {
			h, m, _ := content.ParseClock(t.Name[len(t.Name)-5:])
			w.setTimer(t.Name, conversations.NextLocal(w.now, loc, h, m))
			late := r.lateness(w.now, loc, h, m)
			stale = w.now.Add(staleDaily - late).Unix()
			// A reminder still unsent by then (a provider outage, a hold) is
			// cancelled by the dispatcher, not sent late.
			w.staleFlow, w.staleAfter = sc.Flow, time.Unix(stale, 0).UTC()
			if late > staleDaily {
				// After an outage, a dose reminder hours late does more
				// harm than good: skip it and keep the next one.
				r.log().Warn("daily reminder skipped: too late", "patient", t.PatientID, "late", late.Round(time.Minute).String())
				return nil
			}
		}
		if !r.Quiet.Allowed(w.now, loc) {
			// Start when the patient may be messaged, so that the flow's
			// reply timeouts count from a message they can actually read.
			w.setTimer(t.Name, r.Quiet.NextOpen(w.now, loc).Add(conversations.Spread(t.PatientID, 30*time.Minute)))
			return nil
		}
		if !sc.Daily {
			w.deleteTimer(t.Name)
		}
		err := r.capStart(w, conversations.Input{Kind: conversations.Start, Flow: sc.Flow, Params: sc.Params, Stale: stale}, staleAt(sc, stale, loc))
		if errors.Is(err, conversations.ErrUnknownFlow) {
			r.log().Warn("timer names a flow the pack lacks", "patient", t.PatientID, "timer", timerKind(t.Name))
			return nil
		}
		return err
	})
}

// location is the patient's time zone; an unreadable one (it was checked
// at enrollment) falls back to UTC rather than stopping their reminders.
func (r *Runner) location(p *store.Patient) *time.Location {
	loc, err := conversations.LoadLocation(p.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// stillDue reports whether a schedule timer is still stored as it was read.
func (r *Runner) stillDue(ctx context.Context, t store.Timer) bool {
	timers, err := r.Store.Timers(ctx, t.PatientID)
	if err != nil {
		return true // let the turn's own load report the store's trouble
	}
	for _, have := range timers {
		if have.Name == t.Name {
			return have.Due.Equal(t.Due)
		}
	}
	return false
}

// lateness is how long after its dose a daily reminder at hour:min would
// start now. A dose time inside quiet hours counts from the window's
// opening, where its reminder is meant to go.
func (r *Runner) lateness(now time.Time, loc *time.Location, hour, min int) time.Duration {
	last := conversations.NextLocal(now.Add(-26*time.Hour), loc, hour, min)
	for n := conversations.NextLocal(last, loc, hour, min); !n.After(now); n = conversations.NextLocal(n, loc, hour, min) {
		last = n
	}
	return now.Sub(r.Quiet.NextOpen(last, loc))
}

// timerKind is the part of a timer name safe to log: its name carries
// medication ids, which can name a drug.
func timerKind(name string) string {
	k, _, _ := strings.Cut(name, "|")
	return k
}

// Enroll creates or replaces an enrollment: it rebuilds the schedule and,
// for a new patient, starts the welcome flow. created reports which.
func (r *Runner) Enroll(ctx context.Context, p store.Patient) (created bool, err error) {
	unlock := r.lock(p.ID)
	defer unlock()
	// The fills reported with the enrollment go on the timeline, not in
	// the enrollment (enrollment.Patient.Dispenses).
	dispenses := p.Dispenses
	p.Dispenses = nil
	for attempt := 0; ; attempt++ {
		now := r.Clock()
		old, ss, err := r.Store.Load(ctx, p.ID)
		created = errors.Is(err, store.ErrNotFound)
		if err != nil && !created {
			return false, err
		}
		p.EnrolledAt = now
		if p.Language == "" {
			// A replace that does not say the language keeps the one the
			// patient has, which they may have chosen by texting ESPAÑOL.
			p.Language = r.Engine.Pack.Languages[0]
			if !created {
				p.Language = old.Language
			}
		}
		if !created {
			p.EnrolledAt = old.EnrolledAt
			r.keepLinks(&p, &old)
		}
		timers, err := conversations.Schedule(r.Engine.Pack, &p, now)
		if err != nil {
			return false, err
		}
		w := &work{p: p, now: now, chain: conversations.Chain(p.Channel, p.Channels), linked: r.Channels.Linked(), team: r.Teams.Of(p.Team)}
		w.c = store.Commit{PatientID: p.ID, Version: ss.Version, Patient: &p}
		if !created {
			if err := r.Engine.DecodeSession(ss.Data, &w.s); err != nil {
				w.s = conversations.Session{OptedOut: conversations.AllChannels} // consent fails closed, as in run
			}
			have, err := r.Store.Timers(ctx, p.ID)
			if err != nil {
				return false, err
			}
			for _, t := range have {
				if conversations.IsSchedule(t.Name) {
					w.deleteTimer(t.Name)
				}
			}
		}
		w.s.Lang = p.Language
		for _, t := range timers {
			w.setTimer(t.Name, t.Due)
		}
		if created {
			if welcome := r.welcome(&p); welcome != "" {
				if err := r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Start, Flow: welcome}), now, &w.out); err != nil {
					return false, err
				}
			}
		}
		r.apply(w)
		if len(dispenses) > 0 {
			// A patient enrolled again keeps the timeline of before.
			events, err := r.Store.Timeline(ctx, p.ID)
			if err != nil {
				return false, err
			}
			for _, d := range newDispenses(events, dispenses) {
				w.c.Events = append(w.c.Events, r.dispenseEvent(now, d))
			}
		}
		w.flushTimers()
		w.c.Patient = &p
		err = r.commit(ctx, w)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return false, err
		}
		return created, nil
	}
}

// keepLinks carries the addresses the patient linked (a Telegram chat)
// over a clinic's update, which never sets them: a linked channel the
// patient had put first stays first unless the update names it.
func (r *Runner) keepLinks(p, old *store.Patient) {
	for _, spec := range r.Channels {
		ch := spec.Name
		if spec.Address != channels.ByLink || old.Address(ch) == "" {
			continue
		}
		if p.Address(ch) == "" {
			p.SetAddress(ch, old.Address(ch))
		}
		chain := conversations.Chain(p.Channel, p.Channels)
		if slices.Contains(conversations.Chain(old.Channel, old.Channels), ch) && !slices.Contains(chain, ch) {
			p.Channels = append([]string{ch}, chain...)
			p.Channel = ch
		}
	}
}

func (r *Runner) welcome(p *store.Patient) string {
	for _, id := range p.Programs {
		if pr := r.Engine.Pack.Programs[id]; pr != nil && pr.Welcome != "" {
			return pr.Welcome
		}
	}
	return ""
}

// NotEnrolled answers a message from a number no patient has, at most once
// a day per number, in the pack's first language: Tend cannot know theirs.
func (r *Runner) NotEnrolled(ctx context.Context, channel, from, dedupe string) error {
	return r.Refuse(ctx, Refusal{Channel: channel, To: from, MessageID: content.MsgUnknownNumber, Dedupe: dedupe, Every: 24 * time.Hour})
}

// Refusal is a reply to someone Tend cannot tie to a patient (an unknown
// number, an unlinked chat, a chat linked to someone else). It names no
// patient and no program.
type Refusal struct {
	Channel, To string
	MessageID   string // in the catalog
	Lang        string // "" or not bundled: the pack's first
	// Dedupe is the inbound message's provider id: a retry of it queues
	// nothing more.
	Dedupe string
	// Every, when set, says it at most once in that long per address.
	Every time.Duration
}

// Refuse queues a Refusal. The address is kept only as a hash, in the
// once-key.
func (r *Runner) Refuse(ctx context.Context, rf Refusal) error {
	now := r.Clock()
	if rf.Every > 0 {
		sum := sha256.Sum256([]byte(rf.Channel + "|" + rf.To))
		first, err := r.Store.Once(ctx, "unknown:"+hex.EncodeToString(sum[:16]), rf.Every, now)
		if err != nil || !first {
			return err
		}
	}
	pack := r.Render.Pack
	lang := rf.Lang
	if !pack.HasLanguage(lang) {
		lang = pack.Languages[0]
	}
	text, err := pack.Catalog.Text(lang, rf.MessageID, nil, nil)
	if err != nil {
		r.log().Error("message not rendered cleanly", "message", rf.MessageID, "err", err)
	}
	err = r.Store.Commit(ctx, store.Commit{DedupeKey: rf.Dedupe, Outbox: []store.OutboxEntry{{
		ID: r.NewID(now), Channel: rf.Channel, To: rf.To, Text: text, MessageID: rf.MessageID, Reply: true, NotBefore: now, CreatedAt: now}}})
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	if err == nil && r.Notify != nil {
		r.Notify()
	}
	return err
}

// RunScheduler fires due timers until ctx ends, checking every interval.
func (r *Runner) RunScheduler(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		r.FireDue(ctx, 32)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// dueBatch is how many due timers one read or claim takes.
const dueBatch = 2048

// timerLease is how long a claimed timer is hidden from other replicas; a
// turn takes milliseconds, so a timer whose claimer died waits this long.
const timerLease = time.Minute

// dueTimers claims due timers where the store is shared by replicas (each
// takes its own share), and reads them otherwise.
func (r *Runner) dueTimers(ctx context.Context) ([]store.Timer, error) {
	if tc, ok := r.Store.(store.TimerClaimer); ok {
		return tc.ClaimTimers(ctx, r.Clock(), dueBatch, timerLease)
	}
	return r.Store.DueTimers(ctx, r.Clock(), dueBatch)
}

// FireDue fires every timer due now, with up to workers turns at once, and
// returns how many it fired.
func (r *Runner) FireDue(ctx context.Context, workers int) int {
	fired := 0
	for ctx.Err() == nil {
		due, err := r.dueTimers(ctx)
		if err != nil {
			r.log().Error("reading due timers", "err", err)
			return fired
		}
		if len(due) == 0 {
			return fired
		}
		jobs := make(chan store.Timer)
		var wg sync.WaitGroup
		var failed atomic.Bool
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range jobs {
					if err := r.Fire(ctx, t); err != nil && !errors.Is(err, store.ErrNotFound) {
						failed.Store(true)
						r.log().Error("timer turn failed", "patient", t.PatientID, "timer", timerKind(t.Name), "err", err)
					}
				}
			}()
		}
		for _, t := range due {
			jobs <- t
		}
		close(jobs)
		wg.Wait()
		fired += len(due)
		// A failed timer stays due: leave it for the next tick rather than
		// spin on it.
		if len(due) < dueBatch || failed.Load() {
			return fired
		}
	}
	return fired
}
