package voice_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/content"
)

// readingEnv is newEnv on a pack with one more flow, "reading-check",
// whose one state asks for a reading of kind (reading:).
func readingEnv(t *testing.T, kind string) *env {
	t.Helper()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	pack.Flows["reading-check"] = &content.Flow{ID: "reading-check", Priority: content.PrioritySafety, Start: "ask",
		States: map[string]*content.State{"ask": {ID: "ask", Say: content.MsgIdleReply, Reading: kind,
			Timeout: &content.Timeout{After: content.Duration(30 * time.Minute), Next: "end"}}}}
	e := &env{Core: channeltest.New(t, channeltest.Options{Pack: pack}), t: t, fake: voicetest.New(t)}
	return setUp(e)
}

// keyedAt returns the r and v of the waiting <Gather>'s action.
func keyedAt(t *testing.T, c *voicetest.Caller) (kind, keyed string) {
	t.Helper()
	g := c.Gather()
	if g == nil {
		t.Fatal("no <Gather> waiting")
	}
	u, err := url.Parse(g.Attr("action"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("r"), u.Query().Get("v")
}

// TestKeypadReading: a question asking for a blood pressure takes it on
// the keypad ("*" between the numbers, "#" to end), reads it back, lets
// the caller key it again, refuses an impossible one, and gives the
// confirmed reading to the engine as the patient's typed reading.
func TestKeypadReading(t *testing.T) {
	t.Parallel()
	e := readingEnv(t, "blood_pressure")
	e.enroll(patient("p-1", patientPhone, "en"))
	e.start("p-1", "reading-check")
	c := e.fake.Answer(t, e.dispatch(0), voicetest.Human)

	keys := e.text("en", content.MsgVoiceReadingKeys("blood_pressure"), nil)
	heard(t, c, e.text("en", content.MsgIdleReply+".voice", nil), keys)
	g := c.Gather()
	for attr, want := range map[string]string{"input": "dtmf", "finishOnKey": "#", "numDigits": "", "timeout": "10"} {
		if got := g.Attr(attr); got != want {
			t.Errorf("entry Gather %s=%q, want %q", attr, got, want)
		}
	}
	if kind, keyed := keyedAt(t, c); kind != "blood_pressure" || keyed != "" {
		t.Errorf("entry action r=%q v=%q", kind, keyed)
	}

	c.Press("150*95")
	heard(t, c, e.text("en", content.MsgVoiceReadingPair, map[string]any{"Systolic": 150, "Diastolic": 95}),
		e.text("en", content.MsgVoiceReadingConfirm, nil))
	if _, keyed := keyedAt(t, c); keyed != "150*95" {
		t.Errorf("read-back action v=%q", keyed)
	}
	c.Press("2") // try again
	said := len(c.Said())
	c.Press("95*150")
	heard(t, c, e.text("en", content.MsgVoiceReadingAgain, nil), keys)
	if len(c.Said()) <= said {
		t.Fatal("nothing said after an impossible reading")
	}
	c.Press("9") // repeat: the question and how to key it again
	heard(t, c, keys)
	c.Press("152*96")
	c.Press("1")

	in := channeltest.Of(e.Timeline("p-1"), "message.in")
	if len(in) == 0 || in[len(in)-1].Text != "152/96 mmHg" || in[len(in)-1].Channel != voice.Channel {
		t.Fatalf("message.in events %+v: want the confirmed reading as typed text", in)
	}
	for _, ev := range in {
		if ev.Text == "150/95 mmHg" || ev.Text == "95/150 mmHg" {
			t.Errorf("an unconfirmed reading reached the engine: %+v", ev)
		}
	}
}

// TestKeypadWeightUnit: a weight plausible in kilograms and pounds is
// asked which, in the caller's language, said with its decimal comma.
func TestKeypadWeightUnit(t *testing.T) {
	t.Parallel()
	e := readingEnv(t, "weight")
	e.enroll(patient("p-1", patientPhone, "es"))
	e.start("p-1", "reading-check")
	c := e.fake.Answer(t, e.dispatch(0), voicetest.Human)
	heard(t, c, e.text("es", content.MsgVoiceReadingKeys("weight"), nil))

	c.Press("82*4")
	heard(t, c, e.text("es", content.MsgVoiceReadingEntered, map[string]any{"Value": "82,4"}),
		e.text("es", content.MsgVoiceReadingUnit, nil))
	c.Press("2") // pounds
	in := channeltest.Of(e.Timeline("p-1"), "message.in")
	if len(in) == 0 || in[len(in)-1].Text != "37.4 kg" {
		t.Fatalf("message.in events %+v: want 82.4 lb as 37.4 kg", in)
	}
}

// TestKeypadReadingSilence: no key at the entry asks again, as any
// question does.
func TestKeypadReadingSilence(t *testing.T) {
	t.Parallel()
	e := readingEnv(t, "spo2")
	e.enroll(patient("p-1", patientPhone, "en"))
	e.start("p-1", "reading-check")
	c := e.fake.Answer(t, e.dispatch(0), voicetest.Human)
	c.Silence()
	heard(t, c, e.text("en", content.MsgVoiceNoInput, nil), e.text("en", content.MsgVoiceReadingKeys("spo2"), nil))
	if kind, _ := keyedAt(t, c); kind != "spo2" {
		t.Errorf("after silence the entry asks r=%q", kind)
	}
}
