package content

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
)

// Spoken length of a call's turn (docs/content.md#lessons): text-to-speech
// voices read plain English and Spanish at about 150 words a minute, so
// words ÷ 2.5 is the seconds a turn takes. A lesson must let the patient
// answer within a minute of the call starting to speak; longer, and people
// hang up or forget the question (research/clinical.md §4.2: IVR ≤ 60 s).
const (
	wordsPerSecond = 2.5
	lessonSeconds  = 60
)

// lessonSource checks that a lesson says where its text comes from and
// under which terms Tend may use it.
func (l *linter) lessonSource(f *Flow, line int) {
	where := fmt.Sprintf("flow %q", f.ID)
	switch u, err := url.Parse(f.Source); {
	case strings.TrimSpace(f.Source) == "":
		l.errorf(f.File, line, "%s is a lesson but has no source: add source: (the address of the text it paraphrases) so a clinician can check it", where)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		l.errorf(f.File, line, "%s: source %q is not an http(s) address", where, f.Source)
	}
	if strings.TrimSpace(f.Licence) == "" {
		l.errorf(f.File, line, "%s is a lesson but has no licence: add licence: (the terms that let Tend paraphrase the source, e.g. \"public domain (U.S. government work)\")", where)
	}
}

// turn is what a call says in one go: the messages from an entry into a
// flow (its start, or an answer) until the next question, whose choices
// it reads out.
type turn struct {
	what     string
	messages []string
	choices  *State // the question that ends the turn, if any
}

// turns lists the turns of f: from its start, after each answer and after
// each timeout.
func turns(f *Flow) []turn {
	var out []turn
	walk := func(t turn, sid string) turn {
		seen := map[string]bool{}
		for sid != "" && sid != End && !seen[sid] {
			seen[sid] = true
			s := f.States[sid]
			if s == nil {
				break
			}
			for _, a := range s.Do {
				if a.Say != "" {
					t.messages = append(t.messages, a.Say)
				}
			}
			if s.Say != "" {
				t.messages = append(t.messages, s.Say)
			}
			if len(s.Choices) > 0 || s.Timeout != nil {
				if len(s.Choices) > 0 {
					t.choices = s
				}
				break
			}
			sid = s.Next
		}
		return t
	}
	if _, ok := f.States[f.Start]; ok {
		out = append(out, walk(turn{what: fmt.Sprintf("flow %q from its start", f.ID)}, f.Start))
	}
	for _, sid := range sortedKeys(f.States) {
		s := f.States[sid]
		if s == nil {
			continue
		}
		for _, c := range s.Choices {
			if c == nil {
				continue
			}
			t := turn{what: fmt.Sprintf("flow %q after answer %q to state %q", f.ID, c.ID, sid)}
			for _, a := range c.Do {
				if a.Say != "" {
					t.messages = append(t.messages, a.Say)
				}
			}
			out = append(out, walk(t, c.Next))
		}
		if tm := s.Timeout; tm != nil {
			t := turn{what: fmt.Sprintf("flow %q after the timeout of state %q", f.ID, sid)}
			for _, a := range tm.Do {
				if a.Say != "" {
					t.messages = append(t.messages, a.Say)
				}
			}
			out = append(out, walk(t, tm.Next))
		}
	}
	return out
}

// spoken measures how long a call speaks in each turn of each flow, in
// every language, as the voice channel says it: each message (its .voice
// wording when there is one), then for a question "Press N for: label."
// per choice and the repeat, nurse and stop keys. Above a minute is an
// error in a lesson and a warning elsewhere.
func (l *linter) spoken() {
	for _, fid := range sortedKeys(l.p.Flows) {
		f := l.p.Flows[fid]
		if f == nil {
			continue
		}
		for _, t := range turns(f) {
			for _, lang := range l.p.Languages {
				words, ok := l.turnWords(lang, t)
				if !ok {
					continue
				}
				secs := float64(words) / wordsPerSecond
				if secs <= lessonSeconds {
					continue
				}
				file, line := f.File, firstLine(f.Line)
				if len(t.messages) > 0 {
					if m := l.message(lang, t.messages[0]); m != nil {
						file, line = m.File, m.Line
					}
				}
				msg := fmt.Sprintf("%s: a call speaks %d words (about %.0f s at %.1f words a second) in %s (%s) before the patient can answer; keep it to %d s",
					lang, words, secs, wordsPerSecond, t.what, strings.Join(t.messages, ", "), lessonSeconds)
				if f.IsLesson() {
					l.errorf(file, line, "%s: shorten the lesson's messages or add a question between them", msg)
				} else {
					l.warnf(file, line, "%s", msg)
				}
			}
		}
	}
}

// turnWords counts the words a call says in one turn in lang; false when a
// message is missing (reported elsewhere).
func (l *linter) turnWords(lang string, t turn) (int, bool) {
	data := l.sampleData(lang)
	// Messages take their .voice wording when they have one; labels do
	// not (a call reads the label the SMS shows).
	say := func(id string, d map[string]any, variant bool) (string, bool) {
		if variant && l.message(lang, id+".voice") != nil {
			id += ".voice"
		}
		m := l.message(lang, id)
		if m == nil {
			return "", false
		}
		texts, ok := l.renderQuiet(m, lang, id, d)
		if !ok {
			return "", false
		}
		longest := ""
		for _, s := range texts {
			if len(strings.Fields(s)) > len(strings.Fields(longest)) {
				longest = s
			}
		}
		return longest, true
	}
	n := 0
	for _, id := range t.messages {
		s, ok := say(id, data, true)
		if !ok {
			return 0, false
		}
		n += len(strings.Fields(s))
	}
	if t.choices == nil {
		return n, true
	}
	for i, c := range t.choices.Choices {
		if c == nil {
			continue
		}
		label, ok := say(c.Label, data, false)
		if !ok {
			return 0, false
		}
		d := l.sampleData(lang)
		d["Digit"] = i + 1
		d["Label"] = label
		press, ok := say(MsgVoicePress, d, false)
		if !ok {
			press = label
		}
		n += len(strings.Fields(press))
	}
	for _, id := range []string{MsgVoiceRepeat, MsgVoiceNurse, MsgVoiceStop} {
		if s, ok := say(id, data, false); ok {
			n += len(strings.Fields(s))
		}
	}
	return n, true
}

// renderQuiet is render without its report: a message that does not
// render is reported by the SMS and plural checks.
func (l *linter) renderQuiet(m interface{ Plural() bool }, lang, id string, data map[string]any) ([]string, bool) {
	if !m.Plural() {
		text, err := l.p.Catalog.Text(lang, id, data, nil)
		return []string{text}, err == nil
	}
	var texts []string
	for _, n := range smsCounts {
		d := maps.Clone(data)
		d["Hours"] = n
		if text, err := l.p.Catalog.Text(lang, id, d, n); err == nil {
			texts = append(texts, text)
		}
	}
	return texts, len(texts) > 0
}
