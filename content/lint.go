package content

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/readings"
)

// Placeholders are the template fields a message may use ({{.Medication}}).
// The engine fills every one of them on every message it renders.
func Placeholders() []string {
	return []string{"Medication", "Program", "HelpContact", "Hours", "Date", "Time", "Emergency", "Crisis", "PerDay", "Languages"}
}

// callPlaceholders are filled only where a call says a choice's key.
var callPlaceholders = map[string][]string{"voice.press": {"Digit", "Label"},
	MsgVoiceReadingEntered: {"Value"}, MsgVoiceReadingPair: {"Systolic", "Diastolic"}}

// Adherence values an action may record: a dose taken, reported not
// taken, put off ("not yet"), or a reminder nobody answered. "missed", which
// mixed the last three, is refused with a hint (adherenceMissed); the
// Runner, not content, records "undelivered".
var adherenceValues = []string{"taken", "not_taken", "not_yet", "no_answer"}

// adherenceMissed is why an action may no longer record "missed".
const adherenceMissed = `"missed" mixed "did not take it" with "did not answer": record not_taken for a dose the patient reports not taken, no_answer for no reply`

// Escalation priorities, lowest first.
var escalatePriorities = []string{"low", "medium", "high", "acute"}

// pluralProbes are the counts a plural message is rendered with to find the
// forms a language's CLDR rules need: together they reach every form of
// every language go-i18n knows (zero, one, two, few, many and other,
// including the "many" of millions and the "other" of decimals).
var pluralProbes = []any{0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 21, 22, 100, 101, 1000000, "1.5"}

// smsCounts are the realistic hour counts a plural message is rendered with
// when its SMS length is measured: they reach every form a count of hours
// can take in any language, with no more than two digits.
var smsCounts = []int{0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 21, 22}

// Segment limits of one SMS: warn above 1 (not for languages whose script
// is UCS-2 anyway), fail above 2 (the brief: patient text within two
// segments; docs/content.md#sms-length).
const (
	smsWarnSegments  = 1
	smsErrorSegments = 2
	lessonSegments   = 2
)

// Worst-case sample values for placeholders when measuring SMS length.
var smsSamples = map[string]any{
	"Medication":  "metoprolol succinate 25 mg",
	"HelpContact": "+1 555 010 0100",
	"Hours":       4,
	"Date":        "2026-12-03",
	"Time":        "17:30",
}

// msgRef is one place a message id is used.
type msgRef struct {
	id   string
	file string
	line int
	what string // "flow \"x\" state \"y\" say"
	flow string // the flow that sends it, if any
}

type linter struct {
	p        *Pack
	problems []Problem
	refs     []msgRef
	samples  map[string]map[string]any // by language, see sampleData
	segments map[string]int            // by language: the most SMS segments a message takes
	ucs2     map[string]bool           // by language: see ucs2Script
}

func (l *linter) errorf(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *linter) warnf(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Warning: true, Msg: fmt.Sprintf(format, args...)})
}

func (l *linter) ref(id, file string, line int, format string, args ...any) {
	l.refs = append(l.refs, msgRef{id: id, file: file, line: line, what: fmt.Sprintf(format, args...)})
}

func lint(p *Pack) []Problem {
	if p == nil {
		return nil
	}
	l := runLint(p)
	p.segments = l.segments
	return l.problems
}

// LanguageStatus is one bundled language as lint sees it: what a clinic
// needs before it enrolls patients in it.
type LanguageStatus struct {
	Lang, Autonym string
	Review        locales.Review
	Messages      int
	// MaxSegments is the most SMS segments a message takes with lint's
	// long sample values.
	MaxSegments int
}

// Languages reports every language of p, in p's order, from what Lint
// measured (Load lints every pack it returns).
func Languages(p *Pack) []LanguageStatus {
	if p.segments == nil { // a Pack Lint has not seen
		Lint(p)
	}
	out := make([]LanguageStatus, 0, len(p.Languages))
	for _, lang := range p.Languages {
		st := LanguageStatus{Lang: lang, Autonym: lang, MaxSegments: p.segments[lang]}
		if w := p.Words[lang]; w != nil {
			st.Autonym, st.Review = cmp.Or(w.Autonym, lang), w.Review
		}
		if p.Catalog != nil {
			st.Messages = len(p.Catalog.Messages[lang])
		}
		out = append(out, st)
	}
	return out
}

func runLint(p *Pack) *linter {
	l := &linter{p: p, segments: map[string]int{}, ucs2: map[string]bool{}}
	for _, id := range sortedKeys(p.Flows) {
		l.flow(p.Flows[id])
	}
	for _, id := range sortedKeys(p.Programs) {
		l.program(p.Programs[id])
	}
	l.rules()
	l.words()
	l.safety()
	if p.Catalog != nil {
		l.messages()
		l.promise()
		l.paramsUsed()
		l.plurals()
		l.sms()
		l.rtl()
		l.spoken()
		l.channels()
	}
	return l
}

// firstLine returns the first of lines that is set.
func firstLine(lines ...int) int {
	for _, n := range lines {
		if n > 0 {
			return n
		}
	}
	return 1
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- flows ----

func (l *linter) flow(f *Flow) {
	if f == nil {
		return
	}
	fl := firstLine(f.Line)
	start := len(l.refs)
	defer func() {
		for i := start; i < len(l.refs); i++ {
			l.refs[i].flow = f.ID
		}
	}()
	for _, p := range f.Params {
		if err := p.declare(); err != nil {
			l.errorf(f.File, firstLine(p.Line, fl), "flow %q params.%s: %v", f.ID, p.Name, err)
		}
	}
	switch f.Priority {
	case PrioritySafety, PriorityReminder, PriorityEducation:
	case "":
		l.errorf(f.File, fl, "flow %q has no priority (want %s, %s or %s)", f.ID, PrioritySafety, PriorityReminder, PriorityEducation)
	default:
		l.errorf(f.File, fl, "flow %q: unknown priority %q (want %s, %s or %s)", f.ID, f.Priority, PrioritySafety, PriorityReminder, PriorityEducation)
	}
	if f.Purpose != "" && !slices.Contains(Purposes(), f.Purpose) {
		l.errorf(f.File, fl, "flow %q: unknown purpose %q (want one of %s)", f.ID, f.Purpose, strings.Join(Purposes(), ", "))
	}
	if f.IsLesson() {
		l.lessonSource(f, fl)
	}
	stateIDs := sortedKeys(f.States)
	known := func() string {
		return strings.Join(append(slices.Clone(stateIDs), End), ", ")
	}
	if len(f.States) == 0 {
		l.errorf(f.File, fl, "flow %q has no states", f.ID)
		return
	}
	switch _, ok := f.States[f.Start]; {
	case f.Start == "":
		l.errorf(f.File, fl, "flow %q has no start state (states: %s)", f.ID, strings.Join(stateIDs, ", "))
	case !ok:
		l.errorf(f.File, fl, "flow %q: start %q is not a state of the flow (states: %s)", f.ID, f.Start, strings.Join(stateIDs, ", "))
	}
	checkNext := func(next string, line int, where string) {
		if next == "" || next == End {
			return
		}
		if _, ok := f.States[next]; !ok {
			l.errorf(f.File, line, "%s: next %q is not a state of flow %q (want one of %s)", where, next, f.ID, known())
		}
	}

	for _, sid := range stateIDs {
		s := f.States[sid]
		if s == nil { // "name:" with nothing under it: a state that ends the flow
			continue
		}
		sl := firstLine(s.Line, f.Line)
		where := fmt.Sprintf("flow %q state %q", f.ID, sid)
		if sid == End {
			l.errorf(f.File, sl, "%s: %q is reserved for the end of the flow; rename the state", where, End)
		}
		if s.Next != "" && len(s.Choices) > 0 {
			l.errorf(f.File, sl, "%s has both next (%q) and %d choices: next goes on at once, so the choices are never asked; drop next or the choices", where, s.Next, len(s.Choices))
		}
		if s.Next != "" && s.Timeout != nil {
			l.warnf(f.File, firstLine(s.Timeout.Line, sl), "%s has both next (%q) and a timeout: next goes on at once, so the timeout never fires", where, s.Next)
		}
		checkNext(s.Next, sl, where)
		if s.Say != "" {
			l.ref(s.Say, f.File, sl, "%s say", where)
		}
		if s.Reading != "" {
			if !readings.Known(readings.Kind(s.Reading)) {
				l.errorf(f.File, sl, "%s: reading %q is not a reading kind (one of %s)", where, s.Reading, strings.Join(readingKinds(), ", "))
			}
			if s.Say == "" || s.Next != "" {
				l.errorf(f.File, sl, "%s asks for a reading: it needs say (the question) and no next (it waits for the answer)", where)
			}
		}
		l.actions(f, s.Do, sl, where)

		seen := map[string]int{}
		for i, c := range s.Choices {
			if c == nil {
				l.errorf(f.File, sl, "%s: choice %d is empty", where, i+1)
				continue
			}
			cl := firstLine(c.Line, sl)
			cwhere := fmt.Sprintf("%s choice %d", where, i+1)
			if c.ID == "" {
				l.errorf(f.File, cl, "%s has no id", cwhere)
			} else {
				cwhere = fmt.Sprintf("%s choice %q", where, c.ID)
				if prev, dup := seen[c.ID]; dup {
					l.errorf(f.File, cl, "%s: duplicate choice id (also choice %d); choice ids must be unique in a state", cwhere, prev)
				} else {
					seen[c.ID] = i + 1
				}
			}
			if c.Label == "" {
				l.errorf(f.File, cl, "%s has no label: SMS lists every choice by number and label", cwhere)
			} else {
				l.ref(c.Label, f.File, cl, "%s label", cwhere)
			}
			checkNext(c.Next, cl, cwhere)
			for _, class := range c.Words {
				for _, lang := range sortedKeys(l.p.Words) {
					w := l.p.Words[lang]
					if w == nil || len(w.Answers[class]) == 0 {
						file := "locales/words/" + lang + ".yaml"
						if w != nil && w.File != "" {
							file = w.File
						}
						l.errorf(f.File, cl, "%s: answer words %q are missing in %s (add answers.%s to %s)", cwhere, class, lang, class, file)
					}
				}
			}
			l.actions(f, c.Do, cl, cwhere)
		}

		if t := s.Timeout; t != nil {
			tl := firstLine(t.Line, sl)
			twhere := where + " timeout"
			if t.After <= 0 {
				l.errorf(f.File, tl, "%s has no after (a duration such as 2h or 1d)", twhere)
			}
			checkNext(t.Next, tl, twhere)
			l.actions(f, t.Do, tl, twhere)
		}
	}

	// Reachability from Start through every next.
	if _, ok := f.States[f.Start]; !ok {
		return
	}
	reached := map[string]bool{f.Start: true}
	if f.IsLesson() {
		// The engine asks the confidence question itself, after each
		// quiz answer; a review starts at an item's question state.
		reached[ConfidenceState] = true
		l.ref(MsgReinforce, f.File, fl, "flow %q (a lesson: the engine's tip after a right but unsure answer)", f.ID)
		l.ref(MsgReview, f.File, fl, "flow %q (a lesson: the engine opens a spaced review with it)", f.ID)
		for _, item := range f.Items() {
			if _, ok := f.States[item]; !ok {
				l.errorf(f.File, fl, "flow %q: quiz question %q has no state of that id: a spaced review starts the lesson at the state whose id is the question's (name the question state %q)", f.ID, item, item)
			}
		}
	}
	queue := []string{f.Start}
	for len(queue) > 0 {
		s := f.States[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		nexts := []string{s.Next}
		for _, c := range s.Choices {
			if c != nil {
				nexts = append(nexts, c.Next)
			}
		}
		if s.Timeout != nil {
			nexts = append(nexts, s.Timeout.Next)
		}
		for _, n := range nexts {
			if _, ok := f.States[n]; ok && !reached[n] {
				reached[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, sid := range stateIDs {
		if reached[sid] {
			continue
		}
		line := f.Line
		if s := f.States[sid]; s != nil {
			line = s.Line
		}
		l.errorf(f.File, firstLine(line, f.Line), "flow %q state %q is unreachable from start %q: no choice, next or timeout leads to it", f.ID, sid, f.Start)
	}
}

func (l *linter) actions(f *Flow, as []Action, line int, where string) {
	for i := range as {
		a := &as[i]
		al := firstLine(a.Line, line)
		awhere := fmt.Sprintf("%s action %d", where, i+1)
		var set []string
		if a.Say != "" {
			set = append(set, "say")
		}
		if a.Adherence != "" {
			set = append(set, "adherence")
		}
		if a.Quiz != nil {
			set = append(set, "quiz")
		}
		if a.Escalate != nil {
			set = append(set, "escalate")
		}
		if a.Tally != nil {
			set = append(set, "tally")
		}
		if a.Followup != nil {
			set = append(set, "followup")
		}
		if a.Episode != "" {
			set = append(set, "episode")
		}
		if a.Lesson != nil {
			set = append(set, "lesson")
		}
		switch len(set) {
		case 0:
			l.errorf(f.File, al, "%s is empty: an action is exactly one of say, adherence, quiz, escalate, tally, followup, lesson or episode", awhere)
			continue
		case 1:
		default:
			l.errorf(f.File, al, "%s sets %s: an action is exactly one of say, adherence, quiz, escalate, tally, followup, lesson or episode; split it into %d actions", awhere, strings.Join(set, " and "), len(set))
		}
		if a.Lesson != nil {
			l.lesson(f.File, al, awhere, a.Lesson)
		}
		if a.Say != "" {
			l.ref(a.Say, f.File, al, "%s say", awhere)
		}
		if a.Episode != "" && !slices.Contains(episodeActions(), a.Episode) {
			l.errorf(f.File, al, "%s: episode %q is not one of %s", awhere, a.Episode, strings.Join(episodeActions(), ", "))
		}
		if a.Adherence == "missed" {
			l.errorf(f.File, al, "%s: adherence %s", awhere, adherenceMissed)
		} else if a.Adherence != "" && !slices.Contains(adherenceValues, a.Adherence) {
			l.errorf(f.File, al, "%s: adherence %q is not one of %s", awhere, a.Adherence, strings.Join(adherenceValues, ", "))
		}
		if a.Quiz != nil && a.Quiz.Question == "" {
			l.errorf(f.File, al, "%s: quiz has no question", awhere)
		}
		if a.Quiz != nil && a.Quiz.Question != "" {
			if _, ok := f.States[a.Quiz.Question]; !ok {
				l.errorf(f.File, al, "%s: quiz question %q is not a state of flow %q: a question's id is the id of the state that asks it (a review of the item starts the lesson there)", awhere, a.Quiz.Question, f.ID)
			}
		}
		if a.Escalate != nil {
			l.escalate(f.File, al, awhere+" escalate", a.Escalate)
		}
		if t := a.Tally; t != nil {
			twhere := awhere + " tally"
			if t.Name == "" {
				l.errorf(f.File, al, "%s has no name", twhere)
			}
			if strings.HasPrefix(t.Name, StartTally) {
				l.errorf(f.File, al, "%s: name %q: the prefix %q is the engine's (it counts the conversations Tend starts)", twhere, t.Name, StartTally)
			}
			if t.Reach <= 0 {
				l.errorf(f.File, al, "%s: reach must be at least 1 (got %d)", twhere, t.Reach)
			}
			if t.Within <= 0 {
				l.errorf(f.File, al, "%s has no within (a duration such as 7d)", twhere)
			}
			if t.Escalate == nil {
				l.errorf(f.File, al, "%s has no escalate (priority and reason of the ticket it opens)", twhere)
			} else {
				l.escalate(f.File, al, twhere+" escalate", t.Escalate)
			}
			l.actions(f, t.Do, al, twhere)
		}
		if fu := a.Followup; fu != nil {
			switch {
			case fu.Flow == "":
				l.errorf(f.File, al, "%s: followup has no flow", awhere)
			case l.p.Flows[fu.Flow] == nil:
				l.errorf(f.File, al, "%s: followup names unknown flow %q (flows: %s)", awhere, fu.Flow, strings.Join(sortedKeys(l.p.Flows), ", "))
			}
		}
	}
}

// lesson checks a lesson action: it names a flow of the pack, and that
// flow is a lesson (it asks a quiz question).
func (l *linter) lesson(file string, line int, where string, ls *LessonStart) {
	switch f := l.p.Flows[ls.Flow]; {
	case ls.Flow == "":
		l.errorf(file, line, "%s: lesson has no flow", where)
	case f == nil:
		l.errorf(file, line, "%s: lesson names unknown flow %q (flows: %s)", where, ls.Flow, strings.Join(sortedKeys(l.p.Flows), ", "))
	case !f.IsLesson():
		l.warnf(file, line, "%s: lesson %q asks no quiz question: nothing is scored or reviewed", where, ls.Flow)
	}
}

func (l *linter) escalate(file string, line int, where string, e *Escalate) {
	if !slices.Contains(escalatePriorities, e.Priority) {
		if e.Priority == "" {
			l.errorf(file, line, "%s has no priority (want %s)", where, strings.Join(escalatePriorities, ", "))
		} else {
			l.errorf(file, line, "%s: priority %q is not one of %s", where, e.Priority, strings.Join(escalatePriorities, ", "))
		}
	}
	if strings.TrimSpace(e.Reason) == "" {
		l.errorf(file, line, "%s has no reason: the nurse reads it on the ticket", where)
	}
}

// ---- programs ----

func (l *linter) program(pr *Program) {
	if pr == nil {
		return
	}
	pl := firstLine(pr.Line)
	where := fmt.Sprintf("program %q", pr.ID)
	if pr.Name == "" {
		l.errorf(pr.File, pl, "%s has no name (the message id of its patient-facing name)", where)
	} else {
		l.ref(pr.Name, pr.File, pl, "%s name", where)
	}
	flowRef := func(field, id string, required bool) {
		switch {
		case id == "" && required:
			l.errorf(pr.File, pl, "%s: %s has no flow", where, field)
		case id == "":
		case l.p.Flows[id] == nil:
			l.errorf(pr.File, pl, "%s: %s names unknown flow %q (flows: %s)", where, field, id, strings.Join(sortedKeys(l.p.Flows), ", "))
		}
	}
	clock := func(field, at string) {
		if _, _, err := ParseClock(at); err != nil {
			l.errorf(pr.File, pl, "%s: %s.at: %v", where, field, err)
		}
	}
	flowRef("welcome", pr.Welcome, false)
	flowRef("medications", pr.Medications, false)
	for _, r := range []struct {
		field string
		dr    *DateReminder
	}{{"refills", pr.Refills}, {"appointments", pr.Appointments}} {
		if r.dr == nil {
			continue
		}
		flowRef(r.field+".flow", r.dr.Flow, true)
		if r.dr.DaysBefore < 0 {
			l.errorf(pr.File, pl, "%s: %s.days_before is negative (%d)", where, r.field, r.dr.DaysBefore)
		}
		clock(r.field, r.dr.At)
	}
	for i, e := range pr.Education {
		field := fmt.Sprintf("education[%d]", i)
		flowRef(field+".flow", e.Flow, true)
		if e.Day < 0 {
			l.errorf(pr.File, pl, "%s: %s.day is negative (%d)", where, field, e.Day)
		}
		clock(field, e.At)
	}
	if c := pr.Checkins; c != nil {
		flowRef("checkins.flow", c.Flow, true)
		clock("checkins", c.At)
		if f := l.p.Flows[c.Flow]; f != nil && f.Purpose != "check-in" {
			l.errorf(pr.File, pl, "%s: checkins.flow %q has purpose %q: a check-in flow has purpose check-in (the caps count it apart)", where, c.Flow, f.Purpose)
		}
		if len(c.Every) == 0 {
			l.errorf(pr.File, pl, "%s: checkins.every names no tier (low, medium, high)", where)
		}
		for _, tier := range sortedKeys(c.Every) {
			if tier != "low" && tier != "medium" && tier != "high" {
				l.errorf(pr.File, pl, "%s: checkins.every: %q is not low, medium or high (acute has no check-ins: a person has the patient)", where, tier)
			}
			if d := c.Every[tier]; time.Duration(d) < 24*time.Hour {
				l.errorf(pr.File, pl, "%s: checkins.every.%s is %v: at least 1d", where, tier, time.Duration(d))
			}
		}
	}
	l.caps(pr, pl, where)
}

// caps checks a program's caps: a daily cap of at least one, and under the
// FCC caps a purpose on every flow the program starts, since those caps
// count starts per purpose.
func (l *linter) caps(pr *Program, line int, where string) {
	if n := pr.Caps.Day(); n < 1 {
		l.errorf(pr.File, line, "%s: caps.per_day is %d: it must be at least 1 (leave it out for %d)", where, n, DefaultPerDay)
	}
	if !pr.Caps.FCC {
		return
	}
	for _, id := range pr.started() {
		if f := l.p.Flows[id]; f != nil && f.Purpose == "" {
			l.errorf(pr.File, line, "%s: caps.fcc counts starts per purpose, but flow %q has no purpose (add purpose: to %s; one of %s)", where, id, f.File, strings.Join(Purposes(), ", "))
		}
	}
}

// ---- words ----

func (l *linter) words() {
	p := l.p
	for _, lang := range p.Languages {
		if p.Words[lang] == nil {
			l.errorf(l.catalogFile(lang), 1, "language %s has a catalog but no words file (add locales/words/%s.yaml)", lang, lang)
		}
	}
	for _, lang := range sortedKeys(p.Words) {
		w := p.Words[lang]
		if w == nil {
			continue
		}
		file := w.File
		if file == "" {
			file = "locales/words/" + lang + ".yaml"
		}
		if !p.HasLanguage(lang) {
			l.errorf(file, 1, "words for %s but no catalog (add locales/catalog/%s.yaml or remove the words file)", lang, lang)
		}
		for _, list := range []struct {
			name  string
			words []string
		}{{"stop", w.Stop}, {"start", w.Start}, {"help", w.Help}, {"human", w.Human}} {
			if len(list.words) == 0 {
				l.errorf(file, 1, "%s: the %s list is empty; every language needs %s words", lang, list.name, list.name)
			}
		}
		for _, msg := range readings.CheckWords(w) {
			l.errorf(file, 1, "%s: readings: %s", lang, msg)
		}
		l.language(w, file)
	}
	l.uniqueNames()
}

// language checks what lets a patient find and a clinic judge a language:
// its own name, the LANGUAGES words and its review record.
func (l *linter) language(w *locales.Words, file string) {
	lang := w.Language
	if w.Autonym == "" {
		l.errorf(file, 1, "%s: no autonym (the language's name in its own script, listed by LANGUAGES)", lang)
	}
	if len(w.Languages) == 0 {
		l.errorf(file, 1, "%s: the languages list is empty; every language needs a word that lists the languages (LANGUAGES)", lang)
	}
	r := w.Review
	switch {
	case !slices.Contains(locales.ReviewStatuses(), r.Status):
		l.errorf(file, 1, "%s: review.status %q: want one of %s", lang, r.Status, strings.Join(locales.ReviewStatuses(), ", "))
	case r.By == "":
		l.errorf(file, 1, "%s: review.by is empty: say who wrote or reviewed the language", lang)
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
		l.errorf(file, 1, "%s: review.date %q: want YYYY-MM-DD", lang, r.Date)
	}
}

// uniqueNames refuses a language name two languages claim: the switch
// would depend on map order.
func (l *linter) uniqueNames() {
	owner := map[string]string{}
	for _, lang := range sortedKeys(l.p.Words) {
		w := l.p.Words[lang]
		for _, n := range w.Names {
			if prev, ok := owner[n]; ok && prev != lang {
				l.errorf(w.File, 1, "%s: name %q also switches to %s; a name may belong to one language", lang, n, prev)
			}
			owner[n] = lang
		}
	}
}

// ---- messages ----

// catalogFile is the catalog file of lang, for problems with no better place.
func (l *linter) catalogFile(lang string) string {
	if l.p.Catalog != nil {
		msgs := l.p.Catalog.Messages[lang]
		for _, id := range sortedKeys(msgs) {
			if m := msgs[id]; m != nil && m.File != "" {
				return m.File
			}
		}
	}
	return "locales/catalog/" + lang + ".yaml"
}

// unreadable reports whether lang's catalog file could not be parsed (the
// loader reported why): its messages are not reported missing one by one.
func (l *linter) unreadable(lang string) bool {
	msgs, ok := l.p.Catalog.Messages[lang]
	return ok && msgs == nil
}

func (l *linter) message(lang, id string) *locales.Message {
	return l.p.Catalog.Messages[lang][id]
}

// allMessageIDs lists every id any language has, sorted.
func (l *linter) allMessageIDs() []string {
	set := map[string]bool{}
	for _, msgs := range l.p.Catalog.Messages {
		for id := range msgs {
			set[id] = true
		}
	}
	return sortedKeys(set)
}

// base returns the message id in the first language (default first) that
// has it, the one every other language is compared with.
func (l *linter) base(id string) (string, *locales.Message) {
	for _, lang := range l.p.Languages {
		if m := l.message(lang, id); m != nil {
			return lang, m
		}
	}
	return "", nil
}

func (l *linter) messages() {
	p := l.p
	referenced := map[string]bool{}
	for _, r := range l.refs {
		referenced[r.id] = true
		for _, lang := range p.Languages {
			if l.message(lang, r.id) == nil && !l.unreadable(lang) {
				l.errorf(r.file, r.line, "%s: message %q is missing in %s (add it to %s)", r.what, r.id, lang, l.catalogFile(lang))
			}
		}
	}
	for _, id := range slices.Concat(EngineMessages(), ChannelMessages()) {
		if referenced[id] {
			continue
		}
		referenced[id] = true
		baseLang, bm := l.base(id)
		for _, lang := range p.Languages {
			if l.message(lang, id) != nil || l.unreadable(lang) {
				continue
			}
			if bm != nil {
				l.errorf(bm.File, bm.Line, "engine message %q is in %s but missing in %s (add it to %s)", id, baseLang, lang, l.catalogFile(lang))
			} else {
				l.errorf(l.catalogFile(lang), 1, "engine message %q is missing in %s: the engine sends it", id, lang)
			}
		}
	}

	known := map[string]bool{}
	for _, ph := range Placeholders() {
		known[ph] = true
	}
	for _, id := range l.allMessageIDs() {
		known := known
		if extra := callPlaceholders[id]; extra != nil {
			known = maps.Clone(known)
			for _, ph := range extra {
				known[ph] = true
			}
		}
		baseLang, bm := l.base(id)
		for _, lang := range p.Languages {
			m := l.message(lang, id)
			if m == nil {
				if !referenced[id] && bm != nil && !l.unreadable(lang) {
					l.errorf(bm.File, bm.Line, "message %q is in %s but missing in %s (add it to %s)", id, baseLang, lang, l.catalogFile(lang))
				}
				continue
			}
			for _, form := range sortedKeys(m.Forms) {
				if strings.TrimSpace(m.Forms[form]) == "" {
					l.errorf(m.File, m.Line, "%s: message %q has empty text (form %s)", lang, id, form)
				}
			}
			for _, ph := range m.Placeholders() {
				if !known[ph] {
					l.errorf(m.File, m.Line, "%s: message %q uses unknown placeholder {{.%s}} (known: %s)", lang, id, ph, strings.Join(Placeholders(), ", "))
				}
			}
			if m == bm {
				continue
			}
			if got, want := m.Placeholders(), bm.Placeholders(); !slices.Equal(got, want) {
				l.errorf(m.File, m.Line, "%s: message %q uses placeholders %s but %s uses %s; every language must use the same placeholders", lang, id, phList(got), baseLang, phList(want))
			}
			switch {
			case m.Plural() && !bm.Plural():
				l.errorf(m.File, m.Line, "%s: message %q has plural forms but in %s it is a plain string; make both plural or both plain", lang, id, baseLang)
			case !m.Plural() && bm.Plural():
				l.errorf(m.File, m.Line, "%s: message %q is a plain string but in %s it has plural forms; spell out the plural forms %s needs", lang, id, baseLang, lang)
			}
		}
	}
	// Languages that are in the catalog map but not in Languages cannot
	// happen (Languages comes from the catalog), so nothing more to check.
}

// promise warns when the HELP answer does not render the daily cap: CTIA
// asks it to state the message frequency, and {{.PerDay}} keeps that
// number the one the Runner enforces (caps.per_day).
func (l *linter) promise() {
	for _, lang := range l.p.Languages {
		if m := l.message(lang, MsgHelp); m != nil && !slices.Contains(m.Placeholders(), "PerDay") {
			l.warnf(m.File, m.Line, "%s: message %q does not say {{.PerDay}}: the frequency HELP promises must be the program's caps.per_day", lang, MsgHelp)
		}
	}
}

// placeholderParams are the placeholders a flow's parameters fill, and
// the parameters that fill each: a message that uses one needs the flow
// to declare one of them, or it would read an empty value (or, for
// {{.Medication}}, always the generic word).
var placeholderParams = map[string][]string{
	"Medication": {ParamMedication},
	"Date":       {ParamDate, ParamAppointment},
	"Time":       {ParamTime, ParamAppointment},
}

// paramsUsed checks that every message a flow sends uses only the
// parameters the flow declares.
func (l *linter) paramsUsed() {
	seen := map[string]bool{}
	for _, r := range l.refs {
		f := l.p.Flows[r.flow]
		if f == nil {
			continue
		}
		_, bm := l.base(r.id)
		if bm == nil {
			continue
		}
		for _, ph := range bm.Placeholders() {
			need := placeholderParams[ph]
			if need == nil || slices.ContainsFunc(need, func(n string) bool { _, ok := f.Params.Get(n); return ok }) {
				continue
			}
			if key := r.flow + "|" + r.id + "|" + ph; !seen[key] {
				seen[key] = true
				l.errorf(r.file, r.line, "%s: message %q uses {{.%s}}, but flow %q declares no %s parameter (add it to params)", r.what, r.id, ph, f.ID, strings.Join(need, " or "))
			}
		}
	}
}

func phList(ph []string) string {
	if len(ph) == 0 {
		return "none"
	}
	out := make([]string, len(ph))
	for i, p := range ph {
		out[i] = "{{." + p + "}}"
	}
	return strings.Join(out, " ")
}

// ---- plural forms ----

// plurals renders every plural message with counts that reach every CLDR
// form, so that go-i18n's own rules say which forms each language needs.
func (l *linter) plurals() {
	for _, lang := range l.p.Languages {
		msgs := l.p.Catalog.Messages[lang]
		for _, id := range sortedKeys(msgs) {
			m := msgs[id]
			if m == nil || !m.Plural() {
				continue
			}
			var errs []string
			for _, count := range pluralProbes {
				data := l.sampleData(lang)
				data["Hours"] = count
				_, err := l.p.Catalog.Text(lang, id, data, count)
				if err == nil || errors.Is(err, locales.ErrMissing) {
					continue
				}
				e := fmt.Sprintf("count %v: %v", count, err)
				if !slices.ContainsFunc(errs, func(s string) bool { return strings.HasSuffix(s, err.Error()) }) {
					errs = append(errs, e)
				}
			}
			if len(errs) > 0 {
				l.errorf(m.File, m.Line, "%s: plural message %q is missing a form the CLDR plural rules of %s need (has %s): %s",
					lang, id, lang, strings.Join(formsOf(m), ", "), strings.Join(errs, "; "))
			}
		}
	}
}

func formsOf(m *locales.Message) []string {
	var out []string
	for _, f := range locales.PluralForms {
		if _, ok := m.Forms[f]; ok {
			out = append(out, f)
		}
	}
	return out
}

// ---- SMS length ----

// sampleData returns worst-case placeholder values for lang, a fresh map
// the caller may change.
func (l *linter) sampleData(lang string) map[string]any {
	if l.samples == nil {
		l.samples = map[string]map[string]any{}
	}
	base, ok := l.samples[lang]
	if !ok {
		base = make(map[string]any, len(smsSamples)+1)
		for k, v := range smsSamples {
			base[k] = v
		}
		base["Program"] = l.programName(lang)
		base["PerDay"] = l.maxPerDay()
		base["Languages"] = l.p.LanguageList
		l.samples[lang] = base
	}
	data := make(map[string]any, len(base))
	for k, v := range base {
		data[k] = v
	}
	return data
}

// maxPerDay is the largest daily cap of the pack's programs: the longest
// number a promise renders.
func (l *linter) maxPerDay() int {
	n := DefaultPerDay
	for _, pr := range l.p.Programs {
		if pr != nil {
			n = max(n, pr.Caps.Day())
		}
	}
	return n
}

// programName is the longest program name in lang.
func (l *linter) programName(lang string) string {
	name := "Tend"
	for _, id := range sortedKeys(l.p.Programs) {
		pr := l.p.Programs[id]
		if pr == nil || pr.Name == "" || l.message(lang, pr.Name) == nil {
			continue
		}
		text, err := l.p.Catalog.Text(lang, pr.Name, smsSamples, nil)
		if err == nil && utf8.RuneCountInString(text) > utf8.RuneCountInString(name) {
			name = text
		}
	}
	return name
}

type prompt struct {
	flow  *Flow
	state *State
}

// sms measures every message in every language as the SMS channel sends
// it: a state's prompt with its numbered choices, any other message alone.
func (l *linter) sms() {
	prompts := map[string][]prompt{}
	for _, fid := range sortedKeys(l.p.Flows) {
		f := l.p.Flows[fid]
		for _, sid := range sortedKeys(f.States) {
			if s := f.States[sid]; s != nil && s.Say != "" {
				prompts[s.Say] = append(prompts[s.Say], prompt{f, s})
			}
		}
	}
	// A message a lesson sends may take two segments, no more.
	limit := map[string]int{}
	for _, r := range l.refs {
		if f := l.p.Flows[r.flow]; f != nil && f.IsLesson() {
			limit[r.id] = lessonSegments
		}
	}
	for _, lang := range l.p.Languages {
		data := l.sampleData(lang)
		msgs := l.p.Catalog.Messages[lang]
		for _, id := range sortedKeys(msgs) {
			m := msgs[id]
			if m == nil || strings.HasPrefix(id, "voice.") || strings.HasPrefix(id, "telegram.") || strings.HasSuffix(id, ".voice") {
				continue
			}
			texts, ok := l.render(m, lang, id, data)
			if !ok {
				continue
			}
			max := smsErrorSegments
			if n, ok := limit[id]; ok {
				max = n
			}
			if len(prompts[id]) == 0 {
				l.checkSMS(m, lang, fmt.Sprintf("message %q", id), texts, max)
				continue
			}
			for _, pr := range prompts[id] {
				var choices strings.Builder
				n := 0
				for _, c := range pr.state.Choices {
					if c == nil {
						continue
					}
					n++
					label := c.Label
					if t, err := l.p.Catalog.Text(lang, c.Label, data, nil); err == nil {
						label = t
					}
					fmt.Fprintf(&choices, "\n%d %s", n, label)
				}
				full := make([]string, len(texts))
				for i, t := range texts {
					full[i] = t + choices.String()
				}
				what := fmt.Sprintf("message %q as flow %q state %q sends it", id, pr.flow.ID, pr.state.ID)
				if n > 0 {
					what = fmt.Sprintf("message %q with its %d choices as flow %q state %q sends it", id, n, pr.flow.ID, pr.state.ID)
				}
				if pr.flow.IsLesson() {
					max = lessonSegments
				}
				l.checkSMS(m, lang, what, full, max)
			}
		}
	}
}

// render returns the texts a message can take in lang: one for a plain
// message, one per realistic count for a plural one. A message that does not
// render is reported here when no other check reports it.
func (l *linter) render(m *locales.Message, lang, id string, data map[string]any) ([]string, bool) {
	if !m.Plural() {
		text, err := l.p.Catalog.Text(lang, id, data, nil)
		if err != nil {
			if !errors.Is(err, locales.ErrMissing) {
				l.errorf(m.File, m.Line, "%s: message %q does not render: %v", lang, id, err)
			}
			return nil, false
		}
		return []string{text}, true
	}
	var texts []string
	for _, n := range smsCounts {
		d := l.sampleData(lang)
		d["Hours"] = n
		text, err := l.p.Catalog.Text(lang, id, d, n)
		if err != nil { // missing forms are reported by plurals
			continue
		}
		texts = append(texts, text)
	}
	return texts, len(texts) > 0
}

// checkSMS reports the longest of texts when it needs more than one
// segment: a warning, or an error above max segments.
func (l *linter) checkSMS(m *locales.Message, lang, what string, texts []string, limit int) {
	worst, worstN, worstUCS2 := "", 0, false
	for _, t := range texts {
		n, ucs2 := locales.Segments(t)
		if n > worstN || (n == worstN && utf8.RuneCountInString(t) > utf8.RuneCountInString(worst)) {
			worst, worstN, worstUCS2 = t, n, ucs2
		}
	}
	l.segments[lang] = max(l.segments[lang], worstN)
	if worstN <= smsWarnSegments || (worstN <= limit && l.ucs2Script(lang)) {
		return
	}
	enc := "GSM-7"
	if worstUCS2 {
		enc = "UCS-2"
	}
	head := fmt.Sprintf("%s: %d SMS segments (%s, %d chars) for %s", lang, worstN, enc, utf8.RuneCountInString(worst), what)
	if worstUCS2 {
		head += fmt.Sprintf("; UCS-2 because of %s", nonGSM(worst))
	}
	if worstN > limit {
		if l.lessonMessage(m.ID) {
			l.errorf(m.File, m.Line, "%s; a lesson's message may take at most %d segments: shorten it or split it in two states", head, limit)
			return
		}
		l.errorf(m.File, m.Line, "%s; an SMS may take at most %d segments: shorten it", head, limit)
		return
	}
	l.warnf(m.File, m.Line, "%s; keep it to %d segment: shorten it", head, smsWarnSegments)
}

// rtl checks the messages of right-to-left languages (Arabic, Hebrew,
// Persian, Urdu): a phone lays out a message by its first strong
// character, so one that starts with a number, a placeholder or "STOP"
// shows right-to-left text in left-to-right order. Each must start with a
// letter of its script or a right-to-left mark (U+200F).
func (l *linter) rtl() {
	for _, lang := range l.p.Languages {
		w := l.p.Words[lang]
		if w == nil || !rightToLeft(w.Autonym) {
			continue
		}
		msgs := l.p.Catalog.Messages[lang]
		for _, id := range sortedKeys(msgs) {
			m := msgs[id]
			for _, form := range sortedKeys(m.Forms) {
				if text := m.Forms[form]; !rightToLeft(text) {
					l.errorf(m.File, m.Line, "%s: message %q (%s) starts left to right (%q); start it with a word of the language or U+200F (right-to-left mark)", lang, id, form, firstRunes(text, 12))
				}
			}
		}
	}
}

// rightToLeft reports whether text opens with a right-to-left mark or a
// letter of a right-to-left script, skipping spaces and punctuation.
func rightToLeft(text string) bool {
	for _, r := range text {
		switch {
		case r == '\u200F' || r == '\u061C':
			return true
		case unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko):
			return unicode.IsLetter(r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '{':
			return false
		}
	}
	return false
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// lessonMessage reports whether a lesson sends message id.
func (l *linter) lessonMessage(id string) bool {
	for _, r := range l.refs {
		if f := l.p.Flows[r.flow]; r.id == id && f != nil && f.IsLesson() {
			return true
		}
	}
	return false
}

// ucs2Script reports whether most of lang's messages need UCS-2 anyway (中文,
// Русский, Tiếng Việt): they take two segments from 70 characters, so a
// warning above one segment would flag nearly every message; the error
// above two still holds. French or Portuguese, whose accents make only some
// messages UCS-2, keep the warning.
func (l *linter) ucs2Script(lang string) bool {
	if v, ok := l.ucs2[lang]; ok {
		return v
	}
	n, ucs2 := 0, 0
	for _, m := range l.p.Catalog.Messages[lang] {
		for _, text := range m.Forms {
			n++
			if _, u := locales.Segments(text); u {
				ucs2++
			}
		}
	}
	v := n > 0 && ucs2*10 >= n*8
	l.ucs2[lang] = v
	return v
}

// nonGSM names the first characters of text that force UCS-2.
func nonGSM(text string) string {
	var out []string
	seen := map[rune]bool{}
	for _, r := range text {
		if seen[r] {
			continue
		}
		seen[r] = true
		if _, ucs2 := locales.Segments(string(r)); ucs2 {
			out = append(out, fmt.Sprintf("%q", r))
			if len(out) == 5 {
				break
			}
		}
	}
	if len(out) == 0 {
		return "its characters"
	}
	return strings.Join(out, " ")
}

// ---- channels ----

// audio checks a language's recordings: a folder must stay inside the pack
// and hold every file, or calls say the messages it lacks with <Say>
// (which, for a language without a voice, Twilio may not speak).
func (l *linter) audio(lang string, v Voice) {
	if v.Audio == "" {
		return
	}
	a := l.p.Audio[lang]
	if a == nil {
		return
	}
	if a.Folder && (strings.HasPrefix(a.Base, "../") || a.Base == ".." || strings.HasPrefix(a.Base, "/")) {
		l.errorf(ChannelsFile, 1, "voice: %s: audio %q must be a folder inside the pack or an https URL", lang, v.Audio)
		return
	}
	if missing := a.Missing(); len(missing) > 0 {
		l.warnf(ChannelsFile, 1, "voice: %s: %d of %d recordings missing from %s (first: %s): calls say those messages with <Say>; tend content audio %s lists them",
			lang, len(missing), len(a.Recordings()), a.Base, missing[0], lang)
	}
}

// channels checks channels.yaml: voices name bundled languages, templates
// map known messages with known placeholders, and every message a flow
// sends on its own initiative (not as an answer) has a WhatsApp template,
// or it cannot reach a WhatsApp patient outside the 24-hour window.
func (l *linter) channels() {
	p := l.p
	for _, lang := range sortedKeys(p.Voice) {
		v := p.Voice[lang]
		if !p.HasLanguage(lang) {
			l.errorf(ChannelsFile, 1, "voice: language %q is not bundled (languages: %s)", lang, strings.Join(p.Languages, ", "))
		}
		if v.Language == "" && v.Audio == "" {
			l.errorf(ChannelsFile, 1, "voice: %s has no language (a Twilio <Say> language such as en-US) and no audio (recordings)", lang)
		}
		l.audio(lang, v)
	}
	for _, lang := range p.Languages {
		if _, ok := p.Voice[lang]; !ok && len(p.Voice) > 0 {
			l.warnf(ChannelsFile, 1, "voice: no voice or recordings for %s: calls say %s with Twilio's default voice, which may not speak it; set a voice, or record it (tend content audio %s) and set voice.%s.audio", lang, lang, lang, lang)
		}
	}
	for n, sid := range p.WhatsApp.QuickReply {
		if n < 1 || n > 3 || sid == "" {
			l.errorf(ChannelsFile, 1, "whatsapp.quick_reply: %d: WhatsApp quick replies take 1 to 3 buttons, each with a content sid", n)
		}
	}
	known := map[string]bool{}
	for _, ph := range Placeholders() {
		known[ph] = true
	}
	for _, id := range sortedKeys(p.WhatsApp.Templates) {
		for _, lang := range sortedKeys(p.WhatsApp.Templates[id]) {
			t := p.WhatsApp.Templates[id][lang]
			where := fmt.Sprintf("whatsapp template for %q in %s", id, lang)
			switch {
			case l.message(lang, id) == nil:
				l.errorf(t.File, t.Line, "%s: no such message in %s", where, l.catalogFile(lang))
			case t.Sid == "":
				l.errorf(t.File, t.Line, "%s: no sid (the approved template's ContentSid, HX...)", where)
			}
			var uses []string
			if m := l.message(lang, id); m != nil {
				uses = m.Placeholders()
			}
			for _, v := range t.Variables {
				switch {
				case !known[v]:
					l.errorf(t.File, t.Line, "%s: unknown variable %q (known: %s)", where, v, strings.Join(Placeholders(), ", "))
				case !slices.Contains(uses, v):
					l.errorf(t.File, t.Line, "%s: variable %q is not a placeholder of the message (it uses %s)", where, v, phList(uses))
				}
			}
		}
	}
	for _, m := range l.businessInitiated() {
		var missing []string
		for _, lang := range p.Languages {
			if _, ok := p.Template(m.id, lang); !ok {
				missing = append(missing, lang)
			}
		}
		if len(missing) > 0 {
			l.warnf(m.file, m.line, "%s sends %q without a patient's message, and it has no WhatsApp template in %s (%s): outside the 24-hour window it goes on the patient's next channel", m.what, m.id, strings.Join(missing, ", "), ChannelsFile)
		}
	}
}

// businessInitiated lists the messages flows send on their own initiative:
// on starting (programs start them from timers) and on a timeout. Messages
// sent after a patient's answer are inside the window.
func (l *linter) businessInitiated() []msgRef {
	var out []msgRef
	seen := map[string]bool{}
	for _, fid := range sortedKeys(l.p.Flows) {
		f := l.p.Flows[fid]
		var walk func(sid string, depth int)
		walk = func(sid string, depth int) {
			st := f.States[sid]
			key := fid + "/" + sid
			if st == nil || seen[key] || depth > 32 {
				return
			}
			seen[key] = true
			add := func(id string, line int) {
				out = append(out, msgRef{id: id, file: f.File, line: firstLine(line, st.Line), what: fmt.Sprintf("flow %q state %q", fid, sid)})
			}
			for _, a := range st.Do {
				if a.Say != "" {
					add(a.Say, a.Line)
				}
			}
			if st.Say != "" {
				add(st.Say, st.Line)
			}
			if len(st.Choices) == 0 && st.Timeout == nil && st.Next != "" {
				walk(st.Next, depth+1)
			}
			if st.Timeout != nil {
				for _, a := range st.Timeout.Do {
					if a.Say != "" {
						add(a.Say, a.Line)
					}
				}
				if st.Timeout.Next != "" {
					walk(st.Timeout.Next, depth+1)
				}
			}
		}
		walk(f.Start, 0)
	}
	return out
}

// ---- emergency lexicons ----

// safety checks each language's emergency lexicon: every concept described,
// no empty entry, answers to the safety question, a way to read glucose
// numbers, and no answer a patient gives in a flow that the detector would
// read as an emergency or a question.
func (l *linter) safety() {
	p := l.p
	for _, lang := range p.Languages {
		lex := p.Safety[lang]
		if lex == nil {
			l.errorf(l.catalogFile(lang), 1, "language %s has no emergency lexicon (add locales/safety/%s.yaml)", lang, lang)
			continue
		}
		f := lex.File
		for _, id := range locales.Concepts() {
			c := lex.Concept(id)
			if c == nil || len(c.Match) == 0 {
				l.errorf(f, lex.Line["concepts"], "%s: concept %s has no match patterns; every language must describe every concept (%s)", lang, id, strings.Join(locales.Concepts(), ", "))
				continue
			}
			for _, list := range []locales.Entries{c.Match, c.Ask} {
				l.noEmpty(lang, f, "concept "+id, list)
			}
		}
		for id, c := range lex.Concepts {
			if !slices.Contains(locales.Concepts(), id) {
				l.errorf(f, c.Line, "%s: unknown concept %q (known: %s)", lang, id, strings.Join(locales.Concepts(), ", "))
			}
		}
		for name, g := range lex.Groups {
			if len(g) == 0 {
				l.errorf(f, lex.Line["groups"], "%s: group %s is empty", lang, name)
			}
			l.noEmpty(lang, f, "group "+name, g)
		}
		for _, list := range []struct {
			name string
			es   locales.Entries
		}{{"negation", lex.Negation}, {"yes", lex.Yes}, {"no", lex.No}} {
			if len(list.es) == 0 {
				l.errorf(f, max(lex.Line[list.name], 1), "%s: the %s list of the emergency lexicon is empty", lang, list.name)
			}
		}
		for _, list := range []locales.Entries{lex.Negation, lex.Negative, lex.Breaks, lex.Hedges, lex.Resolved, lex.Ignore, lex.NotTypos, lex.Yes, lex.No} {
			l.noEmpty(lang, f, "list", list)
		}
		if lex.Glucose.Context.Text == "" || lex.Glucose.Symptoms.Text == "" {
			l.errorf(f, max(lex.Line["glucose"], 1), "%s: glucose needs a context term (the words for blood sugar) and a symptoms term", lang)
		}
		l.answersNotAlarms(lang, f, lex)
	}
}

func (l *linter) noEmpty(lang, file, what string, es locales.Entries) {
	for _, e := range es {
		if strings.TrimSpace(e.Text) == "" || locales.Normalize(strings.TrimSuffix(e.Text, "*")) == "" {
			l.errorf(file, e.Line, "%s: %s has an empty entry", lang, what)
		}
	}
}

// answersNotAlarms refuses a lexicon that reads one of the language's
// ordinary answers (yes, no, a choice's words or label) as a sign of
// danger: "1", "yes" or "I took it" must never page a nurse or be met with
// a safety question.
func (l *linter) answersNotAlarms(lang, file string, lex *locales.Lexicon) {
	p := l.p
	if p.Detector == nil {
		return
	}
	var answers []string
	if w := p.Words[lang]; w != nil {
		answers = append(answers, w.Yes...)
		for _, class := range sortedKeys(w.Answers) {
			answers = append(answers, w.Answers[class]...)
		}
	}
	answers = append(answers, lex.Yes.Texts()...)
	answers = append(answers, lex.No.Texts()...)
	if p.Catalog != nil {
		for _, fid := range sortedKeys(p.Flows) {
			for _, sid := range sortedKeys(p.Flows[fid].States) {
				for _, c := range p.Flows[fid].States[sid].Choices {
					if label, err := p.Catalog.Text(lang, c.Label, nil, nil); err == nil {
						answers = append(answers, label)
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, a := range answers {
		if seen[a] {
			continue
		}
		seen[a] = true
		if f := p.Detector.Detect(a, locales.Normalize(a)); f.Level != locales.LevelNone {
			l.errorf(file, max(lex.Line["concepts"], 1), "%s: the answer %q is read as %s (%s): an ordinary answer must not be; narrow the concept's patterns", lang, a, f.Concept, f.Level)
		}
	}
}

func readingKinds() []string {
	out := make([]string, len(readings.Kinds))
	for i, k := range readings.Kinds {
		out[i] = string(k)
	}
	return out
}
