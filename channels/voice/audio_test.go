package voice_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/internal/golden"
)

// TestRecordedCalls runs every default flow, and a voicemail, in Haitian
// Creole on a pack that records it (channeltest.Recorded): Twilio has no
// voice for it, so every word must come from a <Play> of a recording Tend
// serves, never a <Say>. The transcripts are goldens like TestGoldenCalls'
// (testdata/ht-recorded/).
func TestRecordedCalls(t *testing.T) {
	t.Parallel()
	pack := channeltest.RecordedPack(t, "ht")
	for _, g := range goldenFlows {
		t.Run(g.flow, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			core := channeltest.New(t, channeltest.Options{Pack: pack, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			e := setUp(&env{Core: core, t: t, fake: voicetest.New(t)})
			withNurse(e)
			call, c := e.startGolden("ht", g.flow, g.params)
			heardOnlyRecordings(t, c)
			if strings.Contains(logs.String(), "recording") {
				t.Errorf("a word went unrecorded: %s", logs.String())
			}
			golden.Compare(t, filepath.Join("testdata", "ht-recorded", g.flow+".txt"), header(call)+c.Transcript(e.srv.URL))
		})
	}
	t.Run("voicemail", func(t *testing.T) {
		t.Parallel()
		e := setUp(&env{Core: channeltest.New(t, channeltest.Options{Pack: pack}), t: t, fake: voicetest.New(t)})
		e.enroll(patient("p-1", patientPhone, "ht"))
		c := e.fake.Answer(t, e.remind("p-1"), voicetest.Machine)
		heardOnlyRecordings(t, c)
		// The help number is played digit by digit.
		if got := strings.Join(c.Said(), " "); !strings.Contains(got, "play digit.5.mp3 play digit.5.mp3 play digit.5.mp3 play digit.0.mp3") {
			t.Errorf("voicemail does not play the help number's digits: %s", got)
		}
	})
}

func heardOnlyRecordings(t *testing.T, c *voicetest.Caller) {
	t.Helper()
	if len(c.Heard) == 0 {
		t.Fatal("nothing heard")
	}
	for _, s := range c.Heard {
		if !strings.HasPrefix(s.Text, "play ") {
			t.Errorf("said %q with <Say>: every word of a recorded language is a recording", s.Text)
		}
	}
}

// A recording missing from the folder: that message is said with <Say>
// (lint warned), the others still play, and the log names the message
// without its words.
func TestRecordingMissing(t *testing.T) {
	var logs bytes.Buffer
	pack := channeltest.RecordedPack(t, "ht", "med.thanks.mp3")
	core := channeltest.New(t, channeltest.Options{Pack: pack, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	e := setUp(&env{Core: core, t: t, fake: voicetest.New(t)})
	e.enroll(patient("p-1", patientPhone, "ht"))
	c := e.fake.Answer(t, e.remind("p-1"), voicetest.Human)
	c.Press("1")
	said := c.Said()
	if len(said) < 3 || said[0] != "play med.ask.1.mp3" || said[len(said)-2] != "Bravo, mèsi! Kontinye konsa." || said[len(said)-1] != "play voice.goodbye.mp3" {
		t.Errorf("heard %q", said)
	}
	if !strings.Contains(logs.String(), "no recording says this message") || !strings.Contains(logs.String(), "message=med.thanks") {
		t.Errorf("no warning naming the message: %s", logs.String())
	}
	if strings.Contains(logs.String(), "Bravo") {
		t.Error("the log holds the message's words")
	}
}
