package conversations

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/wire"
)

// Teach-back that measures (docs/clinical.md, "Teach-back"). After each
// quiz answer the engine asks how sure the patient is, 1 to 5, before the
// flow says whether the answer was right; the answer and the confidence
// together score the item:
//
//	right, sure (4-5)     mastered
//	right, unsure (1-3)   reinforce: a tip, and a review in 7 days
//	wrong, unsure (1-3)   re-teach: the flow's retry state (at most twice)
//	wrong, sure (4-5)     misconception: a low ticket, and the re-teach
//
// A confidently wrong answer is the dangerous one ("skip the water pill when
// the weight goes up"): a person hears about it. A lesson is passed when at
// least 75 % of its items were right at the first ask (the ≥ 3 of 4 of the
// heart-failure teach-back studies). Items not mastered come back 2, 7 and
// 30 days after the lesson, each review starting the lesson at the item's
// question state: patients forget most of what they are told, and spaced
// review is what makes it stay.
//
// The progress lives in the session's "lessons" section, decoded only in
// turns that touch a lesson, so that a dose reminder's turn pays nothing.

// SectionLessons names the session section of teach-back progress.
const SectionLessons = "lessons"

// Lesson item outcomes and lesson results: the Status of a Lesson effect
// (and of the `lesson` timeline event).
const (
	LessonMastered      = "mastered"
	LessonReinforce     = "reinforce"
	LessonReteach       = "reteach"
	LessonMisconception = "misconception"
	LessonPassed        = "passed"
	LessonFailed        = "failed"
)

// Reasons of the tickets teach-back opens.
const (
	// ReasonMisconception: a wrong answer given as sure (4 or 5).
	ReasonMisconception = "misconception"
	// ReasonComprehensionGap is the bundled lessons' own gap reason: the
	// engine gives it when a flow re-teaches an item more than twice.
	ReasonComprehensionGap = "comprehension gap"
)

// ParamReview is the start parameter of a spaced review: the item (its
// question state) the lesson starts at.
const ParamReview = "review"

// timerReview names the timer of one item's next review: review|flow|item.
const timerReview = "review"

// ReviewTimer is the name of the timer of an item's next review.
func ReviewTimer(flow, item string) string { return join(timerReview, flow, item) }

// reviewAfter are the days after the lesson when an item not mastered comes
// back; maxReteach bounds the re-teaching of one item in one lesson
// (RULES.md: after two failed checks, a person takes over).
var reviewAfter = [...]time.Duration{2 * 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

const (
	maxReteach  = 2
	lessonDay   = 24 * 60 * 60 // at most one lesson on cue in this many seconds
	lessonsForm = 1            // the section's encoding version
)

// outcome ranks, worst last: an item's outcome in a lesson is the worst of
// its answers.
const (
	rankMastered uint8 = iota
	rankReinforce
	rankReteach
	rankMisconception
)

var rankStatus = [...]string{LessonMastered, LessonReinforce, LessonReteach, LessonMisconception}

// score rates one answer with its confidence (0: the patient did not say,
// read as unsure).
func score(correct bool, confidence int) uint8 {
	sure := confidence >= 4
	switch {
	case correct && sure:
		return rankMastered
	case correct:
		return rankReinforce
	case sure:
		return rankMisconception
	}
	return rankReteach
}

// lessons is the decoded "lessons" section.
type lessons struct {
	// Booked is the latest lesson start, made or booked for later (unix
	// seconds): a lesson on cue within a day of it waits a day.
	Booked int64
	// Run is the lesson going on (Flow empty: none).
	Run lessonRun
	// Reviews are the items not mastered and when they come back.
	Reviews []review
}

// lessonRun is one going-through of a lesson (or of one item, a review).
type lessonRun struct {
	Flow   string
	Review string // the item a review is about; "" for the whole lesson
	// The quiz answer waiting for its confidence: the state and choice
	// answered, the item and whether the answer was right.
	State, Choice, Question string
	Correct                 bool
	Items                   []runItem
}

// runItem is how one item went in a run.
type runItem struct {
	Question     string
	FirstCorrect bool  // the first answer was right (the lesson's score)
	Worst        uint8 // the worst outcome of its answers
	Wrong        uint8 // wrong answers
}

// review is an item not mastered: Stage indexes reviewAfter, counted from
// Base, the time of the lesson.
type review struct {
	Flow, Item string
	Stage      uint8
	Base       int64
}

func (l *lessons) item(q string) *runItem {
	for i := range l.Run.Items {
		if l.Run.Items[i].Question == q {
			return &l.Run.Items[i]
		}
	}
	l.Run.Items = append(l.Run.Items, runItem{Question: q})
	return &l.Run.Items[len(l.Run.Items)-1]
}

func (l *lessons) appendBinary(b []byte) []byte {
	b = append(b, lessonsForm)
	b = binary.AppendVarint(b, l.Booked)
	r := &l.Run
	b = wire.AppendText(b, r.Flow)
	b = wire.AppendText(b, r.Review)
	b = wire.AppendText(b, r.State)
	b = wire.AppendText(b, r.Choice)
	b = wire.AppendText(b, r.Question)
	b = append(b, boolByte(r.Correct))
	b = binary.AppendUvarint(b, uint64(len(r.Items)))
	for _, it := range r.Items {
		b = wire.AppendText(b, it.Question)
		b = append(b, boolByte(it.FirstCorrect), it.Worst, it.Wrong)
	}
	b = binary.AppendUvarint(b, uint64(len(l.Reviews)))
	for _, rv := range l.Reviews {
		b = wire.AppendText(b, rv.Flow)
		b = wire.AppendText(b, rv.Item)
		b = append(b, rv.Stage)
		b = binary.AppendVarint(b, rv.Base)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// decodeLessons reads the section. Unreadable data (a later format) is
// read as no progress rather than failing the turn: a lost review is a
// smaller harm than a patient the engine cannot answer.
func decodeLessons(data []byte, intern map[string]string) lessons {
	var l lessons
	if len(data) == 0 {
		return l
	}
	d := decoder{Reader: wire.NewReader(data), intern: intern}
	if d.Byte() != lessonsForm {
		return lessons{}
	}
	l.Booked = d.Varint()
	r := &l.Run
	r.Flow, r.Review, r.State, r.Choice, r.Question = d.string(), d.string(), d.string(), d.string(), d.string()
	r.Correct = d.Byte() == 1
	if n := d.Count(1); n > 0 {
		r.Items = make([]runItem, n)
		for i := range r.Items {
			r.Items[i] = runItem{Question: d.string(), FirstCorrect: d.Byte() == 1, Worst: d.Byte(), Wrong: d.Byte()}
		}
	}
	if n := d.Count(1); n > 0 {
		l.Reviews = make([]review, n)
		for i := range l.Reviews {
			l.Reviews[i] = review{Flow: d.string(), Item: d.string(), Stage: d.Byte(), Base: d.Varint()}
		}
	}
	if d.Failed() {
		return lessons{}
	}
	return l
}

// lessons returns the turn's teach-back progress, decoding the section on
// first use; changes are written back when the turn ends (flushLessons).
func (t *turn) lessons() *lessons {
	if t.ls == nil {
		l := decodeLessons(t.s.Section(SectionLessons), t.e.intern)
		t.ls = &l
	}
	t.lsDirty = true
	return t.ls
}

func (t *turn) flushLessons() {
	if t.ls == nil || !t.lsDirty {
		return
	}
	l := t.ls
	if l.Booked == 0 && l.Run.Flow == "" && len(l.Reviews) == 0 {
		t.s.SetSection(SectionLessons, nil)
		return
	}
	t.s.SetSection(SectionLessons, l.appendBinary(nil))
}

// beginRun starts a run of a lesson flow: the whole lesson, or one item's
// review. A whole lesson counts as the day's lesson.
func (t *turn) beginRun(f *flow, item string) {
	l := t.lessons()
	l.Run = lessonRun{Flow: f.ID, Review: item}
	if item == "" && t.now.Unix() > l.Booked {
		l.Booked = t.now.Unix()
	}
}

// askConfidence holds a quiz answer and asks how sure the patient is.
func (t *turn) askConfidence(f *flow, st *state, c *content.Choice, q *content.QuizMark) error {
	l := t.lessons()
	if l.Run.Flow != f.ID {
		l.Run = lessonRun{Flow: f.ID}
	}
	r := &l.Run
	r.State, r.Choice, r.Question, r.Correct = st.ID, c.ID, q.Question, q.Correct
	t.s.State = content.ConfidenceState
	return t.enter(f, f.states[content.ConfidenceState])
}

// confident scores the held answer with the confidence given (0: none
// came) and goes on as the answered choice says: its feedback, then its
// next state. Without an answer the lesson ends there.
func (t *turn) confident(f *flow, confidence int, answered bool) error {
	l := t.lessons()
	r := &l.Run
	st := f.states[r.State]
	if r.Flow != f.ID || st == nil || st.Choice(r.Choice) == nil {
		t.endFlow(true) // the held answer is lost: nothing to go on with
		return nil
	}
	c := st.Choice(r.Choice)
	rank := score(r.Correct, confidence)
	first := !hasItem(r.Items, r.Question)
	it := l.item(r.Question)
	if first {
		it.FirstCorrect = r.Correct
	}
	it.Worst = max(it.Worst, rank)
	if !r.Correct {
		it.Wrong++
	}
	t.add(Effect{Kind: Lesson, Quiz: f.ID, Question: r.Question, Correct: r.Correct, Confidence: confidence, Status: rankStatus[rank]})
	if rank == rankMisconception {
		t.escalate(escalation.Low, ReasonMisconception)
	}
	wrong := it.Wrong
	t.s.State = r.State
	r.State, r.Choice, r.Question, r.Correct = "", "", "", false
	if !answered {
		t.endFlow(true)
		return nil
	}
	t.runFeedback(f, c.Do)
	if rank == rankReinforce {
		t.say(content.MsgReinforce, nil)
	}
	if wrong > maxReteach {
		// A flow that would re-teach the item a third time: a person
		// goes over it instead.
		t.escalate(escalation.Low, ReasonComprehensionGap)
		t.endFlow(true)
		return nil
	}
	return t.transition(f, choiceEvent(c.ID))
}

func hasItem(items []runItem, q string) bool {
	for _, it := range items {
		if it.Question == q {
			return true
		}
	}
	return false
}

// runFeedback runs a quiz choice's actions but its quiz mark, which the
// confidence answer has scored.
func (t *turn) runFeedback(f *flow, as []content.Action) {
	for i := range as {
		if as[i].Quiz == nil {
			t.run(f, as[i:i+1])
		}
	}
}

// confidenceOf reads a confidence choice's id ("1".."5").
func confidenceOf(c *content.Choice) int {
	n, err := strconv.Atoi(c.ID)
	if err != nil || n < 1 || n > 5 {
		return 0
	}
	return n
}

// reviewEnds reports whether a transition to dst ends a review: a review
// is about one item, and the lesson's next item is not part of it.
func (t *turn) reviewEnds(f *flow, dst string) bool {
	if !f.items[dst] {
		return false
	}
	r := &t.lessons().Run
	return r.Flow == f.ID && r.Review != "" && r.Review != dst
}

// finishRun closes the lesson that ends: each item answered is either
// mastered (its reviews stop) or comes back later; a whole lesson is
// passed or failed.
func (t *turn) finishRun(f *flow) {
	l := t.lessons()
	r := l.Run
	l.Run = lessonRun{}
	if r.Flow != f.ID || len(r.Items) == 0 {
		return
	}
	for _, it := range r.Items {
		t.reschedule(l, f.ID, it.Question, it.Worst)
	}
	if r.Review != "" {
		return
	}
	right := 0
	for _, it := range r.Items {
		if it.FirstCorrect {
			right++
		}
	}
	// Unanswered items count as not right: a lesson left half-way is not
	// passed.
	passed := lessonPassed(right, len(f.itemList))
	status := LessonFailed
	if passed {
		status = LessonPassed
	}
	t.add(Effect{Kind: Lesson, Quiz: f.ID, Correct: passed, Status: status})
}

// lessonPassed is the pass rule: at least 75 % of the lesson's items right
// at the first ask.
func lessonPassed(right, items int) bool { return items > 0 && right*4 >= items*3 }

// reschedule sets an item's next review after it was answered: a mastered
// item is done; one not mastered comes back 2 days after the lesson (7 when
// it was only unsure), and after each review not mastered at the next of 2,
// 7 and 30 days, then no more.
func (t *turn) reschedule(l *lessons, flow, item string, worst uint8) {
	i := 0
	for i < len(l.Reviews) && (l.Reviews[i].Flow != flow || l.Reviews[i].Item != item) {
		i++
	}
	name := ReviewTimer(flow, item)
	drop := func() {
		l.Reviews = append(l.Reviews[:i:i], l.Reviews[i+1:]...)
		t.out.add(Effect{Kind: CancelTimer, Timer: name})
	}
	switch {
	case worst == rankMastered:
		if i < len(l.Reviews) {
			drop()
		}
		return
	case i == len(l.Reviews):
		stage := uint8(0)
		if worst == rankReinforce {
			stage = 1
		}
		l.Reviews = append(l.Reviews, review{Flow: flow, Item: item, Stage: stage, Base: t.now.Unix()})
	default:
		l.Reviews[i].Stage++
		if int(l.Reviews[i].Stage) >= len(reviewAfter) {
			drop()
			return
		}
	}
	rv := l.Reviews[i]
	due := time.Unix(rv.Base, 0).Add(reviewAfter[rv.Stage])
	if soonest := t.now.Add(24 * time.Hour); due.Before(soonest) {
		due = soonest // a review that ran late: the next one not the same day
	}
	t.out.add(Effect{Kind: SetTimer, Timer: name, Due: due.Truncate(time.Second)})
}

// startLesson is the lesson action: start a lesson flow now, or a day after
// the last lesson when there was one in the last day; an urgent one now,
// before anything else that waits.
func (t *turn) startLesson(ls *content.LessonStart) {
	f := t.e.flows[ls.Flow]
	if f == nil {
		return // lint refuses a pack whose lesson action names no flow
	}
	if ls.Urgent {
		urgent := t.urgent
		t.urgent = true
		t.startPrio(f.ID, nil, t.e.prio[content.PrioritySafety])
		t.urgent = urgent
		return
	}
	l := t.lessons()
	now := t.now.Unix()
	if l.Booked != 0 && now < l.Booked+lessonDay {
		l.Booked += lessonDay
		t.out.add(Effect{Kind: SetTimer, Timer: join(timerFollowup, f.ID), Due: time.Unix(l.Booked, 0)})
		return
	}
	l.Booked = now
	t.start(f.ID, nil)
}
