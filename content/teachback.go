package content

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// ConfidenceState is the state the engine adds to every lesson flow (a flow
// with a quiz answer): after each quiz answer it asks how sure the patient
// is, 1 to 5, before it says whether the answer was right, so that the
// confidence is the patient's and not a reaction to the feedback. Flows
// may not define a state of this id; a lesson flow needs no extra states.
const ConfidenceState = "confidence"

// Teach-back messages the engine sends in lesson flows (lint requires them
// of a pack that has a lesson).
const (
	MsgConfidence = "teach.confidence" // "How sure are you?"
	MsgReinforce  = "teach.reinforce"  // right but unsure: a tip, and a review in 7 days
	MsgReview     = "teach.review"     // opens a spaced review of one item
)

// ConfidenceLabel is the label of confidence answer n (1 not sure … 5 very
// sure): "teach.confidence.3".
func ConfidenceLabel(n int) string { return MsgConfidence + "." + strconv.Itoa(n) }

// confidenceWait is how long the confidence question waits, as the quiz
// questions do: a patient who does not answer is not left with an open
// question.
const confidenceWait = 24 * time.Hour

// QuizOf returns the quiz mark of a list of actions, nil when none.
func QuizOf(as []Action) *QuizMark {
	for i := range as {
		if as[i].Quiz != nil {
			return as[i].Quiz
		}
	}
	return nil
}

// Items lists a lesson's teach-back items (the quiz question ids of its
// choices), sorted: a lesson's score is the share of them answered right.
func (f *Flow) Items() []string {
	var ids []string
	for _, s := range f.States {
		if s == nil {
			continue
		}
		for _, c := range s.Choices {
			if c == nil {
				continue
			}
			if q := QuizOf(c.Do); q != nil && q.Question != "" && !slices.Contains(ids, q.Question) {
				ids = append(ids, q.Question)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// addConfidence adds the confidence question to a lesson flow. A flow that
// defines a state of that id itself is a problem (the id is the engine's).
func addConfidence(f *Flow) *Problem {
	if own, ok := f.States[ConfidenceState]; ok {
		line := f.Line
		if own != nil && own.Line > 0 {
			line = own.Line
		}
		return &Problem{File: f.File, Line: line, Msg: fmt.Sprintf("flow %q state %q: the id is reserved for the confidence question the engine asks after each quiz answer; rename the state", f.ID, ConfidenceState)}
	}
	if !f.IsLesson() {
		return nil
	}
	st := &State{Say: MsgConfidence, ID: ConfidenceState, File: f.File, Line: f.Line,
		Timeout: &Timeout{After: Duration(confidenceWait), Next: End, Line: f.Line}}
	for n := 1; n <= 5; n++ {
		st.Choices = append(st.Choices, &Choice{ID: strconv.Itoa(n), Label: ConfidenceLabel(n), Next: End, Line: f.Line})
	}
	f.States[ConfidenceState] = st
	return nil
}
