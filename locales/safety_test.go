package locales

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The bars of the evaluation corpus: an emergency message missed is the
// worst defect Tend can have; a false alarm pages a nurse for nothing.
const (
	minRecall      = 0.97
	maxFalseAlarms = 0.02
)

func bundledDetector(t testing.TB) (*Detector, map[string]*Lexicon) {
	t.Helper()
	lex, errs := LoadLexicons(Files, "safety")
	if len(errs) > 0 {
		t.Fatalf("lexicons: %v", errs)
	}
	var list []*Lexicon
	for _, lang := range slices.Sorted(mapsKeys(lex)) {
		list = append(list, lex[lang])
	}
	d, errs := NewDetector(list)
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs)
	}
	return d, lex
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func detect(d *Detector, msg string) Finding { return d.Detect(msg, Normalize(msg)) }

// corpusLine is one message of the evaluation corpus.
type corpusLine struct {
	file    string
	line    int
	concept string // "" for an ordinary message
	text    string
}

func readCorpus(t *testing.T, path string, tagged bool) []corpusLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l := corpusLine{file: filepath.Base(path), line: n, text: text}
		if tagged {
			concept, msg, ok := strings.Cut(text, "\t")
			if !ok || !slices.Contains(concepts, concept) {
				t.Fatalf("%s:%d: want <concept>\\t<message>, concept one of %v", path, n, concepts)
			}
			l.concept, l.text = concept, msg
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// measure runs the detector on one language's corpus and logs recall,
// false alarms and every miss.
func measure(t *testing.T, d *Detector, dir, lang string) (recall, falseRate float64, n, m int) {
	emergencies := readCorpus(t, filepath.Join(dir, lang+".emergency.txt"), true)
	ordinary := readCorpus(t, filepath.Join(dir, lang+".ordinary.txt"), false)
	var missed, confused, alarms []string
	silent := 0
	for _, l := range emergencies {
		f := detect(d, l.text)
		if f.Level == LevelNone {
			silent++
		}
		switch {
		case f.Level != LevelEmergency || (l.concept == "suicide" && f.Concept != "suicide"):
			missed = append(missed, fmt.Sprintf("%s:%d [%s] %q -> %s %s %s", l.file, l.line, l.concept, l.text, f.Level, f.Concept, f.Why))
		case f.Concept != l.concept:
			confused = append(confused, fmt.Sprintf("%s:%d [%s] %q -> %s", l.file, l.line, l.concept, l.text, f.Concept))
		}
	}
	asked := 0
	for _, l := range ordinary {
		switch f := detect(d, l.text); f.Level {
		case LevelEmergency:
			alarms = append(alarms, fmt.Sprintf("%s:%d %q -> %s", l.file, l.line, l.text, f.Concept))
		case LevelAsk:
			asked++
		}
	}
	recall = 1 - float64(len(missed))/float64(len(emergencies))
	falseRate = float64(len(alarms)) / float64(len(ordinary))
	t.Logf("%s: recall %.1f%% (%d of %d), missed without even a question %d, false alarms %.1f%% (%d of %d), ordinary messages asked about %d, emergencies found as another concept %d",
		lang, 100*recall, len(emergencies)-len(missed), len(emergencies), silent, 100*falseRate, len(alarms), len(ordinary), asked, len(confused))
	for _, m := range missed {
		t.Logf("missed: %s", m)
	}
	for _, a := range alarms {
		t.Logf("false alarm: %s", a)
	}
	for _, c := range confused {
		t.Logf("other concept: %s", c)
	}
	return recall, falseRate, len(emergencies), len(ordinary)
}

// TestHeldout reports the detector's figures on a second corpus, written
// apart from the lexicons and never used to tune them: it says how well the
// lexicons generalize to wordings nobody listed. It fails only when the
// corpus is missing; its figures go in the closing notes of lexicon changes.
// Once a held-out message has been used to fix a lexicon, move it to the
// main corpus.
func TestHeldout(t *testing.T) {
	d, lex := bundledDetector(t)
	for _, lang := range slices.Sorted(mapsKeys(lex)) {
		t.Run(lang, func(t *testing.T) {
			measure(t, d, filepath.Join("testdata", "safety", "heldout"), lang)
		})
	}
}

// TestCorpus measures the detector on the evaluation corpus of every
// bundled language: recall on messages that need the safety reply now, and
// false alarms on ordinary messages that look close. It prints every miss
// and every false alarm, and fails the build below the bars. A suicide
// message found as another concept is a miss: its reply lacks the crisis
// line.
func TestCorpus(t *testing.T) {
	d, lex := bundledDetector(t)
	for _, lang := range slices.Sorted(mapsKeys(lex)) {
		t.Run(lang, func(t *testing.T) {
			dir := filepath.Join("testdata", "safety")
			recall, falseRate, n, m := measure(t, d, dir, lang)
			if n < 150 || m < 150 {
				t.Errorf("%s: the corpus needs at least 150 messages of each kind (has %d emergency, %d ordinary)", lang, n, m)
			}
			if recall < minRecall {
				t.Errorf("%s: recall %.1f%% is below %.0f%%", lang, 100*recall, 100*minRecall)
			}
			if falseRate > maxFalseAlarms {
				t.Errorf("%s: false alarms %.1f%% are above %.0f%%", lang, 100*falseRate, 100*maxFalseAlarms)
			}
		})
	}
}
