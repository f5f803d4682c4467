package conversations

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	s := Session{Lang: "es", OptedOut: 1 | 8, Unreachable: 4, WindowAt: 1772000000, Step: 7, Flow: "med-reminder", State: "ask", Params: []Param{{"medication", "x"}},
		Misses: 2, TimerDue: 1772000000, Queue: []Queued{{Flow: "hf-daily-weight"}, {Flow: "refill-reminder", Params: []Param{{"date", "2026-01-01"}}}},
		Tallies: []Tally{{Name: "missed-doses", Times: []int64{1, 2}}}, LastIdle: 42,
		Safety: "chest_pain", SafetyDue: 1772000600, Owner: "nurse@clinic.org", Held: []Held{{Flow: "med-reminder", Params: []Param{{"medication", "m"}}, Stale: 1772007200}, {Flow: "refill-reminder"}},
		LastIn: 1772000300, Tickets: []TicketRef{{ID: "t1", Reason: "asked_human", Priority: "medium"}},
		Resolved: "t0", ResolvedAt: 1771990000, Sections: []Section{{Name: "readings", Data: []byte{1, 2, 3}}, {Name: "risk", Data: []byte("x")}}}
	data, _ := s.AppendBinary(nil)
	var got Session
	if err := got.Decode(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, got) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
	}
	// Every truncation is an error, never a panic or a half-read session.
	for i := 1; i < len(data); i++ {
		var bad Session
		if err := bad.Decode(data[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	var empty Session
	if err := empty.Decode(nil); err != nil || !reflect.DeepEqual(empty, Session{}) {
		t.Fatalf("empty data: %v %+v", err, empty)
	}
}

func TestSetSection(t *testing.T) {
	t.Parallel()
	var s Session
	s.SetSection("a", []byte("1"))
	s.SetSection("b", []byte("2"))
	s.SetSection("a", []byte("3"))
	if got := string(s.Section("a")) + string(s.Section("b")); got != "32" || len(s.Sections) != 2 {
		t.Fatalf("sections %+v", s.Sections)
	}
	s.SetSection("a", nil)
	s.SetSection("b", nil)
	if s.Sections != nil || s.Section("a") != nil {
		t.Fatalf("removed sections left %+v", s.Sections)
	}
}

// answer runs one reply on a fresh med-reminder and reports the adherence.
func TestChoiceMatching(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		lang, reply, want string
	}{
		{"en", "1", "taken"},
		{"en", " 1. ", "taken"},
		{"en", "１", "taken"}, // full-width
		{"en", "١", "taken"}, // Arabic-Indic
		{"en", "१", "taken"}, // Devanagari
		{"en", "YES", "taken"},
		{"en", "y", "taken"},
		{"en", "👍", "taken"},
		{"en", "Yes, I took it", "taken"},
		{"en", "2", "not_yet"},
		{"en", "no", "not_yet"},
		{"en", "2 not yet", "not_yet"},
		{"es", "Sí", "taken"},
		{"es", "si", "taken"},
		{"es", "¡Sí!", "taken"},
		{"es", "todavia no", "not_yet"},
		{"en", "4", ""},
		{"en", "banana", ""},
	}
	for _, c := range cases {
		s := Session{Lang: c.lang}
		var out Output
		if err := e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out); err != nil {
			t.Fatal(err)
		}
		if err := e.Turn(&s, Input{Kind: Text, Text: c.reply}, now, &out); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, ef := range out.Effects {
			if ef.Kind == Adherence {
				got = ef.Status
			}
		}
		if got != c.want {
			t.Errorf("%s %q: adherence %q, want %q", c.lang, c.reply, got, c.want)
		}
	}
}

func TestKeywords(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		text, keyword string
	}{
		{"STOP", "stop"}, {"stop ", "stop"}, {"Stop All", "stop"}, {"opt-out", "stop"}, {"PARAR", "stop"}, {"cancelar", "stop"},
		{"please stop texting me", "stop"},
		{"START", "start"}, {"unstop", "start"},
		{"HELP", "help"}, {"info", "help"}, {"Ayuda", "help"},
		{"NURSE", "human"}, {"agent", "human"}, {"Human", "human"}, {"enfermera", "human"},
		{"I have CHEST PAIN", "emergency"}, {"can't breathe", "emergency"}, {"I want to die", "emergency"},
		{"tengo dolor de pecho", "emergency"}, {"no puedo respirar", "emergency"},
		{"ENGLISH", "language"}, {"Español", "language"}, {"espanol", "language"},
		{"stop sign", ""}, {"helpful", ""},
	}
	for _, c := range cases {
		s := Session{Lang: "en"}
		var out Output
		if err := e.Turn(&s, Input{Kind: Text, Text: c.text}, now, &out); err != nil {
			t.Fatal(err)
		}
		if out.Keyword != c.keyword {
			t.Errorf("%q: keyword %q, want %q", c.text, out.Keyword, c.keyword)
		}
	}
}

func TestOptOutSilencesEverything(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	e.Turn(&s, Input{Kind: Text, Text: "STOP"}, now, &out)
	sends := 0
	for _, ef := range out.Effects {
		if ef.Kind == Send {
			sends++
		}
	}
	if sends != 1 || !s.OptedOut.Has(SMS) || s.Flow != "" {
		t.Fatalf("after STOP: %d sends (want exactly 1 confirmation), opted out %v, flow %q", sends, s.OptedOut, s.Flow)
	}
	for _, in := range []Input{{Kind: Text, Text: "hello"}, {Kind: Text, Text: "1"}, {Kind: Text, Text: "STOP"},
		{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, {Kind: Text, Text: "nurse"}} {
		e.Turn(&s, in, now, &out)
		for _, ef := range out.Effects {
			if ef.Kind == Send {
				t.Fatalf("opted out, %+v sent %s", in, ef.Message)
			}
		}
	}
	// YES opts back in only while opted out.
	e.Turn(&s, Input{Kind: Text, Text: "yes"}, now, &out)
	if s.OptedOut.Has(SMS) {
		t.Fatal("YES did not opt back in")
	}
}

// Consent is per channel: STOP by SMS leaves calls on, and the flow goes
// on for them; only when every channel is stopped does everything stop.
func TestOptOutPerChannel(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	chain := []string{SMS, Voice}
	s := Session{Lang: "en"}
	var out Output
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}, Chain: chain}, now, &out)
	e.Turn(&s, Input{Kind: Text, Text: "STOP", Channel: SMS, Chain: chain}, now, &out)
	if !s.OptedOut.Has(SMS) || s.OptedOut.Has(Voice) || s.Flow == "" {
		t.Fatalf("after SMS STOP: opted out %08b, flow %q; want SMS only and the flow kept", s.OptedOut, s.Flow)
	}
	if ef := out.Effects[len(out.Effects)-1]; ef.Kind != Send || ef.Message != "keyword.stop.confirm" {
		t.Fatalf("last effect %+v, want the stop confirmation", ef)
	}
	// Texting is still silenced, calls still answer.
	e.Turn(&s, Input{Kind: Text, Text: "1", Channel: SMS, Chain: chain}, now, &out)
	if len(out.Effects) != 0 {
		t.Fatalf("opted-out SMS answer had effects %+v", out.Effects)
	}
	e.Turn(&s, Input{Kind: Text, Text: "1", Channel: Voice, Chain: chain}, now, &out)
	if len(out.Effects) == 0 || s.Flow != "" && s.State == "ask" {
		t.Fatalf("voice answer: effects %+v, state %s/%s", out.Effects, s.Flow, s.State)
	}
	// A provider opt-out of the last channel stops everything.
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m2"}}, Chain: chain}, now, &out)
	e.Turn(&s, Input{Kind: OptOut, Channel: Voice, Chain: chain}, now, &out)
	if !s.OptedOut.HasAll(chain) || s.Flow != "" || len(s.Queue) != 0 {
		t.Fatalf("after opting out of both: %08b flow %q queue %v", s.OptedOut, s.Flow, s.Queue)
	}
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}, Chain: chain}, now, &out)
	if len(out.Effects) != 0 {
		t.Fatalf("start while muted everywhere: %+v", out.Effects)
	}
}

// A key that means STOP or START (on a call) is the keyword, whatever the
// text says: the words "9" or "1" are not read.
func TestAskStopStart(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "es"}
	var out Output
	last := func() Effect { return out.Effects[len(out.Effects)-1] }
	e.Turn(&s, Input{Kind: AskStop, Text: "9", Channel: Voice}, now, &out)
	if !s.OptedOut.Has(Voice) || out.Keyword != "stop" || last().Message != "keyword.stop.confirm" || out.Effects[0].Kind != Consent {
		t.Fatalf("after AskStop: opted out %08b, keyword %q, effects %+v", s.OptedOut, out.Keyword, out.Effects)
	}
	e.Turn(&s, Input{Kind: AskStop, Text: "9", Channel: Voice}, now, &out)
	if len(out.Effects) != 0 {
		t.Fatalf("AskStop when stopped: %+v", out.Effects)
	}
	e.Turn(&s, Input{Kind: AskStart, Text: "1", Channel: Voice}, now, &out)
	if s.OptedOut.Has(Voice) || out.Keyword != "start" || out.Effects[0].Status != "opted_in" || last().Message != "keyword.start.confirm" {
		t.Fatalf("after AskStart: opted out %08b, keyword %q, effects %+v", s.OptedOut, out.Keyword, out.Effects)
	}
}

// A button answers the question it was offered for; a button of an older
// question changes nothing.
func TestButtons(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	var asked Effect
	for _, ef := range out.Effects {
		if ef.Kind == Send && ef.Flow != "" {
			asked = ef
		}
	}
	if asked.Step == 0 || asked.Step != s.Step {
		t.Fatalf("question step %d, session step %d", asked.Step, s.Step)
	}
	e.Turn(&s, Input{Kind: Text, Choice: "taken", Step: asked.Step + 5, Text: "Yes"}, now, &out)
	if out.Keyword != "stale" || len(out.Effects) != 0 || s.State != "ask" {
		t.Fatalf("stale button: keyword %q effects %+v state %s", out.Keyword, out.Effects, s.State)
	}
	e.Turn(&s, Input{Kind: Text, Choice: "taken", Step: asked.Step, Text: "Yes"}, now, &out)
	taken := false
	for _, ef := range out.Effects {
		taken = taken || ef.Kind == Adherence && ef.Status == "taken"
	}
	if !taken {
		t.Fatalf("button did not record taken: %+v", out.Effects)
	}
	// The same button again is stale: the question closed.
	e.Turn(&s, Input{Kind: Text, Choice: "taken", Step: asked.Step, Text: "Yes"}, now, &out)
	if out.Keyword != "stale" && len(out.Effects) > 0 && out.Effects[0].Kind == Adherence {
		t.Fatalf("pressed twice: %+v", out.Effects)
	}
}

// A format-1 session's opt-out covers every channel.
func TestSessionFormat1OptOut(t *testing.T) {
	t.Parallel()
	data := []byte{1, 2, 'e', 'n', 1, 0, 0, 0, 0, 0, 0, 0, 0}
	var s Session
	if err := s.Decode(data); err != nil {
		t.Fatal(err)
	}
	if s.OptedOut != AllChannels || s.Lang != "en" {
		t.Fatalf("format 1 decoded as %+v", s)
	}
}

func TestQueuePolicy(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	start := func(flow string) {
		if err := e.Turn(&s, Input{Kind: Start, Flow: flow, Params: []Param{{"medication", "m"}}}, now, &out); err != nil {
			t.Fatal(err)
		}
	}
	start("med-reminder")
	start("hf-daily-weight") // lower priority: queued
	start("refill-reminder") // same priority: queued ahead of education
	start("refill-reminder") // the same start twice is queued once
	if s.Flow != "med-reminder" || len(s.Queue) != 2 || s.Queue[0].Flow != "refill-reminder" || s.Queue[1].Flow != "hf-daily-weight" {
		t.Fatalf("queue = %+v (active %s)", s.Queue, s.Flow)
	}
	e.Turn(&s, Input{Kind: Text, Text: "1"}, now, &out)
	if s.Flow != "refill-reminder" {
		t.Fatalf("after answering, active flow %q, want the queued refill-reminder", s.Flow)
	}
	// A retried start of the running flow does not ask again.
	s2 := Session{Lang: "en"}
	e.Turn(&s2, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	e.Turn(&s2, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	if len(out.Effects) != 0 || len(s2.Queue) != 0 {
		t.Fatalf("second start of the running flow: effects %+v, queue %+v", out.Effects, s2.Queue)
	}
	// A full queue drops its lowest-priority entry, not its head.
	for i := range maxQueue + 2 {
		e.Turn(&s2, Input{Kind: Start, Flow: "hf-daily-weight", Params: []Param{{"n", fmt.Sprint(i)}}}, now, &out)
	}
	e.Turn(&s2, Input{Kind: Start, Flow: "refill-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	if len(s2.Queue) != maxQueue || s2.Queue[0].Flow != "refill-reminder" {
		t.Fatalf("full queue: %d entries, head %s; want %d with refill-reminder first", len(s2.Queue), s2.Queue[0].Flow, maxQueue)
	}
	if _, err := e.Flow("nope"); err {
		t.Fatal("unknown flow reported as known")
	}
	if err := e.Turn(&s, Input{Kind: Start, Flow: "nope"}, now, &out); err == nil {
		t.Fatal("start of an unknown flow: no error")
	}
}

func TestStaleTimerIgnored(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "m"}}}, now, &out)
	e.Turn(&s, Input{Kind: Timeout, Due: s.TimerDue - 60}, now.Add(3*time.Hour), &out)
	if s.State != "ask" || len(out.Effects) != 0 {
		t.Fatalf("stale timer changed the session: state %s, effects %+v", s.State, out.Effects)
	}
}

// BenchmarkEngineTurn is one reply to a waiting med-reminder, including
// decoding and encoding the session.
func BenchmarkEngineTurn(b *testing.B) {
	e := testEngine(b)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := Session{Lang: "en"}
	var out Output
	if err := e.Turn(&s, Input{Kind: Start, Flow: "med-reminder", Params: []Param{{"medication", "lisinopril"}}}, now, &out); err != nil {
		b.Fatal(err)
	}
	waiting, _ := s.AppendBinary(nil)
	buf := benchStoredTurn(b, e, waiting, Input{Kind: Text, Text: "1", Channel: "sms"}, now)
	if s := (Session{}); e.DecodeSession(buf, &s) != nil || s.Flow != "" {
		b.Fatal("the reply did not end the flow")
	}
}

// benchStoredTurn times a turn as the Runner makes one: the stored session
// decoded, in applied at now, the session encoded again. It returns the
// last encoding, for the caller to check what the turn did.
func benchStoredTurn(b *testing.B, e *Engine, stored []byte, in Input, now time.Time) []byte {
	b.Helper()
	buf := make([]byte, 0, 256)
	var out Output
	b.ReportAllocs()
	for b.Loop() {
		var s Session
		if err := e.DecodeSession(stored, &s); err != nil {
			b.Fatal(err)
		}
		if err := e.Turn(&s, in, now, &out); err != nil {
			b.Fatal(err)
		}
		buf, _ = s.AppendBinary(buf[:0])
	}
	return buf
}

// TestKeywordsEveryLanguage: every word of every bundled language's
// keyword lists reaches its keyword from a patient of any other language
// (a patient may answer in the language they know), and a language's name
// switches to that language. The table it logs is the keyword table of
// issue 12 (go test ./conversations -run KeywordsEvery -v).
func TestKeywordsEveryLanguage(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for _, lang := range e.Pack.Languages {
		w := e.Pack.Words[lang]
		other := e.Pack.Languages[0]
		if other == lang && len(e.Pack.Languages) > 1 {
			other = e.Pack.Languages[1]
		}
		lists := []struct {
			keyword string
			words   []string
		}{{"stop", w.Stop}, {"start", w.Start}, {"help", w.Help}, {"human", w.Human}, {"language", w.Names}, {"languages", w.Languages}}
		for _, l := range lists {
			for _, word := range l.words {
				s := Session{Lang: other}
				var out Output
				if err := e.Turn(&s, Input{Kind: Text, Text: word}, now, &out); err != nil {
					t.Fatal(err)
				}
				if out.Keyword != l.keyword {
					t.Errorf("%s %s word %q: keyword %q, want %q", lang, l.keyword, word, out.Keyword, l.keyword)
				}
				if l.keyword == "language" && s.Lang != lang {
					t.Errorf("%s name %q switched to %q", lang, word, s.Lang)
				}
			}
		}
		t.Logf("%s: stop %q; start %q; help %q; human %q; names %q", lang, firstWords(w.Stop, 3), firstWords(w.Start, 2), firstWords(w.Help, 2), firstWords(w.Human, 3), firstWords(w.Names, 3))
	}
}

func firstWords(s []string, n int) []string { return s[:min(n, len(s))] }
