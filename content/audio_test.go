package content_test

import (
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/content"
)

// audioChannels is the bundled channels.yaml with Haitian Creole's
// recordings at where (its voice: map ends the file).
func audioChannels(where string) *fstest.MapFile {
	b, err := fs.ReadFile(content.Default(), "channels.yaml")
	if err != nil {
		panic(err)
	}
	return &fstest.MapFile{Data: append(b, "  ht: {audio: \""+where+"\"}\n"...)}
}

func audioWarnings(problems []content.Problem) []string {
	var out []string
	for _, pr := range problems {
		if strings.Contains(pr.Msg, "recordings missing") || strings.Contains(pr.Msg, "or recordings for") {
			out = append(out, pr.Msg)
		}
	}
	return out
}

func TestAudioRecordingsListed(t *testing.T) {
	top := fstest.MapFS{"channels.yaml": audioChannels("audio/ht")}
	p, problems, err := content.Load(content.Overlay(top, content.Default()))
	if err != nil {
		t.Fatal(err)
	}
	recs := p.Audio["ht"].Recordings()
	byName := map[string]content.Recording{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	for name, text := range map[string]string{
		"voice.goodbye.mp3":             "Mèsi. Orevwa.",
		"voice.reading.entered.1.mp3":   "Ou tape",
		"voice.press.1.mp3":             "Peze",
		"voice.press.2.mp3":             "pou:",
		"keyword.emergency.voice.1.mp3": "Sa ka yon ijans. Rakwoche epi rele",
		"keyword.emergency.voice.2.mp3": "kounye a. Nou avèti ekip swen ou.",
		"med.choice.taken.mp3":          "Wi, mwen pran l",
		"digit.0.mp3":                   "0",
	} {
		if byName[name].Text != text {
			t.Errorf("%s: want %q to record, got %q", name, text, byName[name].Text)
		}
	}
	// A call says keyword.emergency.voice, never the SMS wording; the
	// one and other forms of a Creole plural read alike: one recording.
	for _, name := range []string{"keyword.emergency.1.mp3", "keyword.human.ack.one.1.mp3"} {
		if _, ok := byName[name]; ok {
			t.Errorf("%s listed: a call never says it", name)
		}
	}
	if _, ok := byName["keyword.human.ack.1.mp3"]; !ok {
		t.Error("keyword.human.ack.1.mp3 not listed")
	}
	warn := audioWarnings(problems)
	if len(warn) != 1 || !strings.Contains(warn[0], "recordings missing from audio/ht") || !strings.Contains(warn[0], "tend content audio ht") {
		t.Errorf("want one warning naming the missing recordings, got %q", warn)
	}
	t.Logf("Haitian Creole: %d recordings", len(recs))
}

func TestAudioPlay(t *testing.T) {
	p, problems, err := content.Load(content.Overlay(channeltest.Recorded(t, "ht", "voice.nurse.mp3"), content.Default()))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Audio["ht"]
	if w := audioWarnings(problems); len(w) != 1 || !strings.Contains(w[0], "1 of") {
		t.Errorf("one file left out: want one warning for it, got %q", w)
	}
	for _, c := range []struct {
		id, text string
		want     []string
		skipped  int
	}{
		{"voice.goodbye", "Mèsi. Orevwa.", []string{"voice.goodbye.mp3"}, 0},
		{"voice.reading.entered", "Ou tape 82.4.", []string{"voice.reading.entered.1.mp3", "digit.8.mp3", "digit.2.mp3", "digit.point.mp3", "digit.4.mp3"}, 0},
		{"voice.press", "Peze 1 pou: Wi, mwen pran l.", []string{"voice.press.1.mp3", "digit.1.mp3", "voice.press.2.mp3", "med.choice.taken.mp3"}, 0},
		// The medicine is never named on a call: the generic word is.
		{"med.ask", "Lè pou pran medikaman ou. Ou pran l?", []string{"med.ask.1.mp3", "med.generic.mp3", "med.ask.2.mp3"}, 0},
		// The call's own wording of the emergency reply.
		{"keyword.emergency", "Sa ka yon ijans. Rakwoche epi rele 911 kounye a. Nou avèti ekip swen ou.",
			[]string{"keyword.emergency.voice.1.mp3", "digit.9.mp3", "digit.1.mp3", "digit.1.mp3", "keyword.emergency.voice.2.mp3"}, 0},
		// A crisis reply without a crisis line is the emergency reply.
		{"keyword.crisis", "Sa ka yon ijans. Rakwoche epi rele 112 kounye a. Nou avèti ekip swen ou.",
			[]string{"keyword.emergency.voice.1.mp3", "digit.1.mp3", "digit.1.mp3", "digit.2.mp3", "keyword.emergency.voice.2.mp3"}, 0},
		// A date in words: its digits are said, its letters cannot be.
		{"appt.ask", "Rapèl: ou gen randevou 3 desanm a 14:30. Ou ka vini?",
			[]string{"appt.ask.1.mp3", "digit.3.mp3", "appt.ask.2.mp3", "digit.1.mp3", "digit.4.mp3", "digit.3.mp3", "digit.0.mp3", "appt.ask.3.mp3"}, 6},
	} {
		files, skipped, ok := a.Play(c.id, c.text)
		if !ok || !slices.Equal(files, c.want) || skipped != c.skipped {
			t.Errorf("%s %q: got %q skipped %d ok %v, want %q skipped %d", c.id, c.text, files, skipped, ok, c.want, c.skipped)
		}
	}
	if _, _, ok := a.Play("voice.goodbye", "Something else entirely."); ok {
		t.Error("a text that is not the message played")
	}
	if _, _, ok := a.Play("voice.nurse", "Peze 0 pou pale ak yon enfimyè."); ok {
		t.Error("a message whose recording is missing played")
	}
	f, err := a.Open("voice.goodbye.mp3")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "ID3 voice.goodbye.mp3" {
		t.Errorf("served %q", b)
	}
	for _, name := range []string{"voice.nurse.mp3", "../channels.yaml", "nope.wav"} {
		if _, err := a.Open(name); err == nil {
			t.Errorf("%s opened", name)
		}
	}
	if got := a.URL("https://tend.example.org/", "digit.1.mp3"); got != "https://tend.example.org/voice/audio/ht/digit.1.mp3" {
		t.Errorf("URL %q", got)
	}
}

func TestAudioURL(t *testing.T) {
	top := fstest.MapFS{"channels.yaml": audioChannels("https://cdn.clinic.example/tend/ht")}
	p, problems, err := content.Load(content.Overlay(top, content.Default()))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Audio["ht"]
	if w := audioWarnings(problems); len(w) != 0 {
		t.Errorf("a URL cannot be checked, so no warning: got %q", w)
	}
	files, _, ok := a.Play("voice.goodbye", "Mèsi. Orevwa.")
	if !ok || a.URL("https://tend.example.org", files[0]) != "https://cdn.clinic.example/tend/ht/voice.goodbye.mp3" {
		t.Errorf("got %q %v", files, ok)
	}
}

func TestAudioFolderOutsidePack(t *testing.T) {
	top := fstest.MapFS{"channels.yaml": audioChannels("../elsewhere")}
	_, problems, err := content.Load(content.Overlay(top, content.Default()))
	if err == nil {
		t.Fatal("a folder outside the pack loaded")
	}
	found := false
	for _, pr := range problems {
		found = found || (!pr.Warning && strings.Contains(pr.Msg, "inside the pack"))
	}
	if !found {
		t.Errorf("no error naming the folder: %v", problems)
	}
}

// The bundled pack has no recordings: Haitian Creole warns until a clinic
// records it.
func TestBundledHaitianCreoleWarns(t *testing.T) {
	_, problems, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		if pr.Warning && strings.Contains(pr.Msg, "no voice or recordings for ht") {
			return
		}
	}
	t.Error("no warning that Haitian Creole has neither voice nor recordings")
}

// BenchmarkAudioPlay: the longest thing a recorded call plays in one
// answer, a lesson's pages and question merged into one text, matched line
// by line against the catalog.
func BenchmarkAudioPlay(b *testing.B) {
	p, _, err := content.Load(content.Overlay(channeltest.Recorded(b, "ht"), content.Default()))
	if err != nil {
		b.Fatal(err)
	}
	a := p.Audio["ht"]
	var lines []string
	for _, id := range []string{"stroke.lesson.signs", "stroke.lesson.time", "stroke.q1.ask"} {
		text, err := p.Catalog.Text("ht", id, map[string]any{"Emergency": "911"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, text)
	}
	text := strings.Join(lines, "\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := a.Play("stroke.lesson.signs", text); !ok {
			b.Fatal("not played")
		}
	}
}
