package conversations

import (
	"testing"
	"time"
)

func kinds(out *Output) (sends []string, escalations []string) {
	for _, ef := range out.Effects {
		switch ef.Kind {
		case Send:
			sends = append(sends, ef.Message)
		case Escalate:
			escalations = append(escalations, ef.Priority)
		}
	}
	return sends, escalations
}

// While a person owns the conversation the automation says nothing but the
// safety reply and the STOP/START/HELP answers; what it would have started
// waits and runs after the hand-back unless it went stale.
func TestOwnedConversation(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	turn := func(in Input) {
		t.Helper()
		if err := e.Turn(&s, in, now, &out); err != nil {
			t.Fatal(err)
		}
	}
	turn(Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}})
	turn(Input{Kind: Claim, Staff: "nurse@clinic.org", Stale: now.Add(2 * time.Hour).Unix()})
	if s.Owner != "nurse@clinic.org" || s.Flow != "" || s.TimerDue != 0 || len(s.Held) != 1 || s.Held[0].Flow != "med-reminder" {
		t.Fatalf("after the claim: owner %q flow %q timer %d held %+v", s.Owner, s.Flow, s.TimerDue, s.Held)
	}
	for _, text := range []string{"1", "yes", "HUMAN", "ESPAÑOL", "what time is my appointment?"} {
		turn(Input{Kind: Text, Text: text, Channel: SMS})
		if len(out.Effects) != 0 || out.Keyword != "owned" {
			t.Fatalf("%q while owned: keyword %q effects %+v; want the person to read it", text, out.Keyword, out.Effects)
		}
	}
	turn(Input{Kind: Text, Text: "x", Choice: "taken", Step: s.Step, Channel: WhatsApp})
	if len(out.Effects) != 0 {
		t.Fatalf("a button while owned: %+v", out.Effects)
	}
	turn(Input{Kind: Text, Text: "HELP", Channel: SMS})
	if sends, _ := kinds(&out); len(sends) != 1 || sends[0] != "keyword.help" {
		t.Fatalf("HELP while owned: %v", sends)
	}
	turn(Input{Kind: Text, Text: "I have crushing chest pain right now", Channel: SMS})
	if sends, esc := kinds(&out); len(sends) != 1 || sends[0] != "keyword.emergency" || len(esc) != 1 || esc[0] != "acute" {
		t.Fatalf("an emergency while owned: sends %v escalations %v", sends, esc)
	}
	// Starts while owned are held, not made; a second start of the same
	// reminder replaces the first.
	turn(Input{Kind: Start, Flow: "refill-reminder", Params: []Param{{"medication", "m"}, {"date", "2026-03-09"}}})
	turn(Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m2"}}, Stale: now.Add(-time.Minute).Unix()})
	turn(Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m2"}}, Stale: now.Add(-time.Second).Unix()})
	if len(out.Effects) != 0 || len(s.Held) != 3 || s.Flow != "" {
		t.Fatalf("starts while owned: effects %+v held %+v flow %q", out.Effects, s.Held, s.Flow)
	}
	turn(Input{Kind: Text, Text: "STOP", Channel: SMS})
	if sends, _ := kinds(&out); !s.OptedOut.Has(SMS) || len(sends) != 1 || sends[0] != "keyword.stop.confirm" {
		t.Fatalf("STOP while owned: opted out %v, sends %v", s.OptedOut.Has(SMS), sends)
	}
	turn(Input{Kind: Text, Text: "START", Channel: SMS})
	// The hand-back runs what is still timely: the interrupted dose
	// question (due within its window) starts, the refill queues behind
	// it, the stale dose reminder is dropped; the follow-up queues too.
	turn(Input{Kind: HandBack, Flow: "hf-daily-weight"})
	if s.Owner != "" || len(s.Held) != 0 || s.Flow != "med-reminder" || s.Param("medication") != "m" {
		t.Fatalf("after the hand-back: owner %q held %+v flow %q %v", s.Owner, s.Held, s.Flow, s.Params)
	}
	if sends, _ := kinds(&out); len(sends) != 1 || sends[0] == "" {
		t.Fatalf("hand-back sends %v, want the dose question", sends)
	}
	var queued []string
	for _, q := range s.Queue {
		queued = append(queued, q.Flow)
	}
	if len(queued) != 2 {
		t.Fatalf("queue after the hand-back %v, want the refill and the follow-up", queued)
	}
	turn(Input{Kind: Text, Text: "1", Channel: SMS})
	if out.Keyword == "owned" || len(out.Effects) == 0 {
		t.Fatalf("an answer after the hand-back: %q %+v", out.Keyword, out.Effects)
	}
	if err := e.Turn(&s, Input{Kind: HandBack, Flow: "no-such-flow"}, now, &out); err == nil {
		t.Fatal("a hand-back to an unknown follow-up flow passed")
	}
	if err := e.Turn(&s, Input{Kind: Claim}, now, &out); err == nil {
		t.Fatal("a claim without staff passed")
	}
}
