package conversations

import (
	"testing"
	"time"
)

// A session written before the safety question (format 2) still reads, and
// one with a waiting question survives a round trip.
func TestSessionFormat2AndSafety(t *testing.T) {
	t.Parallel()
	s := Session{Lang: "es", Step: 7, Safety: "chest_pain", SafetyDue: 1700000000}
	data, _ := s.AppendBinary(nil)
	var back Session
	if err := back.Decode(data); err != nil || back.Safety != "chest_pain" || back.SafetyDue != 1700000000 || back.Step != 7 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	old := Session{Lang: "es", Step: 7}
	data, _ = old.AppendBinary(nil)
	data = data[:len(data)-2] // the empty safety question format 3 adds
	data[0] = 2
	back = Session{}
	if err := back.Decode(data); err != nil || back.Lang != "es" || back.Step != 7 || back.Safety != "" {
		t.Fatalf("format 2: %+v, %v", back, err)
	}
}

// effects summarizes a turn's sends and tickets.
func sends(out *Output) (msgs []string, tickets []string) {
	for _, ef := range out.Effects {
		switch ef.Kind {
		case Send:
			msgs = append(msgs, ef.Message)
		case Escalate:
			tickets = append(tickets, ef.Priority+": "+ef.Reason)
		}
	}
	return msgs, tickets
}

func TestSafetyQuestion(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC)
	text := func(s *Session, msg string) ([]string, []string, *Output) {
		var out Output
		if err := e.Turn(s, Input{Kind: Text, Text: msg, Channel: "sms"}, now, &out); err != nil {
			t.Fatal(err)
		}
		m, tk := sends(&out)
		return m, tk, &out
	}

	t.Run("opted out patients are asked and answered", func(t *testing.T) {
		s := Session{Lang: "en", OptedOut: AllChannels}
		msgs, _, out := text(&s, "no chest pain")
		if len(msgs) != 1 || msgs[0] != "safety.ask.chest_pain" || !out.Effects[0].Urgent {
			t.Fatalf("ask: %v %+v", msgs, out.Effects)
		}
		// "yes" answers the safety question; it does not opt back in.
		msgs, tickets, _ := text(&s, "yes")
		if len(msgs) != 1 || msgs[0] != "keyword.emergency" || len(tickets) != 1 || !s.OptedOut.Has("sms") {
			t.Fatalf("yes: %v %v, opted out %v", msgs, tickets, s.OptedOut)
		}
	})

	t.Run("the same concept is not asked twice", func(t *testing.T) {
		s := Session{Lang: "en"}
		text(&s, "no chest pain")
		msgs, _, _ := text(&s, "chest pain was yesterday")
		if len(msgs) != 1 || msgs[0] != "idle.reply" {
			t.Fatalf("second mention: %v", msgs)
		}
		if s.Safety != "chest_pain" {
			t.Fatalf("question forgotten: %+v", s)
		}
	})

	t.Run("STOP forgets the question", func(t *testing.T) {
		s := Session{Lang: "en"}
		text(&s, "not short of breath")
		due := s.SafetyDue
		text(&s, "STOP")
		var out Output
		e.Turn(&s, Input{Kind: SafetyTimeout, Due: due}, now.Add(SafetyWait), &out)
		if m, tk := sends(&out); len(m)+len(tk) != 0 || s.Safety != "" {
			t.Fatalf("timeout after STOP: %v %v", m, tk)
		}
	})

	t.Run("a stale timer does nothing", func(t *testing.T) {
		s := Session{Lang: "en"}
		text(&s, "not short of breath")
		var out Output
		e.Turn(&s, Input{Kind: SafetyTimeout, Due: s.SafetyDue - 60}, now.Add(SafetyWait), &out)
		if len(out.Effects) != 0 || s.Safety == "" {
			t.Fatalf("stale timer: %+v", out.Effects)
		}
	})

	t.Run("an emergency while a question waits", func(t *testing.T) {
		s := Session{Lang: "en"}
		text(&s, "no chest pain")
		msgs, tickets, out := text(&s, "no i cant breathe")
		if len(msgs) != 1 || msgs[0] != "keyword.emergency" || len(tickets) != 1 || s.Safety != "" {
			t.Fatalf("emergency: %v %v", msgs, tickets)
		}
		cancelled := false
		for _, ef := range out.Effects {
			cancelled = cancelled || (ef.Kind == CancelTimer && ef.Timer == SafetyTimer)
		}
		if !cancelled {
			t.Fatalf("safety timer not cancelled: %+v", out.Effects)
		}
	})

	t.Run("suicidal thoughts get the crisis reply", func(t *testing.T) {
		s := Session{Lang: "es"}
		msgs, tickets, _ := text(&s, "ya no quiero seguir viviendo")
		if len(msgs) != 1 || msgs[0] != "keyword.crisis" || len(tickets) != 1 || tickets[0] != "acute: emergency: suicide risk" {
			t.Fatalf("crisis: %v %v", msgs, tickets)
		}
	})
}
