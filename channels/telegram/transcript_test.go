package telegram_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/internal/golden"
)

// flowParams are the parameters each default flow is started with, as
// the scheduler would start it; a flow missing here fails the test when it
// needs any.
var flowParams = map[string][]conversations.Param{
	"med-reminder":         {{Key: "medication", Value: "lisinopril"}},
	"refill-reminder":      {{Key: "medication", Value: "lisinopril"}, {Key: "date", Value: "2026-03-10"}},
	"appointment-reminder": {{Key: "appointment", Value: "a1"}, {Key: "date", Value: "2026-03-04"}, {Key: "time", Value: "10:30"}},
}

// TestTranscripts runs every flow of the default pack, in every bundled
// language, on Telegram: the flow is started, and the first button of each
// question is pressed until no question is left. What the fake Bot API
// received (messages with their buttons, callback answers, keyboard edits)
// and what the care team sees (timeline events) is compared with
// testdata/<flow>.<lang>.golden (go test ./channels/telegram -update).
func TestTranscripts(t *testing.T) {
	pack := channeltest.Pack(t)
	var flows []string
	for id := range pack.Flows {
		flows = append(flows, id)
	}
	slices.Sort(flows)
	for _, lang := range pack.Languages {
		for _, flow := range flows {
			t.Run(lang+"/"+flow, func(t *testing.T) {
				t.Parallel()
				params, ok := flowParams[flow]
				if !ok && len(pack.Flows[flow].Params) > 0 {
					t.Fatalf("flow %s needs parameters %v: add them to flowParams", flow, pack.Flows[flow].Params)
				}
				got := transcript(t, lang, flow, params)
				goldenFile := filepath.Join("testdata", flow+"."+lang+".golden")
				golden.Compare(t, goldenFile, got)
			})
		}
	}
}

// recorder writes what happened since it last looked.
type recorder struct {
	e                       *env
	chat                    int64
	b                       strings.Builder
	msgs, answers, edits, n int // already written
}

func (r *recorder) line(format string, args ...any) {
	fmt.Fprintf(&r.b, format+"\n", args...)
}

func (r *recorder) flush() {
	for _, a := range r.e.fake.Answers()[r.answers:] {
		if a.Text == "" {
			r.line("      callback answered")
		} else {
			r.line("      callback answered: %q", a.Text)
		}
		r.answers++
	}
	for _, ed := range r.e.fake.Edits()[r.edits:] {
		if len(ed.Buttons) == 0 {
			r.line("      keyboard removed from message %d", ed.MessageID)
		} else {
			r.line("      keyboard of message %d changed", ed.MessageID)
		}
		r.edits++
	}
	evs := r.e.Timeline("p-1")
	for _, ev := range evs[r.n:] {
		switch ev.Type {
		case "adherence":
			r.line("      [adherence %s %s]", ev.Medication, ev.Status)
		case "quiz":
			r.line("      [quiz %s correct=%v]", ev.Question, ev.Correct != nil && *ev.Correct)
		case "lesson":
			if ev.Question == "" {
				r.line("      [lesson %s]", ev.Status)
			} else {
				r.line("      [lesson %s correct=%v confidence=%d %s]", ev.Question, ev.Correct != nil && *ev.Correct, ev.Confidence, ev.Status)
			}
		case "escalation":
			r.line("      [escalation %s: %s]", ev.Priority, ev.Reason)
		case "consent", "channel":
			r.line("      [%s %s %s]", ev.Type, ev.Channel, ev.Status)
		}
	}
	r.n = len(evs)
	r.e.deliver()
	for _, m := range r.e.fake.MessagesTo(r.chat)[r.msgs:] {
		r.line("tend (message %d): %s", m.ID, strings.ReplaceAll(m.Text, "\n", "\n      "))
		for _, b := range m.Buttons {
			r.line("      [%s] %s", b.Text, b.Data)
		}
		r.msgs++
	}
}

func transcript(t *testing.T, lang, flow string, params []conversations.Param) string {
	e := newEnv(t)
	const chat = 1001
	e.enrollLinked("p-1", chat, lang)
	r := &recorder{e: e, chat: chat, msgs: len(e.fake.MessagesTo(chat)), n: len(e.Timeline("p-1"))}
	start := "start " + flow
	for _, p := range params {
		start += " " + p.Key + "=" + p.Value
	}
	r.line("-- %s", start)
	if err := e.Runner.StartFlow(t.Context(), "p-1", flow, params); err != nil {
		t.Fatal(err)
	}
	r.flush()
	for range 20 {
		q, ok := waiting(e.fake.MessagesTo(chat))
		if !ok {
			r.line("-- no question left")
			return r.b.String()
		}
		r.line("you press [%s] on message %d", q.Buttons[0].Text, q.ID)
		e.press(q, 0)
		r.flush()
	}
	t.Fatal("the flow still asks after 20 presses")
	return ""
}

// waiting is the newest message whose keyboard is still shown.
func waiting(msgs []telegramtest.Message) (telegramtest.Message, bool) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Keyboard {
			return msgs[i], true
		}
	}
	return telegramtest.Message{}, false
}

// TestTranscriptTimeline: the transcripts' patient gets messages only on
// Telegram, so what the fake received is everything they read.
func TestTranscriptTimeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", flowParams["med-reminder"]); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	for _, ev := range e.Timeline("p-1") {
		if ev.Type == "message.out" && (ev.Channel != "telegram" || ev.Status != "sent" || ev.ProviderID == "") {
			t.Fatalf("message event %+v, want sent on telegram with Telegram's message id", ev)
		}
	}
}
