package console

import (
	"testing"

	"github.com/tendcare/tend/store"
)

// TestLessonText: the timeline row of a teach-back event says the item, the
// answer, the confidence and the outcome, or the lesson's result.
func TestLessonText(t *testing.T) {
	t.Parallel()
	wrong, right := false, true
	for _, c := range []struct {
		ev   store.Event
		want string
	}{
		{store.Event{Type: "lesson", Quiz: "hf-daily-weight", Question: "q2", Correct: &wrong, Confidence: 5, Status: "misconception"},
			"lesson hf-daily-weight q2: wrong, confidence 5/5: misconception"},
		{store.Event{Type: "lesson", Quiz: "hf-daily-weight", Question: "q1", Correct: &right, Status: "reinforce"},
			"lesson hf-daily-weight q1: right, no confidence given: reinforce"},
		{store.Event{Type: "lesson", Quiz: "hf-daily-weight", Correct: &right, Status: "passed"}, "lesson hf-daily-weight: passed"},
	} {
		if got := lessonText(c.ev); got != c.want {
			t.Errorf("lessonText = %q, want %q", got, c.want)
		}
	}
}
