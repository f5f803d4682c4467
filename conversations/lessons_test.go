package conversations

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/readings"
)

// lessonRig drives the pure engine through lessons with a manual clock, as
// the runner would: it keeps the timers the engine sets and fires them.
type lessonRig struct {
	t      *testing.T
	e      *Engine
	s      Session
	clock  *ManualClock
	out    Output
	timers map[string]time.Time
	got    []Effect // every effect since the last take
}

func newLessonRig(t *testing.T, e *Engine) *lessonRig {
	return &lessonRig{t: t, e: e, s: Session{Lang: "en"}, clock: NewManualClock(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)), timers: map[string]time.Time{}}
}

func (r *lessonRig) turn(in Input) {
	r.t.Helper()
	if err := r.e.Turn(&r.s, in, r.clock.Now(), &r.out); err != nil {
		r.t.Fatalf("turn %+v: %v", in, err)
	}
	data, _ := r.s.AppendBinary(nil)
	if err := r.e.DecodeSession(data, &r.s); err != nil {
		r.t.Fatal(err)
	}
	for _, ef := range r.out.Effects {
		switch ef.Kind {
		case SetTimer:
			r.timers[ef.Timer] = ef.Due
		case CancelTimer:
			delete(r.timers, ef.Timer)
		}
	}
	r.got = append(r.got, r.out.Effects...)
}

func (r *lessonRig) say(text string) { r.turn(Input{Kind: Text, Text: text, Channel: "sms"}) }

// fire moves the clock to a timer and runs it as the runner does.
func (r *lessonRig) fire(name string) {
	r.t.Helper()
	due, ok := r.timers[name]
	if !ok {
		r.t.Fatalf("no timer %q (timers %v)", name, r.timers)
	}
	r.clock.Set(due)
	delete(r.timers, name)
	sc, ok := ParseTimer(name)
	if !ok {
		r.t.Fatalf("timer %q does not parse", name)
	}
	r.turn(Input{Kind: Start, Flow: sc.Flow, Params: sc.Params})
}

// take returns the effects since the last take, described briefly.
func (r *lessonRig) take() []string {
	var out []string
	for _, ef := range r.got {
		switch ef.Kind {
		case Send:
			out = append(out, "say "+ef.Message)
		case Lesson:
			out = append(out, strings.Join(slices.DeleteFunc([]string{"lesson", ef.Question, ef.Status}, func(x string) bool { return x == "" }), " "))
		case Escalate:
			out = append(out, "ticket "+ef.Priority+" "+ef.Reason)
		}
	}
	r.got = nil
	return out
}

func (r *lessonRig) lessonsState() lessons {
	return decodeLessons(r.s.Section(SectionLessons), nil)
}

func TestConfidenceScoring(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	cases := []struct {
		answer, confidence string
		status             string
		ticket             bool
	}{
		{"2", "5", LessonMastered, false},
		{"2", "4", LessonMastered, false},
		{"2", "3", LessonReinforce, false},
		{"2", "1", LessonReinforce, false},
		{"1", "1", LessonReteach, false},
		{"3", "3", LessonReteach, false},
		{"1", "4", LessonMisconception, true},
		{"3", "5", LessonMisconception, true},
	}
	for _, c := range cases {
		r := newLessonRig(t, e)
		r.turn(Input{Kind: Start, Flow: "hf-daily-weight"})
		r.say(c.answer)
		if r.s.State != content.ConfidenceState {
			t.Fatalf("%s: after a quiz answer the state is %q, want the confidence question", c.answer, r.s.State)
		}
		if got := r.take(); !slices.Contains(got, "say "+content.MsgConfidence) || slices.ContainsFunc(got, func(x string) bool { return x == "say weight.q1.right" || x == "say weight.q1.explain" }) {
			t.Fatalf("%s: the confidence question comes before any feedback: %v", c.answer, got)
		}
		r.say(c.confidence)
		var lesson *Effect
		for i := range r.out.Effects {
			if r.out.Effects[i].Kind == Lesson {
				lesson = &r.out.Effects[i]
			}
		}
		if lesson == nil || lesson.Status != c.status || lesson.Question != "q1" || lesson.Quiz != "hf-daily-weight" || lesson.Confidence != int(c.confidence[0]-'0') || lesson.Correct != (c.answer == "2") {
			t.Fatalf("answer %s sure %s: lesson effect %+v, want %s", c.answer, c.confidence, lesson, c.status)
		}
		got := r.take()
		if has := slices.Contains(got, "ticket "+escalation.Low+" "+ReasonMisconception); has != c.ticket {
			t.Errorf("answer %s sure %s: misconception ticket %v, want %v (%v)", c.answer, c.confidence, has, c.ticket, got)
		}
		if has := slices.Contains(got, "say "+content.MsgReinforce); has != (c.status == LessonReinforce) {
			t.Errorf("answer %s sure %s: reinforcement tip %v (%v)", c.answer, c.confidence, has, got)
		}
		want := "q2"
		if c.answer != "2" {
			want = "q1_retry" // re-taught differently, asked again
		}
		if r.s.State != want {
			t.Errorf("answer %s sure %s: went on to %q, want %q", c.answer, c.confidence, r.s.State, want)
		}
	}
}

func TestLessonPassRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		right, items int
		want         bool
	}{{3, 4, true}, {4, 4, true}, {2, 4, false}, {2, 2, true}, {1, 2, false}, {2, 3, false}, {3, 3, true}, {0, 0, false}} {
		if got := lessonPassed(c.right, c.items); got != c.want {
			t.Errorf("%d of %d right: passed %v, want %v", c.right, c.items, got, c.want)
		}
	}
}

// TestSpacedReview walks an item not mastered through its reviews at 2, 7
// and 30 days after the lesson, each starting at the item's question.
func TestSpacedReview(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	r := newLessonRig(t, e)
	lessonAt := r.clock.Now()
	r.turn(Input{Kind: Start, Flow: "hf-daily-weight"})
	r.say("1") // wrong
	r.say("2") // unsure: re-teach
	r.say("2") // right at the retry
	r.say("5")
	r.say("3") // q2 right
	r.say("5") // and sure: mastered
	if got := r.take(); !slices.Contains(got, "lesson q1 reteach") || !slices.Contains(got, "lesson q2 mastered") || !slices.Contains(got, "lesson failed") {
		t.Fatalf("lesson: %v", got)
	}
	q1 := ReviewTimer("hf-daily-weight", "q1")
	if due := r.timers[q1]; !due.Equal(lessonAt.Add(2 * 24 * time.Hour)) {
		t.Fatalf("q1 review at %v, want 2 days after the lesson (timers %v)", due, r.timers)
	}
	if _, ok := r.timers[ReviewTimer("hf-daily-weight", "q2")]; ok {
		t.Fatal("a mastered item is reviewed")
	}

	// +2 days: the review asks q1 alone, and the patient is unsure again.
	r.fire(q1)
	if r.s.Flow != "hf-daily-weight" || r.s.State != "q1" {
		t.Fatalf("review started at %s/%s, want hf-daily-weight/q1", r.s.Flow, r.s.State)
	}
	if got := r.take(); !reflect.DeepEqual(got, []string{"say " + content.MsgReview, "say weight.q1.ask"}) {
		t.Fatalf("review opens with %v", got)
	}
	r.say("2")
	r.say("3")
	if r.s.Flow != "" {
		t.Fatalf("the review went on to %s/%s: a review is one item", r.s.Flow, r.s.State)
	}
	if got := r.take(); !slices.Contains(got, "lesson q1 reinforce") || slices.Contains(got, "say weight.q2.ask") || slices.ContainsFunc(got, func(x string) bool { return strings.Contains(x, "passed") || strings.Contains(x, "failed") }) {
		t.Fatalf("review: %v", got)
	}
	if due := r.timers[q1]; !due.Equal(lessonAt.Add(7 * 24 * time.Hour)) {
		t.Fatalf("second review at %v, want 7 days after the lesson", due)
	}

	// +7 days: wrong and unsure again: the last review at +30 days.
	r.fire(q1)
	r.say("1")
	r.say("1")
	r.say("2") // right at the retry
	r.say("2")
	if due := r.timers[q1]; !due.Equal(lessonAt.Add(30 * 24 * time.Hour)) {
		t.Fatalf("third review at %v, want 30 days after the lesson", due)
	}
	// +30 days: still unsure; no review after the third.
	r.fire(q1)
	r.say("2")
	r.say("1")
	if _, ok := r.timers[q1]; ok || len(r.lessonsState().Reviews) != 0 {
		t.Fatalf("a fourth review: timers %v, reviews %+v", r.timers, r.lessonsState().Reviews)
	}
}

// TestReviewMastered stops the reviews of an item once it is mastered, and
// starts a right-but-unsure item's first review at 7 days.
func TestReviewMastered(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	r := newLessonRig(t, e)
	at := r.clock.Now()
	r.turn(Input{Kind: Start, Flow: "hf-daily-weight"})
	r.say("2")
	r.say("3") // right, unsure: reinforce
	r.say("3")
	r.say("4")
	q1 := ReviewTimer("hf-daily-weight", "q1")
	if due := r.timers[q1]; !due.Equal(at.Add(7 * 24 * time.Hour)) {
		t.Fatalf("reinforced item reviewed at %v, want in 7 days", due)
	}
	if got := r.take(); !slices.Contains(got, "lesson passed") {
		t.Fatalf("both right at the first ask: %v", got)
	}
	r.fire(q1)
	r.say("2")
	r.say("5")
	if _, ok := r.timers[q1]; ok || len(r.lessonsState().Reviews) != 0 || r.s.Flow != "" {
		t.Fatalf("mastered at the review: timers %v, state %+v, flow %q", r.timers, r.lessonsState(), r.s.Flow)
	}
	if r.s.Section(SectionLessons) == nil {
		t.Fatal("the day's lesson is forgotten")
	}
}

// TestReteachAtMostTwice hands an item to a person when a flow would
// re-teach it a third time.
func TestReteachAtMostTwice(t *testing.T) {
	t.Parallel()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	// A flow that loops its retry on a wrong answer.
	for _, c := range pack.Flows["hf-daily-weight"].States["q1_retry"].Choices {
		if c.Next == "gap" {
			c.Next = "q1_retry"
		}
	}
	e, err := NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	r := newLessonRig(t, e)
	r.turn(Input{Kind: Start, Flow: "hf-daily-weight"})
	for i := 0; i < 3; i++ {
		r.say("1")
		r.say("1")
	}
	got := r.take()
	if !slices.Contains(got, "ticket "+escalation.Low+" "+ReasonComprehensionGap) || r.s.Flow != "" {
		t.Fatalf("third wrong answer: %v, flow %q", got, r.s.Flow)
	}
}

// TestLessonAction starts lessons on cue: one a day, the next deferred a
// day; an urgent one at once, before the flow that waits, as safety
// messages.
func TestLessonAction(t *testing.T) {
	t.Parallel()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	// Two missed doses start the lesson (the tally's actions).
	for _, a := range pack.Flows["med-reminder"].States["not_taken"].Do {
		if a.Tally != nil {
			a.Tally.Do = []content.Action{{Lesson: &content.LessonStart{Flow: "hf-daily-weight"}}}
		}
	}
	e, err := NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	r := newLessonRig(t, e)
	med := Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "lisinopril"}}}
	reported := func() {
		r.turn(med)
		r.say("2")
		r.clock.Add(30 * time.Minute)
		r.turn(Input{Kind: Timeout, Due: r.s.TimerDue})
		r.say("no") // not yet, a second time: a reported miss
	}
	reported()
	if r.s.Flow != "" {
		t.Fatalf("one missed dose: flow %q", r.s.Flow)
	}
	r.clock.Add(24 * time.Hour)
	r.take()
	reported()
	got := r.take()
	if !slices.Contains(got, "say weight.lesson.how") || r.s.Flow != "hf-daily-weight" {
		t.Fatalf("two reported misses: %v, flow %q", got, r.s.Flow)
	}
	// The lesson goes on; another cue the same day waits a day.
	r.say("2")
	r.say("5")
	r.say("3")
	r.say("5")
	r.clock.Add(3 * time.Hour)
	r.take()
	reported()
	reported()
	if due, ok := r.timers["followup|hf-daily-weight"]; !ok || !due.After(r.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("a second lesson the same day: timers %v", r.timers)
	}
	if r.s.Flow != "" {
		t.Fatalf("a second lesson the same day started: %q", r.s.Flow)
	}

	// An urgent lesson (a rule's outcome: the rule of 15 on a low sugar):
	// now, interrupting the reminder that waits, exempt from the day's
	// limit and from quiet hours.
	r.take()
	r.turn(med)
	r.out.Effects = r.out.Effects[:0]
	tr := &turn{e: e, s: &r.s, out: &r.out, now: r.clock.Now()}
	tr.run(nil, []content.Action{{Lesson: &content.LessonStart{Flow: "hf-daily-weight", Urgent: true}}})
	tr.flushLessons()
	var urgent, lessonSaid bool
	for _, ef := range r.out.Effects {
		if ef.Kind == Send && ef.Origin == "hf-daily-weight" {
			lessonSaid = true
			urgent = ef.Urgent
		}
	}
	if !lessonSaid || !urgent || r.s.Flow != "hf-daily-weight" || len(r.s.Queue) == 0 || r.s.Queue[0].Flow != "med-reminder" {
		t.Fatalf("urgent lesson: said %v urgent %v flow %q queue %+v", lessonSaid, urgent, r.s.Flow, r.s.Queue)
	}
}

func TestLessonsSectionRoundTrip(t *testing.T) {
	t.Parallel()
	l := lessons{Booked: 1772000000, Run: lessonRun{Flow: "hf-daily-weight", Review: "q1", State: "q1", Choice: "evening", Question: "q1", Correct: true,
		Items: []runItem{{Question: "q1", FirstCorrect: true, Worst: rankReteach, Wrong: 1}}},
		Reviews: []review{{Flow: "hf-daily-weight", Item: "q2", Stage: 1, Base: 1771000000}}}
	data := l.appendBinary(nil)
	if got := decodeLessons(data, nil); !reflect.DeepEqual(got, l) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
	}
	for i := 1; i < len(data); i++ {
		if got := decodeLessons(data[:i], nil); !reflect.DeepEqual(got, lessons{}) {
			t.Fatalf("truncated at %d: %+v", i, got)
		}
	}
}

// BenchmarkLessonTurn is the dearest lesson turn: a confidence answer that
// decodes the lessons section, scores the item, runs the feedback, asks the
// next question and writes the section back.
func BenchmarkLessonTurn(b *testing.B) {
	e := testEngine(b)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	for _, in := range []Input{{Kind: Start, Flow: "hf-daily-weight"}, {Kind: Text, Text: "2", Channel: "sms"}} {
		if err := e.Turn(&s, in, now, &out); err != nil {
			b.Fatal(err)
		}
	}
	waiting, _ := s.AppendBinary(nil)
	buf := benchStoredTurn(b, e, waiting, Input{Kind: Text, Text: "5", Channel: "sms"}, now)
	if s := (Session{}); e.DecodeSession(buf, &s) != nil || s.State != "q2" {
		b.Fatal("the confidence answer did not go on to q2")
	}
}

// TestRuleStartsLesson: a rule's outcome runs the lesson action as a flow's
// would. The first high blood pressure starts the measuring lesson (once
// a day at most); a low sugar starts the rule of 15 at once, as a safety
// message.
func TestRuleStartsLesson(t *testing.T) {
	t.Parallel()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range pack.Rules {
		for _, r := range rs.Rules {
			switch r.ID {
			case "bp-first-high":
				r.Do = append(r.Do, content.Action{Lesson: &content.LessonStart{Flow: "bp-measuring"}})
			case "glucose-level1":
				r.Do = append(r.Do, content.Action{Lesson: &content.LessonStart{Flow: "rule-of-15", Urgent: true}})
			}
		}
	}
	e, err := NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var out Output

	s := Session{Lang: "en"}
	in := Input{Kind: Reading, Conditions: []string{"hypertension"}, Reading: &readings.Reading{Kind: readings.BloodPressure, Systolic: 150, Diastolic: 95, Unit: readings.UnitMmHg, At: now}}
	if err := e.Turn(&s, in, now, &out); err != nil {
		t.Fatal(err)
	}
	if s.Flow != "bp-measuring" {
		t.Fatalf("first high reading: flow %q, effects %v", s.Flow, summarize(out.Effects))
	}

	s = Session{Lang: "en"}
	s.SetSection(SectionLessons, (&lessons{Booked: now.Add(-time.Hour).Unix()}).appendBinary(nil)) // a lesson an hour ago
	in = Input{Kind: Reading, Conditions: []string{"type2-diabetes"}, Reading: &readings.Reading{Kind: readings.Glucose, Value: 62, Unit: readings.UnitMgDL, At: now}}
	if err := e.Turn(&s, in, now, &out); err != nil {
		t.Fatal(err)
	}
	urgent := false
	for _, ef := range out.Effects {
		if ef.Kind == Send && ef.Origin == "rule-of-15" {
			urgent = ef.Urgent
		}
	}
	if s.Flow != "rule-of-15" || !urgent {
		t.Fatalf("low sugar: flow %q, urgent %v, effects %v", s.Flow, urgent, summarize(out.Effects))
	}
}
