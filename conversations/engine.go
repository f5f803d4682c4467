package conversations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/looplab/fsm"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/rules"
)

// FlowTimer is the name of the timer of the active flow's waiting state.
const FlowTimer = "flow"

// SafetyTimer is the name of the timer of a waiting safety question.
const SafetyTimer = "safety"

// SafetyWait is how long a safety question waits for YES or NO. For the
// concepts in serious, no answer in that time is treated as the emergency:
// a patient who wrote about chest pain and then goes silent may be unable
// to answer.
const SafetyWait = 10 * time.Minute

// serious are the concepts whose unanswered safety question pages the care
// team at once (acute) with the safety reply; the others open a high ticket.
var serious = map[string]bool{
	"suicide": true, "chest_pain": true, "breathing": true, "stroke": true, "fainting": true,
	"overdose": true, "low_sugar": true, "seizure": true,
}

// defaultWait bounds a state that accepts answers but declares no timeout,
// so that no flow can hold the queue forever.
const defaultWait = 24 * time.Hour

// maxQueue bounds the flows waiting behind the active one.
const maxQueue = 8

// Reasons the engine itself gives escalations.
const (
	ReasonAskedHuman    = "patient asked for a human"
	ReasonEmergency     = "emergency"
	ReasonNotUnderstood = "replies not understood"
	// ReasonPatientMessage: the patient wrote outside any question; a
	// person reads it (the ticket is the console's unread conversation).
	ReasonPatientMessage = "patient message"
	ReasonSessionLost    = "conversation state unreadable; messages paused until re-enrolled or the patient replies START"
)

// InputKind says what woke a conversation.
type InputKind uint8

const (
	// Text is a message from the patient.
	Text InputKind = iota
	// Timeout is the active flow's timer firing (Input.Due says which).
	Timeout
	// Start asks to start a flow (Input.Flow, Input.Params).
	Start
	// OptOut is an opt-out the provider reported (the patient texted STOP
	// to the carrier): the same as STOP, without a confirmation.
	OptOut
	// SafetyTimeout is a safety question's timer firing (Input.Due says which).
	SafetyTimeout
	// AskStop and AskStart are the patient asking to stop or start again
	// without words (a key on a call): the same as the STOP and START
	// keywords, confirmation included, whatever Input.Text says.
	AskStop
	AskStart
	// Claim gives the conversation to a person (Input.Staff): the active
	// flow stops and waits, with the starts that come meanwhile, in
	// Session.Held.
	Claim
	// HandBack returns the conversation to the automation: the held
	// starts that are not stale run, then the follow-up flow (Input.Flow,
	// Input.Params) when one is given.
	HandBack
	// Reading is a home reading from a device or the API (Input.Reading):
	// it is classified, recorded, and may open, attach to or close an
	// episode (readings.go, episodes.go).
	Reading
	// ReadingGap is a monitoring-gap timer firing (GapTimer; Input.Flow
	// holds the rule id): no reading of the rule's kind came in time.
	ReadingGap
)

// Input is what a turn reacts to.
type Input struct {
	Kind    InputKind
	Text    string
	Channel string
	Due     int64 // Timeout: unix second the fired timer was due
	Flow    string
	Params  []Param
	// Choice is a button's choice id (Text holds the button's label); Step
	// the question it was offered for, 0 when unknown (a template button).
	Choice string
	Step   uint32
	// SayClosed answers a stale button with content.MsgAnswerClosed, for channels
	// that have no other way to tell the patient (WhatsApp; Telegram
	// answers the button press itself).
	SayClosed bool
	// Staff is the person who claims the conversation (Claim).
	Staff string
	// Stale, on a Start or a Claim, is when the start, or the flow the
	// claim interrupts, would come too late to make (unix seconds; 0:
	// never): it applies when the start is held for a person.
	Stale int64
	// Chain is the patient's channels that can reach them now (linked,
	// not blocked): opting out of all of them, or having none, ends the
	// active flow and starts no new one. nil when unknown: the input's
	// channel alone counts.
	Chain []string
	// Deadlines are the response times of the patient's care team, which
	// the patient is quoted ("a person will read it within 24 hours");
	// the zero value is escalation's defaults.
	Deadlines escalation.Deadlines
	// Reading is the reading of a Reading input (and of a typed one).
	Reading *readings.Reading
	// Conditions are the patient's program ids and enrollment conditions:
	// which reading rules apply. Location is their time zone (local days,
	// fasting hours); nil is UTC.
	Conditions []string
	Location   *time.Location
	// Enrolled is when the patient enrolled (monitoring gaps are shorter
	// in the first weeks); zero when unknown.
	Enrolled time.Time
}

// EffectKind names what a turn asks the world to do.
type EffectKind uint8

const (
	// Send a message (Message, with the choices of Flow/State when set).
	Send EffectKind = iota + 1
	// Adherence records a dose outcome (Medication, Status).
	Adherence
	// Quiz records a teach-back answer (Quiz, Question, Correct).
	Quiz
	// Escalate opens a ticket (Priority, Reason).
	Escalate
	// Consent records an opt-out or opt-in (Status).
	Consent
	// SetTimer (Timer, Due) and CancelTimer (Timer) change the patient's timers.
	SetTimer
	CancelTimer
	// Language records a language switch (Status holds the new language).
	Language
	// Lesson records a teach-back item scored with the patient's
	// confidence (Quiz, Question, Correct, Confidence, Status: mastered,
	// reinforce, reteach or misconception) or a lesson's result (Quiz,
	// Correct, Status: passed or failed); see lessons.go.
	Lesson
	// Record records a reading (Reading) with its classification (Level,
	// Rule); Duplicate when its id was recorded before (nothing else
	// happens then).
	Record
	// EpisodeChange records a change of a condition's episode (Condition,
	// Rule, Status, Priority; Reason is its ticket's reason, which the
	// Runner uses to name the ticket).
	EpisodeChange
)

// Effect is one thing a turn asks for. Fields not used by Kind are empty.
type Effect struct {
	Kind EffectKind
	// Send: the message id, the state whose choices follow it, whether it
	// answers the patient (exempt from quiet hours) or is a safety reply.
	Message     string
	Flow, State string
	Params      []Param
	Reply       bool
	Urgent      bool
	Count       int    // plural count (.Hours)
	Step        uint32 // the question's step, when it has choices

	// Channel is the channel a Consent effect is about.
	Channel string

	// Origin is the flow that was active when the effect was made.
	Origin string

	Medication string
	Status     string
	Quiz       string
	Question   string
	Correct    bool
	Confidence int // Lesson: 1 (not sure) to 5 (very sure), 0 when not given
	Priority   string
	Reason     string
	Timer      string
	Due        time.Time

	// Record and EpisodeChange.
	Reading   readings.Reading
	Level     readings.Level
	Rule      string
	Condition string
	Duplicate bool
}

// Output is a turn's effects. Reuse one across turns to save allocations.
type Output struct {
	Effects []Effect
	// Keyword is set when a global keyword handled the input (for metrics).
	Keyword string
}

func (o *Output) add(e Effect) { o.Effects = append(o.Effects, e) }

// add records an effect, stamped with the flow active now.
func (t *turn) add(e Effect) {
	e.Origin = t.s.Flow
	t.out.add(e)
}

// Engine runs turns of compiled flows. It does no I/O and keeps no
// per-patient state, so one Engine serves every patient and channel.
type Engine struct {
	Pack   *content.Pack
	flows  map[string]*flow
	intern map[string]string
	words  []*locales.Words
	prio   map[string]int
	rules  *rules.Rules
}

// flow is a content flow compiled to a looplab/fsm event table. Machines are
// pooled: building one costs far more than a turn.
type flow struct {
	*content.Flow
	prio int
	// lesson: a choice records a quiz answer, so the engine asks for
	// the confidence after it; items are its quiz question ids.
	lesson   bool
	items    map[string]bool
	itemList []string
	states   map[string]*state
	events   fsm.Events
	pool     sync.Pool
}

type state struct {
	*content.State
	// answers maps a normalized answer (label or word, any language) to a
	// choice index.
	answers map[string]int
}

// ErrUnknownFlow is returned for a start of a flow the pack lacks.
var ErrUnknownFlow = errors.New("unknown flow")

// NewEngine compiles a linted pack.
func NewEngine(p *content.Pack) (*Engine, error) {
	e := &Engine{Pack: p, flows: map[string]*flow{}, intern: map[string]string{},
		prio:  map[string]int{content.PriorityEducation: 1, content.PriorityReminder: 2, content.PrioritySafety: 3},
		rules: rules.New(p)}
	for _, l := range p.Languages {
		e.intern[l] = l
		if w := p.Words[l]; w != nil {
			e.words = append(e.words, w)
		}
	}
	for id, cf := range p.Flows {
		f, err := e.compile(cf)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", id, err)
		}
		e.flows[id] = f
		e.intern[id] = id
	}
	return e, nil
}

func (e *Engine) compile(cf *content.Flow) (*flow, error) {
	f := &flow{Flow: cf, prio: e.prio[cf.Priority], states: map[string]*state{}, lesson: cf.IsLesson()}
	if f.lesson {
		f.itemList = cf.Items()
		f.items = map[string]bool{}
		for _, q := range f.itemList {
			f.items[q] = true
		}
	}
	f.events = append(f.events, fsm.EventDesc{Name: "end", Src: []string{content.End}, Dst: content.End})
	for id, cs := range cf.States {
		e.intern[id] = id
		st := &state{State: cs, answers: map[string]int{}}
		for i, c := range cs.Choices {
			f.events = append(f.events, fsm.EventDesc{Name: choiceEvent(c.ID), Src: []string{id}, Dst: orEnd(c.Next)})
			for _, l := range e.Pack.Languages {
				if label, err := e.Pack.Catalog.Text(l, c.Label, nil, nil); err == nil {
					addAnswer(st.answers, locales.Normalize(label), i)
				}
				if w := e.Pack.Words[l]; w != nil {
					for _, class := range c.Words {
						for _, word := range w.Answers[class] {
							addAnswer(st.answers, word, i)
						}
					}
				}
			}
		}
		if cs.Timeout != nil {
			f.events = append(f.events, fsm.EventDesc{Name: "timeout", Src: []string{id}, Dst: orEnd(cs.Timeout.Next)})
		}
		if len(cs.Choices) == 0 && cs.Timeout == nil {
			f.events = append(f.events, fsm.EventDesc{Name: "next", Src: []string{id}, Dst: orEnd(cs.Next)})
		}
		f.states[id] = st
	}
	if f.states[cf.Start] == nil {
		return nil, fmt.Errorf("start state %q is not defined", cf.Start)
	}
	f.pool.New = func() any { return fsm.NewFSM(cf.Start, f.events, nil) }
	return f, nil
}

// addAnswer keeps the first choice for a word, so that a word two choices
// share answers the earlier one.
func addAnswer(m map[string]int, word string, i int) {
	if word == "" {
		return
	}
	if _, ok := m[word]; !ok {
		m[word] = i
	}
}

func choiceEvent(id string) string { return "choice:" + id }

func orEnd(next string) string {
	if next == "" {
		return content.End
	}
	return next
}

// DecodeSession decodes a stored session, sharing the strings of flow, state
// and language ids the engine knows instead of allocating them.
func (e *Engine) DecodeSession(data []byte, s *Session) error { return s.decode(data, e.intern) }

// ParamError is a flow parameter a patient's enrollment does not back (a
// medication they are not enrolled for, a missing appointment): the
// request is wrong, not the server.
type ParamError struct{ Err error }

func (e *ParamError) Error() string { return e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

// Flow reports whether a flow exists and which parameters it declares.
func (e *Engine) Flow(id string) (params content.Params, ok bool) {
	f := e.flows[id]
	if f == nil {
		return nil, false
	}
	return f.Params, true
}

// turn carries one turn's context through the helpers below.
type turn struct {
	e     *Engine
	s     *Session
	out   *Output
	now   time.Time
	reply bool // messages answer the patient
	steps int
	in    Input
	// urgent: the messages are safety messages (an urgent lesson).
	urgent bool
	// ls is the lessons section, decoded when a turn first needs it.
	ls      *lessons
	lsDirty bool
	cl      *clinical // the clinical sections, once a turn reads them
}

// Turn runs one turn: it changes s in place and appends the effects to out
// (which it resets first).
func (e *Engine) Turn(s *Session, in Input, now time.Time, out *Output) error {
	out.Effects = out.Effects[:0]
	out.Keyword = ""
	t := &turn{e: e, s: s, out: out, now: now, in: in}
	err := t.dispatch()
	t.flushLessons()
	t.saveClinical()
	return err
}

// dispatch runs the turn for its input's kind.
func (t *turn) dispatch() error {
	in, s := t.in, t.s
	switch in.Kind {
	case Text:
		t.reply = true
		if in.Choice != "" && s.Owner != "" && !s.OptedOut.Has(in.Channel) {
			t.out.Keyword = "owned" // a button of an old question: the person reads it
			return nil
		}
		if in.Choice != "" {
			return t.choice(in.Choice, in.Step, in.Text)
		}
		return t.text(in.Text)
	case Timeout:
		return t.timeout(in.Due)
	case Start:
		return t.start(in.Flow, in.Params)
	case OptOut:
		if !s.OptedOut.Has(in.Channel) {
			t.optOut()
		}
		return nil
	case SafetyTimeout:
		t.safetyTimeout(in.Due)
		return nil
	case AskStop:
		t.reply = true
		if !s.OptedOut.Has(in.Channel) {
			t.stop()
		}
		return nil
	case AskStart:
		t.reply = true
		t.optIn()
		return nil
	case Claim:
		return t.claim(in.Staff, in.Stale)
	case HandBack:
		return t.handBack(in.Flow, in.Params)
	case Reading:
		return t.reading(in.Reading)
	case ReadingGap:
		t.gap(in.Flow)
		return nil
	}
	return fmt.Errorf("conversations: unknown input kind %d", in.Kind)
}

// channel is the channel the input came on; "" counts as SMS.
func (t *turn) channel() string { return t.in.Channel }

// muted reports whether the patient opted out of every channel they have.
func (t *turn) muted() bool {
	chain := t.in.Chain
	if chain == nil {
		chain = []string{t.channel()}
	}
	return t.s.OptedOut.HasAll(chain)
}

// choice handles a button press. A button of an earlier question is stale:
// nothing happens, and the channel tells the patient the question closed.
// A button without a step (a WhatsApp template's) or whose choice the
// waiting state lacks is read as the text of its label.
func (t *turn) choice(id string, step uint32, label string) error {
	if t.s.OptedOut.Has(t.channel()) {
		return t.text(label)
	}
	if step != 0 && step != t.s.Step {
		return t.stale()
	}
	f, st := t.current()
	if st != nil {
		for _, c := range st.Choices {
			if c.ID == id {
				return t.pick(f, st, c)
			}
		}
	}
	if step != 0 {
		return t.stale()
	}
	return t.text(label)
}

// stale refuses a button of a question that closed.
func (t *turn) stale() error {
	t.out.Keyword = "stale"
	if t.in.SayClosed {
		t.say(content.MsgAnswerClosed, nil)
	}
	return nil
}

func (t *turn) say(id string, mut func(*Effect)) {
	ef := Effect{Kind: Send, Message: id, Reply: t.reply, Urgent: t.urgent}
	if mut != nil {
		mut(&ef)
	}
	t.add(ef)
}

// text handles a patient's message: global keywords first, in every
// language, then the active flow.
func (t *turn) text(raw string) error {
	norm := locales.Normalize(raw)
	s := t.s
	if t.safety(raw, norm) {
		return nil
	}
	if s.OptedOut.Has(t.channel()) {
		switch {
		case t.matchExact(norm, func(w *locales.Words) []string { return w.Start }),
			t.matchExact(norm, func(w *locales.Words) []string { return w.Yes }):
			t.optIn()
		case t.matchExact(norm, func(w *locales.Words) []string { return w.Help }):
			t.out.Keyword = "help"
			t.help()
		}
		// Anything else: nothing is sent until the patient opts back in.
		return nil
	}
	switch {
	case t.matchExact(norm, func(w *locales.Words) []string { return w.Stop }),
		t.matchContains(norm, func(w *locales.Words) []string { return w.Revoke }):
		t.stop()
		return nil
	case t.matchExact(norm, func(w *locales.Words) []string { return w.Start }):
		t.optIn()
		return nil
	case t.matchExact(norm, func(w *locales.Words) []string { return w.Help }):
		t.out.Keyword = "help"
		t.help()
		return nil
	case t.typedReading(raw):
		return nil
	case s.Owner != "":
		// A person has the conversation: everything else is theirs to
		// read and answer.
		t.out.Keyword = "owned"
		return nil
	case t.matchExact(norm, func(w *locales.Words) []string { return w.Human }):
		t.out.Keyword = "human"
		t.escalate(escalation.Medium, ReasonAskedHuman)
		hours := t.in.Deadlines.ResponseHours(escalation.Medium)
		t.say(content.MsgHumanAck, func(ef *Effect) { ef.Count = hours })
		return nil
	}
	if lang := t.languageName(norm); lang != "" {
		t.out.Keyword = "language"
		s.Lang = lang
		t.add(Effect{Kind: Language, Status: lang})
		t.say(content.MsgLanguageConfirm, nil)
		return nil
	}
	if t.matchExact(norm, func(w *locales.Words) []string { return w.Languages }) {
		t.out.Keyword = "languages"
		t.say(content.MsgLanguages, nil)
		return nil
	}
	if t.in.Step != 0 && t.in.Step != s.Step {
		// An answer to a question that closed meanwhile (a key pressed
		// as its timeout ran) must not answer the next one.
		t.out.Keyword = "stale"
		return nil
	}
	if s.Flow == "" {
		// Nothing asked: a person reads it. Every such message goes to
		// the team (a low ticket; later ones attach to it, none is
		// dropped); the patient is told when, at most once a day.
		t.escalate(escalation.Low, ReasonPatientMessage)
		if t.now.Unix()-s.LastIdle >= 24*3600 {
			s.LastIdle = t.now.Unix()
			hours := t.in.Deadlines.ResponseHours(escalation.Low)
			t.say(content.MsgIdleReply, func(ef *Effect) { ef.Count = hours })
		}
		return nil
	}
	return t.answer(norm)
}

// stop is STOP, said or keyed: the channel stops and the patient is told.
func (t *turn) stop() {
	t.out.Keyword = "stop"
	t.clearSafety() // they answered, if not the question
	t.optOut()
	t.say(content.MsgStopConfirm, nil)
}

// optIn is START (or YES while opted out), said or keyed: the channel
// takes messages again, if it had stopped, and the patient is told.
func (t *turn) optIn() {
	t.out.Keyword = "start"
	if t.s.OptedOut.Has(t.channel()) {
		t.s.OptedOut.Remove(t.channel())
		t.add(Effect{Kind: Consent, Status: "opted_in", Channel: t.channel()})
	}
	t.say(content.MsgStartConfirm, nil)
}

// optOut stops the channel the patient wrote on. When no channel is left,
// everything stops: the active flow ends and the queue empties, so nothing
// is waiting to go out when the patient opts back in.
func (t *turn) optOut() {
	t.s.OptedOut.Add(t.channel())
	if t.muted() {
		t.endFlow(false)
		t.s.Queue = nil
	}
	t.add(Effect{Kind: Consent, Status: "opted_out", Channel: t.channel()})
}

func (t *turn) help() {
	t.say(content.MsgHelp, nil)
}

// answer matches a reply against the waiting state's choices.
func (t *turn) answer(norm string) error {
	f, st := t.current()
	if st == nil {
		t.endFlow(true)
		return nil
	}
	i, ok := st.match(norm)
	if !ok {
		return t.miss(f, st)
	}
	return t.pick(f, st, st.Choices[i])
}

// pick goes on with the choice the patient made. In a lesson, a quiz
// answer first asks how sure they are, and the confidence answer then
// scores it and goes on with the answer's own actions (lessons.go).
func (t *turn) pick(f *flow, st *state, c *content.Choice) error {
	t.s.Misses = 0
	if f.lesson {
		if st.ID == content.ConfidenceState {
			return t.confident(f, confidenceOf(c), true)
		}
		if q := content.QuizOf(c.Do); q != nil {
			return t.askConfidence(f, st, c, q)
		}
	}
	t.run(f, c.Do)
	return t.transition(f, choiceEvent(c.ID))
}

// match finds the choice a normalized reply picks: its number (also as the
// first word: "1 taken"), its label, or one of its words.
func (st *state) match(norm string) (int, bool) {
	if len(st.Choices) == 0 {
		return 0, false
	}
	first := norm
	if sp := strings.IndexByte(norm, ' '); sp > 0 {
		first = norm[:sp]
	}
	if n, ok := smallNumber(first); ok && n >= 1 && n <= len(st.Choices) {
		return n - 1, true
	}
	if i, ok := st.answers[norm]; ok {
		return i, true
	}
	return 0, false
}

func smallNumber(s string) (int, bool) {
	if len(s) > 2 {
		return 0, false
	}
	return locales.ASCIIInt(s)
}

// miss handles an answer that matches no choice: re-prompt once with the
// choices, then offer a human, then hand over. It never loops a third time.
func (t *turn) miss(f *flow, st *state) error {
	t.s.Misses++
	switch t.s.Misses {
	case 1:
		t.say(content.MsgAnswerUnknown, func(ef *Effect) { ef.Flow, ef.State, ef.Step = f.ID, st.ID, t.s.Step })
	case 2:
		t.say(content.MsgOfferHuman, func(ef *Effect) { ef.Flow, ef.State, ef.Step = f.ID, st.ID, t.s.Step })
	default:
		t.escalate(escalation.Low, ReasonNotUnderstood)
		t.say(content.MsgHandoff, nil)
		t.endFlow(true)
	}
	return nil
}

// timeout handles the active flow's timer.
func (t *turn) timeout(due int64) error {
	if t.s.Flow == "" || due != t.s.TimerDue {
		return nil // stale: the flow moved on since the timer was read
	}
	t.s.TimerDue = 0
	f, st := t.current()
	if f != nil && f.lesson && t.s.State == content.ConfidenceState {
		// No confidence came: the answer is scored as unsure and the
		// lesson ends there, as an unanswered question ends it.
		return t.confident(f, 0, false)
	}
	if st == nil || st.Timeout == nil {
		t.endFlow(true)
		return nil
	}
	t.run(f, st.Timeout.Do)
	return t.transition(f, "timeout")
}

// start begins a flow now or queues it (see docs/content.md for the policy).
func (t *turn) start(id string, params []Param) error { return t.startPrio(id, params, 0) }

// startPrio is start with the flow's priority raised to at least prio (an
// urgent lesson starts as a safety flow would).
func (t *turn) startPrio(id string, params []Param, prio int) error {
	f := t.e.flows[id]
	if f == nil {
		return fmt.Errorf("%w %q", ErrUnknownFlow, id)
	}
	s := t.s
	if t.muted() {
		return nil
	}
	if s.Owner != "" {
		t.hold(Held{Flow: id, Params: params, Stale: t.in.Stale})
		return nil
	}
	if s.Flow == id && sameParams(s.Params, params) {
		return nil // already running: a retried start must not ask twice
	}
	prio = max(prio, f.prio)
	if s.Flow != "" {
		cur := t.e.flows[s.Flow]
		if cur != nil && prio <= cur.prio {
			t.enqueue(Queued{Flow: id, Params: params}, false)
			return nil
		}
		// A higher priority interrupts: the interrupted flow restarts from
		// its start once this one ends.
		t.enqueue(Queued{Flow: s.Flow, Params: s.Params}, true)
		t.cancelTimer()
	}
	first, review := f.Start, ""
	if f.lesson {
		// A spaced review starts at its item's question state.
		review = lookup(params, ParamReview)
		if !f.items[review] || f.states[review] == nil {
			review = ""
		}
		t.beginRun(f, review)
		if review != "" {
			first = review
		}
	}
	s.Flow, s.State, s.Params, s.Misses = f.ID, first, params, 0
	if review != "" {
		t.say(content.MsgReview, nil)
	}
	return t.enter(f, f.states[first])
}

// maxHeld bounds the starts held for a person; the oldest go first.
const maxHeld = 16

// hold keeps a start for after the hand-back. A start held again (the
// next day's dose) replaces the older one, which would be stale by then.
func (t *turn) hold(h Held) {
	s := t.s
	s.Held = append(without(s.Held, h), h)
	if n := len(s.Held); n > maxHeld {
		s.Held = s.Held[n-maxHeld:]
	}
}

// claim gives the conversation to staff. The active flow stops, its
// question unanswered, and waits for the hand-back at the front of Held.
func (t *turn) claim(staff string, stale int64) error {
	if staff == "" {
		return errors.New("conversations: a claim names the staff member")
	}
	s := t.s
	s.Owner = staff
	if s.Flow == "" {
		return nil
	}
	h := Held{Flow: s.Flow, Params: s.Params, Stale: stale}
	t.endFlow(false)
	s.Held = append([]Held{h}, without(s.Held, h)...)
	return nil
}

// without drops the held starts of h's flow with h's parameters.
func without(held []Held, h Held) []Held {
	return slices.DeleteFunc(held, func(have Held) bool { return have.Flow == h.Flow && sameParams(have.Params, h.Params) })
}

// handBack returns the conversation to the automation: the held starts
// that are still timely run in order (one starts, the others queue), then
// the follow-up. Nothing here answers the patient: quiet hours apply.
func (t *turn) handBack(followUp string, params []Param) error {
	s := t.s
	if followUp != "" && t.e.flows[followUp] == nil {
		return fmt.Errorf("%w %q", ErrUnknownFlow, followUp)
	}
	s.Owner = ""
	held := s.Held
	s.Held = nil
	now := t.now.Unix()
	for _, h := range held {
		if h.Stale != 0 && now > h.Stale || t.e.flows[h.Flow] == nil {
			continue
		}
		if err := t.start(h.Flow, h.Params); err != nil {
			return err
		}
	}
	if followUp != "" {
		return t.start(followUp, params)
	}
	return nil
}

func (t *turn) enqueue(q Queued, front bool) {
	s := t.s
	for _, have := range s.Queue {
		if have.Flow == q.Flow && sameParams(have.Params, q.Params) {
			return
		}
	}
	// A full queue loses its last, lowest-priority entry.
	defer func() {
		if len(s.Queue) > maxQueue {
			s.Queue = s.Queue[:maxQueue]
		}
	}()
	if front {
		s.Queue = append([]Queued{q}, s.Queue...)
		return
	}
	// Keep the queue ordered by priority, first come first served within one.
	p := t.e.flows[q.Flow].prio
	i := len(s.Queue)
	for i > 0 && t.e.flows[s.Queue[i-1].Flow] != nil && t.e.flows[s.Queue[i-1].Flow].prio < p {
		i--
	}
	s.Queue = append(s.Queue, Queued{})
	copy(s.Queue[i+1:], s.Queue[i:])
	s.Queue[i] = q
}

func sameParams(a, b []Param) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// transition fires event on the flow's machine and enters the new state.
func (t *turn) transition(f *flow, event string) error {
	m := f.pool.Get().(*fsm.FSM)
	m.SetState(t.s.State)
	err := m.Event(context.Background(), event)
	dst := m.Current()
	f.pool.Put(m)
	var noTransition fsm.NoTransitionError
	if err != nil && !errors.As(err, &noTransition) {
		return fmt.Errorf("flow %s state %s: %w", f.ID, t.s.State, err)
	}
	if dst == content.End || f.lesson && t.reviewEnds(f, dst) {
		t.endFlow(true)
		return nil
	}
	t.s.State, t.s.Misses = dst, 0
	return t.enter(f, f.states[dst])
}

// enter runs a state's actions, sends its prompt and arms its timer; a state
// that waits for nothing goes on at once.
func (t *turn) enter(f *flow, st *state) error {
	if st == nil {
		t.endFlow(true)
		return nil
	}
	t.steps++
	if t.steps > 32 {
		return fmt.Errorf("flow %s: more than 32 states in one turn", f.ID)
	}
	t.run(f, st.Do)
	if t.s.Flow != f.ID {
		return nil // an action ended the flow
	}
	// A state asking for a reading (reading:) is a question too: a call
	// takes its answer on the keypad.
	asks := len(st.Choices) > 0 || st.Reading != ""
	waits := asks || st.Timeout != nil
	if st.Say != "" && asks {
		// A new question: buttons of the earlier one go stale. A state
		// that waits without asking keeps the question that is on screen.
		t.s.Step++
	}
	if st.Say != "" {
		t.say(st.Say, func(ef *Effect) {
			ef.Params = t.s.Params
			if asks {
				ef.Flow, ef.State, ef.Step = f.ID, st.ID, t.s.Step
			}
		})
	}
	if !waits {
		return t.transition(f, "next")
	}
	wait := defaultWait
	if st.Timeout != nil {
		wait = time.Duration(st.Timeout.After)
	}
	due := t.now.Add(wait).Truncate(time.Second)
	t.s.TimerDue = due.Unix()
	t.out.add(Effect{Kind: SetTimer, Timer: FlowTimer, Due: due})
	return nil
}

func (t *turn) cancelTimer() {
	if t.s.TimerDue != 0 {
		t.s.TimerDue = 0
		t.out.add(Effect{Kind: CancelTimer, Timer: FlowTimer})
	}
}

// endFlow ends the active flow; with next, the first queued flow starts.
func (t *turn) endFlow(next bool) {
	s := t.s
	if s.Flow == "" {
		return
	}
	if next {
		if f := t.e.flows[s.Flow]; f != nil && f.lesson {
			t.finishRun(f)
		}
	}
	t.cancelTimer()
	s.Flow, s.State, s.Params, s.Misses = "", "", nil, 0
	if !next || len(s.Queue) == 0 {
		return
	}
	// The next flow is not an answer to the patient: quiet hours apply.
	t.reply = false
	for len(s.Queue) > 0 && s.Flow == "" {
		q := s.Queue[0]
		s.Queue = s.Queue[1:]
		if len(s.Queue) == 0 {
			s.Queue = nil
		}
		// A queued flow the pack no longer has is skipped, not kept
		// forever at the head of the queue.
		if t.e.flows[q.Flow] != nil {
			t.start(q.Flow, q.Params)
		}
	}
}

func (t *turn) current() (*flow, *state) {
	f := t.e.flows[t.s.Flow]
	if f == nil {
		return nil, nil
	}
	return f, f.states[t.s.State]
}

// run applies a list of content actions; f is the flow they belong to, nil
// for actions outside any flow (a rule's outcome).
func (t *turn) run(f *flow, as []content.Action) {
	for i := range as {
		a := &as[i]
		switch {
		case a.Say != "":
			t.say(a.Say, func(ef *Effect) { ef.Params = t.s.Params })
		case a.Adherence != "":
			t.add(Effect{Kind: Adherence, Medication: t.s.Param("medication"), Status: a.Adherence})
		case a.Quiz != nil && f != nil:
			t.add(Effect{Kind: Quiz, Quiz: f.ID, Question: a.Quiz.Question, Correct: a.Quiz.Correct})
		case a.Escalate != nil:
			t.escalate(a.Escalate.Priority, a.Escalate.Reason)
		case a.Tally != nil:
			t.tally(f, a.Tally)
		case a.Lesson != nil:
			t.startLesson(a.Lesson)
		case a.Followup != nil:
			t.out.add(Effect{Kind: SetTimer, Timer: "followup|" + a.Followup.Flow, Due: t.now.Add(time.Duration(a.Followup.After))})
		case a.Episode != "":
			t.confirmed(f, a.Episode)
		}
	}
}

func (t *turn) escalate(priority, reason string) {
	t.add(Effect{Kind: Escalate, Priority: priority, Reason: reason})
}

// tally counts an occurrence and escalates when enough fall in the window.
func (t *turn) tally(f *flow, a *content.Tally) {
	s := t.s
	now := t.now.Unix()
	since := now - int64(time.Duration(a.Within)/time.Second)
	i := 0
	for i < len(s.Tallies) && s.Tallies[i].Name != a.Name {
		i++
	}
	if i == len(s.Tallies) {
		s.Tallies = append(s.Tallies, Tally{Name: a.Name})
	}
	times := s.Tallies[i].Times[:0]
	for _, x := range s.Tallies[i].Times {
		if x > since {
			times = append(times, x)
		}
	}
	times = append(times, now)
	reached := len(times) >= a.Reach
	if reached {
		t.escalate(a.Escalate.Priority, a.Escalate.Reason)
		times = times[:0]
	}
	s.Tallies[i].Times = times
	if reached {
		t.run(f, a.Do)
	}
}

// matchExact reports whether norm is one of a list in any language.
func (t *turn) matchExact(norm string, list func(*locales.Words) []string) bool {
	for _, w := range t.e.words {
		for _, x := range list(w) {
			if x == norm {
				return true
			}
		}
	}
	return false
}

// matchContains reports whether norm contains a phrase of a list in any
// language, on word boundaries.
func (t *turn) matchContains(norm string, list func(*locales.Words) []string) bool {
	for _, w := range t.e.words {
		for _, x := range list(w) {
			if containsWords(norm, x) {
				return true
			}
		}
	}
	return false
}

func containsWords(s, phrase string) bool {
	if phrase == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], phrase)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(phrase)
		if (j == 0 || s[j-1] == ' ') && (end == len(s) || s[end] == ' ') {
			return true
		}
		i = j + 1
	}
}

func (t *turn) languageName(norm string) string {
	for _, w := range t.e.words {
		for _, x := range w.Names {
			if x == norm {
				return w.Language
			}
		}
	}
	return ""
}
