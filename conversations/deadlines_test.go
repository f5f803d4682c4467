package conversations

import (
	"testing"
	"time"

	"github.com/tendcare/tend/escalation"
)

// The patient is quoted their own team's response times: the idle reply
// the low priority's, the HUMAN acknowledgement the medium's.
func TestTeamDeadlinesQuoted(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 21, 0, 0, 0, time.UTC)
	count := func(d escalation.Deadlines, msg, want string) int {
		t.Helper()
		s := Session{Lang: "en"}
		var out Output
		if err := e.Turn(&s, Input{Kind: Text, Text: msg, Channel: "sms", Deadlines: d}, now, &out); err != nil {
			t.Fatal(err)
		}
		for _, ef := range out.Effects {
			if ef.Kind == Send && ef.Message == want {
				return ef.Count
			}
		}
		t.Fatalf("%q: no %s in %+v", msg, want, out.Effects)
		return 0
	}
	if n := count(escalation.Deadlines{}, "my ankles are swollen", "idle.reply"); n != 24 {
		t.Errorf("default idle reply quotes %d hours, want 24", n)
	}
	if n := count(escalation.Deadlines{Low: 8 * time.Hour}, "my ankles are swollen", "idle.reply"); n != 8 {
		t.Errorf("a team answering within 8 hours: the idle reply quotes %d", n)
	}
	if n := count(escalation.Deadlines{Medium: 2 * time.Hour, Low: 8 * time.Hour}, "HUMAN", "keyword.human.ack"); n != 2 {
		t.Errorf("a team answering a request for a person within 2 hours: quoted %d", n)
	}
}
