package content_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/locales"
)

// validPack reads testdata/valid into a MapFS that a test may change.
func validPack(t *testing.T) fstest.MapFS {
	t.Helper()
	src := os.DirFS("testdata/valid")
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		out[name] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// edit changes one file of a pack.
type edit func(t *testing.T, fsys fstest.MapFS)

// replace replaces the first old in file with new; old must be there.
func replace(file, old, new string) edit {
	return func(t *testing.T, fsys fstest.MapFS) {
		t.Helper()
		f, ok := fsys[file]
		if !ok {
			t.Fatalf("edit: no file %s", file)
		}
		if !strings.Contains(string(f.Data), old) {
			t.Fatalf("edit: %s has no %q", file, old)
		}
		f.Data = []byte(strings.Replace(string(f.Data), old, new, 1))
	}
}

// appendTo appends text to file.
func appendTo(file, text string) edit {
	return func(t *testing.T, fsys fstest.MapFS) {
		t.Helper()
		f, ok := fsys[file]
		if !ok {
			t.Fatalf("edit: no file %s", file)
		}
		f.Data = append(f.Data, text...)
	}
}

// remove deletes file.
func remove(file string) edit {
	return func(t *testing.T, fsys fstest.MapFS) {
		t.Helper()
		if _, ok := fsys[file]; !ok {
			t.Fatalf("edit: no file %s", file)
		}
		delete(fsys, file)
	}
}

// copyFile copies a file of the pack to a new name, replacing old by new.
func copyFile(from, to, old, new string) edit {
	return func(t *testing.T, fsys fstest.MapFS) {
		t.Helper()
		f, ok := fsys[from]
		if !ok {
			t.Fatalf("edit: no file %s", from)
		}
		fsys[to] = &fstest.MapFile{Data: []byte(strings.Replace(string(f.Data), old, new, 1)), Mode: 0o644}
	}
}

// addFile adds a file to the pack.
func addFile(name, text string) edit {
	return func(t *testing.T, fsys fstest.MapFS) {
		fsys[name] = &fstest.MapFile{Data: []byte(text), Mode: 0o644}
	}
}

// enSafety is a pack's own English emergency lexicon.
const enSafety = "locales/safety/en.yaml"

// lexicon is a small emergency lexicon describing the concepts given.
func lexicon(concepts ...string) string {
	var b strings.Builder
	b.WriteString("language: en\ngroups:\n  chest: [chest]\n  pain: [pain, hurt*]\n  sugar: [sugar]\n  hypo: [shaky]\n")
	b.WriteString("negation: [no, not]\nyes: [\"yes\"]\nno: [\"no\"]\nglucose:\n  context: \"@sugar\"\n  symptoms: \"@hypo\"\n")
	b.WriteString("concepts:\n")
	for _, c := range concepts {
		if c == "chest_pain" {
			b.WriteString("  chest_pain:\n    match: [\"@chest ~ @pain\"]\n")
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    match: [zz%s]\n", c, strings.ReplaceAll(c, "_", ""))
	}
	return b.String()
}

// want is a problem a broken pack must have: in file, on the line of the
// nth (0-based) occurrence of at in the changed file (line 1 when at is
// empty), with msg in its text.
type want struct {
	file    string
	at      string
	nth     int
	msg     string
	warning bool
}

func (w want) line(t *testing.T, fsys fstest.MapFS) int {
	t.Helper()
	if w.at == "" {
		return 1
	}
	f, ok := fsys[w.file]
	if !ok {
		t.Fatalf("want: no file %s", w.file)
	}
	seen := 0
	for i, l := range strings.Split(string(f.Data), "\n") {
		if strings.Contains(l, w.at) {
			if seen == w.nth {
				return i + 1
			}
			seen++
		}
	}
	t.Fatalf("want: %s has no line with %q (occurrence %d)", w.file, w.at, w.nth)
	return 0
}

func TestValidPack(t *testing.T) {
	t.Parallel()
	p, problems, err := content.Load(os.DirFS("testdata/valid"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, pr := range problems {
		t.Errorf("unexpected problem: %s", pr)
	}
	if got, want := p.Languages, []string{"en", "es"}; !slices.Equal(got, want) {
		t.Errorf("Languages = %v, want %v", got, want)
	}
	if len(p.Flows) != 6 || len(p.Programs) != 1 {
		t.Errorf("got %d flows and %d programs, want 6 and 1", len(p.Flows), len(p.Programs))
	}
}

func TestDefaultPack(t *testing.T) {
	t.Parallel()
	_, problems, err := content.Load(content.Default())
	if err != nil {
		t.Fatalf("the bundled pack does not load: %v", err)
	}
	for _, pr := range problems {
		t.Logf("%s", pr)
	}
}

// Every engine message must be a message the valid pack has, and the lists
// the engine shares must not repeat themselves.
func TestExportedLists(t *testing.T) {
	t.Parallel()
	for name, list := range map[string][]string{"EngineMessages": content.EngineMessages(), "ChannelMessages": content.ChannelMessages(), "Placeholders": content.Placeholders()} {
		seen := map[string]bool{}
		for _, s := range list {
			if seen[s] {
				t.Errorf("%s lists %q twice", name, s)
			}
			seen[s] = true
		}
	}
	p, _, err := content.Load(os.DirFS("testdata/valid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range slices.Concat(content.EngineMessages(), content.ChannelMessages()) {
		if p.Catalog.Messages["en"][id] == nil {
			t.Errorf("valid pack lacks engine message %q", id)
		}
	}
}

func TestLintFindsProblems(t *testing.T) {
	t.Parallel()
	const (
		medFlow   = "flows/medication.yaml"
		saltFlow  = "flows/salt.yaml"
		chestFlow = "flows/chest.yaml"
		apptFlow  = "flows/appointment.yaml"
		program   = "programs/care.yaml"
		en        = "locales/catalog/en.yaml"
		es        = "locales/catalog/es.yaml"
		esWords   = "locales/words/es.yaml"
	)
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name    string
		edits   []edit
		want    []want
		noError bool // only warnings: Load must not fail
	}{
		// ---- YAML ----
		{
			name:  "yaml syntax error",
			edits: []edit{replace(apptFlow, "    say: appointment.remind", "    say: appointment.remind: again")},
			want:  []want{{file: apptFlow, at: "say: appointment.remind: again", msg: "mapping values are not allowed"}},
		},
		{
			name:  "unknown key in a flow",
			edits: []edit{replace(apptFlow, "    say: appointment.remind", "    say: appointment.remind\n    colour: red")},
			want:  []want{{file: apptFlow, at: "colour: red", msg: "field colour not found"}},
		},
		{
			name:  "unknown key in a program",
			edits: []edit{replace(program, "welcome: welcome", "welcom: welcome")},
			want:  []want{{file: program, at: "welcom: welcome", msg: "field welcom not found"}},
		},
		{
			name:  "tab in a flow",
			edits: []edit{replace(apptFlow, "    say: appointment.remind", "\tsay: appointment.remind")},
			want:  []want{{file: apptFlow, at: "\tsay:", msg: "found character that cannot start any token"}},
		},
		{
			name:  "catalog syntax error",
			edits: []edit{replace(es, "med.thanks: ¡Gracias!", "med.thanks: ¡Gracias: amigo!")},
			want:  []want{{file: es, at: "med.thanks:", msg: "mapping values are not allowed"}},
		},
		{
			name:  "unknown plural form",
			edits: []edit{replace(es, "  many: ", "  manny: ")},
			want:  []want{{file: es, at: "  manny:", msg: `"manny" is not a CLDR plural form`}},
		},

		// ---- languages ----
		{
			name:  "review status unknown",
			edits: []edit{replace(esWords, "status: draft", "status: checked")},
			want:  []want{{file: esWords, msg: `review.status "checked": want one of draft, community-reviewed, clinician-reviewed`}},
		},
		{
			name:  "review date missing",
			edits: []edit{replace(esWords, ", date: 2026-12-03", "")},
			want:  []want{{file: esWords, msg: `review.date "": want YYYY-MM-DD`}},
		},
		{
			name:  "no autonym",
			edits: []edit{replace(esWords, "autonym: Español\n", "")},
			want:  []want{{file: esWords, msg: "es: no autonym"}},
		},
		{
			name:  "a language name claimed twice",
			edits: []edit{replace(esWords, "names: [español, espanol]", "names: [español, espanol, english]")},
			want:  []want{{file: esWords, msg: `es: name "english" also switches to en`}},
		},
		{
			name: "right-to-left message starts left to right",
			edits: []edit{
				copyFile(es, "locales/catalog/ar.yaml", "", ""),
				copyFile(esWords, "locales/words/ar.yaml", "language: es\nautonym: Español", "language: ar\nautonym: العربية"),
				replace("locales/words/ar.yaml", "names: [español, espanol]", "names: [arabic]"),
			},
			want: []want{{file: "locales/catalog/ar.yaml", at: "keyword.language.confirm:", msg: `ar: message "keyword.language.confirm" (other) starts left to right`}},
		},

		// ---- channels.yaml ----
		{
			name:  "channels yaml unknown key",
			edits: []edit{replace("channels.yaml", "  quick_reply:", "  quik_reply:")},
			want:  []want{{file: "channels.yaml", at: "quik_reply", msg: "field quik_reply not found"}},
		},
		{
			name:  "template for an unknown message",
			edits: []edit{replace("channels.yaml", "    chest.ask:", "    chest.asks:")},
			want: []want{
				{file: "channels.yaml", at: "HX70000000000000000000000000000001", msg: `whatsapp template for "chest.asks" in en: no such message`},
				{file: chestFlow, at: "  ask:", msg: `sends "chest.ask" without a patient's message, and it has no WhatsApp template in en, es`, warning: true},
			},
		},
		{
			name:  "template with an unknown variable",
			edits: []edit{replace("channels.yaml", "variables: [Medication, Date]}", "variables: [Medication, Dose]}")},
			want:  []want{{file: "channels.yaml", at: "HX30000000000000000000000000000001", msg: `unknown variable "Dose"`}},
		},
		{
			name:    "business-initiated message without a template",
			edits:   []edit{replace("channels.yaml", "      es: {sid: HX20000000000000000000000000000002, variables: [Medication]}\n", "")},
			want:    []want{{file: medFlow, at: "  ask:", msg: `flow "medication" state "ask" sends "med.ask" without a patient's message, and it has no WhatsApp template in es`, warning: true}},
			noError: true,
		},
		{
			name:  "voice for a language not bundled",
			edits: []edit{replace("channels.yaml", "  es: {voice: Polly.Lupe-Neural", "  fr: {voice: Polly.Lea-Neural")},
			want: []want{
				{file: "channels.yaml", msg: `voice: language "fr" is not bundled`},
				{file: "channels.yaml", msg: "voice: no voice or recordings for es", warning: true},
			},
		},
		{
			name:  "template variable the message does not use",
			edits: []edit{replace("channels.yaml", "en: {sid: HX20000000000000000000000000000001, variables: [Medication]}", "en: {sid: HX20000000000000000000000000000001, variables: [Date]}")},
			want:  []want{{file: "channels.yaml", at: "HX20000000000000000000000000000001", msg: `variable "Date" is not a placeholder of the message`}},
		},
		{
			name:  "call placeholder in a flow message",
			edits: []edit{replace(en, "salt.check: Which has more salt?", "salt.check: Press {{.Digit}}")},
			want:  []want{{file: en, at: "salt.check: Press", msg: "unknown placeholder {{.Digit}}"}},
		},
		{
			name:  "too many quick-reply buttons",
			edits: []edit{replace("channels.yaml", "3: HX00000000000000000000000000000003", "4: HX00000000000000000000000000000003")},
			want:  []want{{file: "channels.yaml", msg: "WhatsApp quick replies take 1 to 3 buttons"}},
		},
		{
			name:  "channel message missing in a language",
			edits: []edit{replace(es, "voice.repeat:", "voice.repeatt:")},
			want:  []want{{file: en, at: "voice.repeat:", msg: `engine message "voice.repeat" is in en but missing in es`}},
		},

		// ---- flow parameters ----
		{
			name:  "param of an unknown type",
			edits: []edit{replace(apptFlow, "  appointment: appointment\n", "  appointment: appointment\n  note: text\n")},
			want:  []want{{file: apptFlow, at: "  note: text", msg: `flow "appointment" params.note: unknown type "text" (want medication, appointment, date, time, enum)`}},
		},
		{
			name:  "enum without values",
			edits: []edit{replace(apptFlow, "  visit: {type: enum, values: [first, follow-up]}", "  visit: {type: enum}")},
			want:  []want{{file: apptFlow, at: "  visit:", msg: `flow "appointment" params.visit: an enum needs values`}},
		},
		{
			name:  "param named otherwise than its type",
			edits: []edit{replace("flows/refill.yaml", "  date: date\n", "  date: date\n  when: time\n")},
			want: []want{
				{file: "flows/refill.yaml", at: "  when: time", msg: `flow "refill" params.when: a time parameter must be named "time"`},
			},
		},
		{
			name:  "template uses an undeclared param",
			edits: []edit{replace(apptFlow, "  appointment: appointment\n", "")},
			want: []want{
				{file: apptFlow, at: "  remind:", msg: `message "appointment.remind" uses {{.Date}}, but flow "appointment" declares no date or appointment parameter`},
				{file: apptFlow, at: "  remind:", msg: `message "appointment.remind" uses {{.Time}}, but flow "appointment" declares no time or appointment parameter`},
			},
		},
		{
			name:  "template uses an undeclared medication",
			edits: []edit{replace("flows/refill.yaml", "  medication: medication\n", "")},
			want: []want{
				{file: "flows/refill.yaml", at: "  ask:", msg: `message "refill.ask" uses {{.Medication}}, but flow "refill" declares no medication parameter`},
			},
		},

		// ---- flows ----
		{
			name:  "dangling choice next",
			edits: []edit{replace(medFlow, "next: thanks", "next: thank")},
			want: []want{
				{file: medFlow, at: "- id: taken", msg: `flow "medication" state "ask" choice "taken": next "thank" is not a state of flow "medication"`},
				{file: medFlow, at: "  thanks:", msg: `state "thanks" is unreachable`},
			},
		},
		{
			name:  "dangling state next",
			edits: []edit{replace(saltFlow, "    next: check\n  check:", "    next: chek\n  check:")},
			want:  []want{{file: saltFlow, at: "  teach:", msg: `flow "salt" state "teach": next "chek" is not a state`}},
		},
		{
			name:  "dangling timeout next",
			edits: []edit{replace(medFlow, "      next: end\n  thanks:", "      next: ending\n  thanks:")},
			// A timeout's line is the line of its first key.
			want: []want{{file: medFlow, at: "      after: 2h", msg: `state "ask" timeout: next "ending" is not a state`}},
		},
		{
			name:  "unreachable state",
			edits: []edit{appendTo(medFlow, "  orphan:\n    say: med.thanks\n")},
			want:  []want{{file: medFlow, at: "  orphan:", msg: `flow "medication" state "orphan" is unreachable from start "ask"`}},
		},
		{
			name:  "unknown priority",
			edits: []edit{replace(apptFlow, "priority: reminder", "priority: urgent")},
			want:  []want{{file: apptFlow, at: "id: appointment", msg: `flow "appointment": unknown priority "urgent"`}},
		},
		{
			name:  "no priority",
			edits: []edit{replace(apptFlow, "priority: reminder\n", "")},
			want:  []want{{file: apptFlow, at: "id: appointment", msg: `flow "appointment" has no priority`}},
		},
		{
			name:  "start is not a state",
			edits: []edit{replace(apptFlow, "start: remind", "start: remnd")},
			want:  []want{{file: apptFlow, at: "id: appointment", msg: `start "remnd" is not a state of the flow`}},
		},
		{
			name:  "no start",
			edits: []edit{replace(apptFlow, "start: remind\n", "")},
			want:  []want{{file: apptFlow, at: "id: appointment", msg: `flow "appointment" has no start state`}},
		},
		{
			name:  "next and choices",
			edits: []edit{replace(saltFlow, "    say: salt.check\n", "    say: salt.check\n    next: praise\n")},
			want:  []want{{file: saltFlow, at: "  check:", msg: `flow "salt" state "check" has both next ("praise") and 2 choices`}},
		},
		{
			name:    "next and timeout",
			edits:   []edit{replace(saltFlow, "    next: check\n  check:", "    next: check\n    timeout:\n      after: 1h\n  check:")},
			want:    []want{{file: saltFlow, at: "      after: 1h", warning: true, msg: `flow "salt" state "teach" has both next ("check") and a timeout`}},
			noError: true,
		},
		{
			name:  "state named end",
			edits: []edit{appendTo(apptFlow, "  end:\n    say: appointment.remind\n")},
			want:  []want{{file: apptFlow, at: "  end:", msg: `"end" is reserved`}},
		},
		{
			name:  "choice without id",
			edits: []edit{replace(chestFlow, "      - id: no\n        label: answer.no", "      - label: answer.no")},
			want:  []want{{file: chestFlow, at: "- label: answer.no", msg: `flow "chest" state "ask" choice 2 has no id`}},
		},
		{
			name:  "choice without label",
			edits: []edit{replace(chestFlow, "        label: answer.no\n", "")},
			want:  []want{{file: chestFlow, at: "- id: no", msg: `choice "no" has no label`}},
		},
		{
			name:  "duplicate choice id",
			edits: []edit{replace(chestFlow, "- id: no", "- id: yes")},
			want:  []want{{file: chestFlow, at: "- id: yes", nth: 1, msg: `choice "yes": duplicate choice id (also choice 1)`}},
		},
		{
			name:  "empty action",
			edits: []edit{replace(medFlow, "          - adherence: taken", "          - {}")},
			want:  []want{{file: medFlow, at: "- {}", msg: `choice "taken" action 1 is empty`}},
		},
		{
			name:  "action with two fields",
			edits: []edit{replace(medFlow, "          - adherence: taken\n", "          - adherence: taken\n            say: med.thanks\n")},
			want:  []want{{file: medFlow, at: "- adherence: taken", msg: "action 1 sets say and adherence"}},
		},
		{
			name:  "quiz without question",
			edits: []edit{replace(saltFlow, "              question: check\n              correct: true\n", "              correct: true\n")},
			want:  []want{{file: saltFlow, at: "- quiz:", msg: `choice "right" action 1: quiz has no question`}},
		},
		{
			name:  "a flow's own confidence state",
			edits: []edit{replace(saltFlow, "  praise:\n", "  confidence:\n    say: salt.praise\n  praise:\n")},
			want:  []want{{file: saltFlow, at: "  confidence:", msg: `state "confidence": the id is reserved for the confidence question`}},
		},
		{
			name:  "quiz question without its state",
			edits: []edit{replace(saltFlow, "              question: check\n              correct: true\n", "              question: salt\n              correct: true\n")},
			want:  []want{{file: saltFlow, at: "id: salt", msg: `quiz question "salt" has no state of that id`}},
		},
		{
			name:  "lesson action naming no flow",
			edits: []edit{replace(medFlow, "          - adherence: not_taken\n          - tally:", "          - lesson: salty\n          - tally:")},
			want:  []want{{file: medFlow, at: "- lesson: salty", msg: `lesson names unknown flow "salty"`}},
		},
		{
			name:  "lesson action with an unknown field",
			edits: []edit{replace(medFlow, "          - adherence: not_taken\n          - tally:", "          - lesson: {flow: salt, urgently: true}\n          - tally:")},
			want:  []want{{file: medFlow, at: "- lesson: {flow", msg: "field urgently not found"}},
		},
		{
			name: "a tally's actions are checked",
			edits: []edit{replace(medFlow, "                reason: missed three doses in a week\n",
				"                reason: missed three doses in a week\n              do:\n                - lesson: {flow: salad, urgent: false}\n")},
			want: []want{{file: medFlow, at: "- lesson: {flow: salad", msg: `tally action 1: lesson names unknown flow "salad"`}},
		},
		{
			name:    "a lesson that asks nothing",
			edits:   []edit{replace(medFlow, "          - adherence: not_taken\n          - tally:", "          - lesson: {flow: welcome, urgent: true}\n          - tally:")},
			want:    []want{{file: medFlow, at: "- lesson: {flow: welcome", msg: `lesson "welcome" asks no quiz question`, warning: true}},
			noError: true,
		},
		{
			name:  "bad adherence",
			edits: []edit{replace(medFlow, "adherence: taken", "adherence: took")},
			want:  []want{{file: medFlow, at: "- adherence: took", msg: `adherence "took" is not one of taken, not_taken, not_yet, no_answer`}},
		},
		{
			name:  "adherence missed",
			edits: []edit{replace(medFlow, "adherence: not_taken", "adherence: missed")},
			want:  []want{{file: medFlow, at: "- adherence: missed", msg: `adherence "missed" mixed "did not take it" with "did not answer": record not_taken`}},
		},
		{
			name:  "bad escalate priority",
			edits: []edit{replace(chestFlow, "priority: acute", "priority: urgent")},
			want:  []want{{file: chestFlow, at: "- escalate:", msg: `choice "yes" action 1 escalate: priority "urgent" is not one of low, medium, high, acute`}},
		},
		{
			name:  "escalate without reason",
			edits: []edit{replace(chestFlow, "              reason: chest pain reported\n", "")},
			want:  []want{{file: chestFlow, at: "- escalate:", msg: "escalate has no reason"}},
		},
		{
			name:  "incomplete tally",
			edits: []edit{replace(medFlow, "              within: 7d\n              reach: 3\n", "              reach: 0\n")},
			want: []want{
				{file: medFlow, at: "- tally:", msg: "tally: reach must be at least 1 (got 0)"},
				{file: medFlow, at: "- tally:", msg: "tally has no within"},
			},
		},
		{
			name:  "tally without escalate",
			edits: []edit{replace(medFlow, "              escalate:\n                priority: medium\n                reason: missed three doses in a week\n", "")},
			want:  []want{{file: medFlow, at: "- tally:", msg: "tally has no escalate"}},
		},
		{
			name:  "followup of unknown flow",
			edits: []edit{replace("flows/welcome.yaml", "flow: salt", "flow: salty")},
			want:  []want{{file: "flows/welcome.yaml", at: "- followup:", msg: `followup names unknown flow "salty"`}},
		},
		{
			name:  "timeout without after",
			edits: []edit{replace(saltFlow, "      after: 1d\n", "      next: end\n")},
			want:  []want{{file: saltFlow, at: "      next: end", msg: `state "check" timeout has no after`}},
		},
		{
			name:  "answer words missing in a language",
			edits: []edit{replace(esWords, "  later: [luego, aun no, más tarde]\n", "")},
			want:  []want{{file: medFlow, at: "- id: not_yet", msg: `choice "not_yet": answer words "later" are missing in es`}},
		},

		// ---- programs ----
		{
			name:  "unknown flow in program",
			edits: []edit{replace(program, "welcome: welcome", "welcome: welcom")},
			want:  []want{{file: program, at: "id: care", msg: `program "care": welcome names unknown flow "welcom"`}},
		},
		{
			name:  "unknown education flow",
			edits: []edit{replace(program, "- flow: salt", "- flow: sodium")},
			want:  []want{{file: program, at: "id: care", msg: `education[0].flow names unknown flow "sodium"`}},
		},
		{
			name:  "refills without flow",
			edits: []edit{replace(program, "  flow: refill\n", "")},
			want:  []want{{file: program, at: "id: care", msg: "refills.flow has no flow"}},
		},
		{
			name:  "bad time of day",
			edits: []edit{replace(program, `at: "10:00"`, `at: "25:00"`)},
			want:  []want{{file: program, at: "id: care", msg: `refills.at: bad time of day "25:00"`}},
		},
		{
			name:  "negative days",
			edits: []edit{replace(program, "days_before: 1", "days_before: -1")},
			want:  []want{{file: program, at: "id: care", msg: "appointments.days_before is negative (-1)"}},
		},
		{
			name:  "negative education day",
			edits: []edit{replace(program, "day: 2", "day: -2")},
			want:  []want{{file: program, at: "id: care", msg: "education[0].day is negative (-2)"}},
		},
		{
			name:  "program without name",
			edits: []edit{replace(program, "name: program.care.name\n", "")},
			want:  []want{{file: program, at: "id: care", msg: `program "care" has no name`}},
		},
		{
			name:  "program name not translated",
			edits: []edit{replace(es, "program.care.name: Tend Cuidado\n", "")},
			want:  []want{{file: program, at: "id: care", msg: `program "care" name: message "program.care.name" is missing in es`}},
		},

		{
			name:  "daily cap below one",
			edits: []edit{replace(program, "  per_day: 3", "  per_day: 0")},
			want:  []want{{file: program, at: "id: care", msg: `program "care": caps.per_day is 0: it must be at least 1`}},
		},
		{
			name:  "fcc caps on flows without a purpose",
			edits: []edit{appendTo(program, "  fcc: true\n"), replace(medFlow, "priority: reminder\n", "priority: reminder\npurpose: medication\n")},
			want: []want{
				{file: program, at: "id: care", msg: `caps.fcc counts starts per purpose, but flow "refill" has no purpose`},
				{file: program, at: "id: care", msg: `flow "appointment" has no purpose`},
				{file: program, at: "id: care", msg: `flow "salt" has no purpose`},
			},
		},
		{
			name:  "unknown purpose",
			edits: []edit{replace(medFlow, "priority: reminder\n", "priority: reminder\npurpose: marketing\n")},
			want:  []want{{file: medFlow, at: "id: medication", msg: `flow "medication": unknown purpose "marketing" (want one of medication, appointment, refill, education, check-in)`}},
		},
		{
			name:  "tally named like the start counts",
			edits: []edit{replace(medFlow, "name: missed_dose", "name: started:missed")},
			want:  []want{{file: medFlow, at: "- tally:", msg: `name "started:missed": the prefix "started:" is the engine's`}},
		},
		{
			name:    "HELP that does not say the cap",
			edits:   []edit{replace(en, "up to {{.PerDay}} msgs/day", "up to 3 msgs/day"), replace(es, "hasta {{.PerDay}} msj/dia", "hasta 3 msj/dia")},
			want:    []want{{file: en, at: "keyword.help:", msg: `en: message "keyword.help" does not say {{.PerDay}}`, warning: true}},
			noError: true,
		},

		// ---- messages ----
		{
			name:  "missing translation of a prompt",
			edits: []edit{replace(es, "refill.help: Una enfermera le llamara por su receta.\n", "")},
			want:  []want{{file: "flows/refill.yaml", at: "  help:", msg: `flow "refill" state "help" say: message "refill.help" is missing in es`}},
		},
		{
			name:  "missing translation of a label",
			edits: []edit{replace(es, "answer.taken: Tomada\n", "")},
			want:  []want{{file: medFlow, at: "- id: taken", msg: `label: message "answer.taken" is missing in es`}},
		},
		{
			name:  "missing translation of an action",
			edits: []edit{replace(en, "med.later:", "med.latter:")},
			want: []want{
				{file: medFlow, at: "- say: med.later", msg: `action 2 say: message "med.later" is missing in en`},
			},
		},
		{
			name:  "missing engine message",
			edits: []edit{replace(es, "idle.reply: Gracias por su mensaje. Responda AYUDA o ENFERMERA.\n", "")},
			want:  []want{{file: en, at: "idle.reply:", msg: `engine message "idle.reply" is in en but missing in es`}},
		},
		{
			name:  "missing engine message everywhere",
			edits: []edit{replace(es, "med.generic: su medicina\n", ""), replace(en, "med.generic: your medicine\n", "")},
			want: []want{
				{file: en, msg: `engine message "med.generic" is missing in en`},
				{file: es, msg: `engine message "med.generic" is missing in es`},
			},
		},
		{
			name:  "message in one language only",
			edits: []edit{appendTo(es, "extra.note: Hola\n")},
			want:  []want{{file: es, at: "extra.note:", msg: `message "extra.note" is in es but missing in en`}},
		},
		{
			name:  "placeholder mismatch between languages",
			edits: []edit{replace(es, "Es hora de su {{.Medication}}.", "Es hora de su {{.Program}}.")},
			want:  []want{{file: es, at: "med.ask:", msg: `es: message "med.ask" uses placeholders {{.Program}} but en uses {{.Medication}}`}},
		},
		{
			name:  "unknown placeholder",
			edits: []edit{replace(en, "med.thanks: Thank you!", "med.thanks: Thank you, {{.Name}}!"), replace(es, "med.thanks: ¡Gracias!", "med.thanks: ¡Gracias, {{.Name}}!")},
			want: []want{
				{file: en, at: "med.thanks:", msg: "en: message \"med.thanks\" uses unknown placeholder {{.Name}}"},
				{file: es, at: "med.thanks:", msg: "es: message \"med.thanks\" uses unknown placeholder {{.Name}}"},
			},
		},
		{
			name:  "empty message",
			edits: []edit{replace(en, "med.thanks: Thank you!", `med.thanks: ""`)},
			want:  []want{{file: en, at: "med.thanks:", msg: `en: message "med.thanks" has empty text`}},
		},
		{
			name:  "message that does not render",
			edits: []edit{replace(en, "med.thanks: Thank you!", `med.thanks: "Thank you {{.Program"`)},
			want:  []want{{file: en, at: "med.thanks:", msg: `en: message "med.thanks" does not render`}},
		},

		// ---- plural forms ----
		{
			// go-i18n v2.7 follows CLDR 46: Spanish has one, many (1000000,
			// 1e6, ...) and other.
			name:  "spanish plural without many",
			edits: []edit{replace(es, "  many: \"Bien, le pregunto de nuevo en {{.Hours}} horas.\"\n", "")},
			want:  []want{{file: es, at: "med.later:", msg: `es: plural message "med.later" is missing a form the CLDR plural rules of es need (has one, other): count 1000000: message "med.later" has no plural form "many"`}},
		},
		{
			name:  "english plural without other",
			edits: []edit{replace(en, "  other: \"OK, I will ask again in {{.Hours}} hours.\"\n", "")},
			want:  []want{{file: en, at: "med.later:", msg: `en: plural message "med.later" is missing a form the CLDR plural rules of en need (has one): count 0: message "med.later" has no plural form "other"`}},
		},
		{
			name: "plural in one language, plain in another",
			edits: []edit{replace(es, "med.later:\n  one: Bien, le pregunto de nuevo en una hora.\n  many: \"Bien, le pregunto de nuevo en {{.Hours}} horas.\"\n  other:",
				"med.later:")},
			want: []want{{file: es, at: "med.later:", msg: `es: message "med.later" is a plain string but in en it has plural forms`}},
		},

		// ---- words ----
		{
			name:  "catalog without words",
			edits: []edit{remove(esWords)},
			want:  []want{{file: es, msg: "language es has a catalog but no words file"}},
		},
		{
			name:  "words without catalog",
			edits: []edit{copyFile("locales/words/en.yaml", "locales/words/fr.yaml", "language: en", "language: fr")},
			want:  []want{{file: "locales/words/fr.yaml", msg: "words for fr but no catalog"}},
		},
		{
			name:  "emergency phrase list of an earlier release",
			edits: []edit{replace(esWords, "answers:", "emergency: [dolor de pecho]\nanswers:")},
			want:  []want{{file: esWords, at: "emergency:", msg: "phrase lists are replaced by the concept lexicon in locales/safety/es.yaml"}},
		},

		// ---- emergency lexicons ----
		{
			name:  "lexicon without a concept",
			edits: []edit{addFile(enSafety, lexicon("chest_pain"))},
			want:  []want{{file: enSafety, at: "concepts:", msg: "en: concept suicide has no match patterns"}},
		},
		{
			name:  "lexicon pattern names an unknown group",
			edits: []edit{addFile(enSafety, lexicon(locales.Concepts()...)), replace(enSafety, "match: [\"@chest ~ @pain\"]", "match: [\"@chset ~ @pain\"]")},
			want:  []want{{file: enSafety, at: "@chset", msg: `no group "chset"`}},
		},
		{
			name:  "lexicon reads an answer as an emergency",
			edits: []edit{addFile(enSafety, lexicon(locales.Concepts()...)), replace(enSafety, "match: [\"@chest ~ @pain\"]", "match: [\"@chest ~ @pain\", taken]")},
			want:  []want{{file: enSafety, at: "concepts:", msg: `en: the answer "taken" is read as chest_pain (emergency)`}},
		},
		{
			name:  "lexicon phrase alternatives without their closing parenthesis",
			edits: []edit{addFile(enSafety, lexicon(locales.Concepts()...)), replace(enSafety, "match: [\"@chest ~ @pain\"]", "match: [\"(chest pain|heart attack now\"]")},
			want:  []want{{file: enSafety, at: "(chest pain", msg: `without its ")"`}},
		},
		{
			name:  "lexicon negative word with alternatives",
			edits: []edit{addFile(enSafety, lexicon(locales.Concepts()...)), replace(enSafety, "negation: [no, not]", "negation: [no, not]\nnegative: [cant|cannot]")},
			want:  []want{{file: enSafety, at: "negative:", msg: `"cant|cannot": one word each`}},
		},
		{
			name:  "lexicon with an unknown key",
			edits: []edit{addFile(enSafety, lexicon(locales.Concepts()...)), replace(enSafety, "negation:", "negations:")},
			want:  []want{{file: enSafety, at: "negations:", msg: `unknown key "negations"`}},
		},
		{
			name:    "lexicon complete",
			edits:   []edit{addFile(enSafety, lexicon(locales.Concepts()...))},
			noError: true,
		},
		{
			name:  "no stop words",
			edits: []edit{replace("locales/words/en.yaml", "stop: [stop, stopall, unsubscribe, cancel, end, quit, revoke, optout, opt-out, stop all]\n", "")},
			want:  []want{{file: "locales/words/en.yaml", msg: "en: the stop list is empty"}},
		},

		// ---- SMS segments ----
		{
			name:    "two segments warn",
			edits:   []edit{replace(en, "med.thanks: Thank you!", "med.thanks: "+long(200))},
			want:    []want{{file: en, at: "med.thanks:", warning: true, msg: `en: 2 SMS segments (GSM-7, 200 chars) for message "med.thanks"`}},
			noError: true,
		},
		{
			name:  "four segments fail",
			edits: []edit{replace(en, "med.thanks: Thank you!", "med.thanks: "+long(600))},
			want:  []want{{file: en, at: "med.thanks:", msg: "en: 4 SMS segments (GSM-7, 600 chars)"}},
		},
		{
			name:    "accents make UCS-2",
			edits:   []edit{replace(es, "med.thanks: ¡Gracias!", "med.thanks: ¡Gracias! Hoy es un buen día para cuidar su salud y la de su familia, siga así.")},
			want:    []want{{file: es, at: "med.thanks:", warning: true, msg: `es: 2 SMS segments (UCS-2, 79 chars) for message "med.thanks" as flow "medication" state "thanks" sends it; UCS-2 because of 'í'`}},
			noError: true,
		},
		{
			name:    "choices count toward the prompt",
			edits:   []edit{replace(en, "salt.check: Which has more salt?", "salt.check: "+long(140))},
			want:    []want{{file: en, at: "salt.check:", warning: true, msg: `en: 2 SMS segments (GSM-7, 165 chars) for message "salt.check" with its 2 choices as flow "salt" state "check"`}},
			noError: true,
		},
		{
			name: "placeholders are filled with worst-case values",
			edits: []edit{
				replace(en, "med.thanks: Thank you!", "med.thanks: \""+long(140)+" {{.Medication}}\""),
				replace(es, "med.thanks: ¡Gracias!", "med.thanks: \"¡Gracias! {{.Medication}}\""),
			},
			want:    []want{{file: en, at: "med.thanks:", warning: true, msg: "en: 2 SMS segments (GSM-7, 167 chars)"}},
			noError: true,
		},
		{
			name: "program name is rendered",
			edits: []edit{
				replace(en, "program.care.name: Tend Care", "program.care.name: Tend Care for Your Heart and Health Every Day"),
				replace(en, "med.thanks: Thank you!", "med.thanks: \""+long(120)+" {{.Program}}\""),
				replace(es, "med.thanks: ¡Gracias!", "med.thanks: \"¡Gracias! {{.Program}}\""),
			},
			want:    []want{{file: en, at: "med.thanks:", warning: true, msg: "en: 2 SMS segments (GSM-7, 166 chars)"}},
			noError: true,
		},

		// ---- lessons (docs/content.md#lessons) ----
		{
			name:  "lesson without source",
			edits: []edit{replace(saltFlow, "source: https://medlineplus.gov/sodium.html\n", "")},
			want:  []want{{file: saltFlow, at: "id: salt", msg: `flow "salt" is a lesson but has no source`}},
		},
		{
			name:  "lesson source not an address",
			edits: []edit{replace(saltFlow, "source: https://medlineplus.gov/sodium.html", "source: medlineplus.gov/sodium.html")},
			want:  []want{{file: saltFlow, at: "id: salt", msg: `flow "salt": source "medlineplus.gov/sodium.html" is not an http(s) address`}},
		},
		{
			name:  "lesson without licence",
			edits: []edit{replace(saltFlow, "licence: public domain (MedlinePlus health topic summary)\n", "")},
			want:  []want{{file: saltFlow, at: "id: salt", msg: `flow "salt" is a lesson but has no licence`}},
		},
		{
			name:  "quiz question that is no state",
			edits: []edit{replace(saltFlow, "              question: check\n              correct: true\n", "              question: salt.check\n              correct: true\n")},
			want:  []want{{file: saltFlow, at: "- quiz:", msg: `quiz question "salt.check" is not a state of flow "salt"`}},
		},
		{
			name:  "a lesson's message takes at most two segments",
			edits: []edit{replace(en, "salt.teach: Most salt we eat hides in bread, soup and ready meals, not the salt shaker.", "salt.teach: "+long(400))},
			want:  []want{{file: en, at: "salt.teach:", msg: `en: 3 SMS segments (GSM-7, 400 chars) for message "salt.teach" as flow "salt" state "teach" sends it; a lesson's message may take at most 2 segments`}},
		},
		{
			name:  "a lesson speaks at most a minute before a question",
			edits: []edit{replace(en, "salt.teach: Most salt we eat hides in bread, soup and ready meals, not the salt shaker.", "salt.teach: "+strings.Repeat("a ", 140))},
			want:  []want{{file: en, at: "salt.teach:", msg: `en: a call speaks 1`}, {file: en, at: "salt.teach:", msg: `in flow "salt" from its start (salt.teach, salt.check) before the patient can answer; keep it to 60 s: shorten`}},
		},
		{
			name:    "other flows may speak longer, with a warning",
			edits:   []edit{replace(en, "med.thanks: Thank you!", "med.thanks: "+strings.Repeat("a ", 152))},
			want:    []want{{file: en, at: "med.thanks:", warning: true, msg: `en: a call speaks 152 words (about 61 s at 2.5 words a second) in flow "medication" after answer "taken"`}},
			noError: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := validPack(t)
			for _, e := range tt.edits {
				e(t, fsys)
			}
			_, problems, err := content.Load(fsys)
			var lerr *content.LintError
			switch {
			case tt.noError && err != nil:
				t.Errorf("Load: %v, want only warnings", err)
			case !tt.noError && !errors.As(err, &lerr):
				t.Errorf("Load error = %v, want a *LintError", err)
			case lerr != nil && !slices.Equal(lerr.Problems, problems):
				t.Errorf("LintError lists %d problems, Load returned %d", len(lerr.Problems), len(problems))
			}
			for _, w := range tt.want {
				line := w.line(t, fsys)
				found := slices.ContainsFunc(problems, func(p content.Problem) bool {
					return p.File == w.file && p.Line == line && p.Warning == w.warning && strings.Contains(p.Msg, w.msg)
				})
				if !found {
					kind := "error"
					if w.warning {
						kind = "warning"
					}
					t.Errorf("want %s at %s:%d containing %q; got:", kind, w.file, line, w.msg)
					for _, p := range problems {
						t.Errorf("  %s", p)
					}
				}
			}
		})
	}
}

// TestBundledLanguages prints, per bundled language, its messages, the
// most SMS segments any of them takes (lint's long sample values) and its
// review status, and fails above two segments (go test ./content -run
// BundledLanguages -v).
func TestBundledLanguages(t *testing.T) {
	t.Parallel()
	p, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	en := len(p.Catalog.Messages["en"])
	for _, st := range content.Languages(p) {
		t.Logf("%-8s %-16s %4d messages  longest SMS %d segments  review %s (%s, %s)", st.Lang, st.Autonym, st.Messages, st.MaxSegments, st.Review.Status, st.Review.By, st.Review.Date)
		if st.MaxSegments > 2 {
			t.Errorf("%s: a message takes %d SMS segments; the bundled pack allows 2", st.Lang, st.MaxSegments)
		}
		if st.Messages != en {
			t.Errorf("%s has %d messages, en %d", st.Lang, st.Messages, en)
		}
	}
}
