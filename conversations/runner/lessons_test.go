package runner

import (
	"context"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
)

// TestLessonEventsAndReview runs a lesson through the runner: each scored
// answer is a `lesson` event with its confidence, a confident wrong answer
// opens a low "misconception" ticket, and the item not mastered comes back
// two days later at its question.
func TestLessonEventsAndReview(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	start := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	r, clock, st := newTestRunner(t, start)
	ctx := context.Background()
	enrollAt(t, r, "20:00")
	if err := r.StartFlow(ctx, "p1", "hf-daily-weight", nil); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"1", "5", "2", "4", "3", "5"} { // wrong but sure; right; right
		if err := r.Inbound(ctx, "p1", "sms", text, "m"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.Timeline(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	misconception := false
	for _, ev := range evs {
		switch ev.Type {
		case "lesson":
			got = append(got, ev.Question+":"+ev.Status+":"+string(rune('0'+ev.Confidence)))
			if ev.Quiz != "hf-daily-weight" || ev.Correct == nil {
				t.Errorf("lesson event %+v", ev)
			}
		case "escalation":
			misconception = misconception || ev.Reason == conversations.ReasonMisconception && ev.Priority == "low"
		}
	}
	want := []string{"q1:misconception:5", "q1:mastered:4", "q2:mastered:5", ":failed:0"}
	if len(got) != len(want) {
		t.Fatalf("lesson events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lesson events %v, want %v", got, want)
		}
	}
	if !misconception {
		t.Fatal("no low misconception ticket")
	}
	timers, _ := st.Timers(ctx, "p1")
	var review time.Time
	for _, tm := range timers {
		if tm.Name == conversations.ReviewTimer("hf-daily-weight", "q1") {
			review = tm.Due
		}
	}
	if review.IsZero() || review.Sub(start) < 48*time.Hour || review.Sub(start) > 49*time.Hour {
		t.Fatalf("q1 review due %v, want two days after the lesson (timers %+v)", review, timers)
	}
	clock.Set(review.Add(time.Minute))
	r.FireDue(ctx, 1)
	if s := session(t, r, "p1"); s.Flow != "hf-daily-weight" || s.State != "q1" {
		t.Fatalf("after the review timer: %s/%s, want hf-daily-weight/q1", s.Flow, s.State)
	}
}
