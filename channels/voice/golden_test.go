package voice_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/internal/golden"
)

// goldenFlows start every default flow; "welcome" is the enrollment's.
var goldenFlows = []struct {
	flow   string
	params []string
}{
	{"welcome", nil},
	{"med-reminder", []string{"medication=lisinopril"}},
	{"refill-reminder", []string{"medication=lisinopril", "date=2026-03-10"}},
	{"appointment-reminder", []string{"appointment=a1", "date=2026-03-04", "time=10:30"}},
	{"hf-daily-weight", nil},
	{"bp-measuring", nil},
	{"why-take-pills", nil},
	{"rule-of-15", nil},
	{"foot-checks", nil},
	{"salt-and-fluids", nil},
	{"stroke-signs", nil},
	{"check-in", nil},
}

// TestGoldenCalls places each default flow's call in each bundled language,
// answers it as a person and presses 1 until the call ends, and compares
// the TwiML of every step, rendered from the parsed XML (verbs, what is
// said in which language and voice, Gather and Dial attributes), with
// testdata/<lang>/<flow>.txt (go test ./channels/voice -update rewrites
// them). A voicemail and an unknown caller are checked the same way.
func TestGoldenCalls(t *testing.T) {
	t.Parallel()
	pack := channeltest.Pack(t)
	for _, lang := range pack.Languages {
		for _, g := range goldenFlows {
			t.Run(lang+"/"+g.flow, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, withNurse)
				call, c := e.startGolden(lang, g.flow, g.params)
				golden.Compare(t, filepath.Join("testdata", lang, g.flow+".txt"), header(call)+c.Transcript(e.srv.URL))
			})
		}
		t.Run(lang+"/voicemail", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.enroll(patient("p-1", patientPhone, lang))
			call := e.remind("p-1")
			c := e.fake.Answer(t, call, voicetest.Machine)
			golden.Compare(t, filepath.Join("testdata", lang, "voicemail.txt"), header(call)+c.Transcript(e.srv.URL))
		})
	}
	t.Run("unknown-caller", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withNurse)
		c := e.fake.Dial(t, e.srv.URL+"/webhooks/twilio/voice", strangePhone, voiceFrom)
		c.Press("0")
		c.DialResult("no-answer")
		golden.Compare(t, filepath.Join("testdata", "unknown-caller.txt"), c.Transcript(e.srv.URL))
	})
}

// startGolden enrolls a patient in lang, starts flow (the enrollment
// starts "welcome"), answers its call as a person and presses 1 until the
// call ends.
func (e *env) startGolden(lang, flow string, params []string) (voicetest.Call, *voicetest.Caller) {
	t := e.t
	t.Helper()
	if _, err := e.Runner.Enroll(t.Context(), patient("p-1", patientPhone, lang)); err != nil {
		t.Fatal(err)
	}
	if flow != "welcome" {
		e.drain()
		e.start("p-1", flow, params...)
	}
	call := e.dispatch(0)
	c := e.fake.Answer(t, call, voicetest.Human)
	for i := 0; c.Gather() != nil; i++ {
		if i == 20 {
			t.Fatal("the call does not end when pressing 1")
		}
		c.Press("1")
	}
	return call, c
}

// header describes the call Tend placed, without its outbox id.
func header(c voicetest.Call) string {
	return fmt.Sprintf("call to=%s from=%s machineDetection=%s timeout=%d events=%s answer=a=%s\n",
		c.To, c.From, c.MachineDetection, c.Timeout, strings.Join(c.StatusCallbackEvents, ","), c.Param("a"))
}
