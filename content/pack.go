package content

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"

	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/risk"
)

// Priorities of flows, highest first. A start of a higher-priority flow
// interrupts a flow waiting for a reply; any other start waits in the queue.
const (
	PrioritySafety    = "safety"
	PriorityReminder  = "reminder"
	PriorityEducation = "education"
)

// End is the pseudo-state a transition names to finish its flow.
const End = "end"

// Pack is a loaded, linted content pack: programs, flows, message catalogs and
// answer words for every bundled language.
type Pack struct {
	Programs  map[string]*Program
	Flows     map[string]*Flow
	Languages []string // bundled languages, the first is the default
	Catalog   *locales.Catalog
	Words     map[string]*locales.Words // by language
	// Safety is each language's emergency lexicon: the pack's own
	// (locales/safety/<lang>.yaml) or, for a language it does not
	// describe, the bundled one, so that no pack can switch the safety net
	// off by leaving a file out. Detector is all of them compiled.
	Safety   map[string]*locales.Lexicon
	Detector *locales.Detector
	// Voice is how calls speak each language (channels.yaml).
	Voice map[string]Voice
	// Audio is the recorded audio of each language whose voice names
	// one (Voice.Audio).
	Audio map[string]*Audio
	// WhatsApp maps messages to pre-approved templates (channels.yaml).
	WhatsApp WhatsApp
	// Risk is the risk points table (risk.yaml): the pack's own, or the
	// bundled one when the pack has none.
	Risk *risk.Table
	// Rules classify home readings (rules/*.yaml, rules.go).
	Rules []*RuleSet
	// Medications are the classes adherence is measured by
	// (medications.yaml).
	Medications Medications
	// LanguageList is every bundled language's own name, one a line, in
	// the order of Languages: the {{.Languages}} of the LANGUAGES reply.
	LanguageList string

	matcher  language.Matcher // of Languages, built by Load
	segments map[string]int   // by language, the most SMS segments a message takes (Lint)
}

// Voice is how calls speak one language: Twilio <Say> voice and language
// attributes, or recordings where no voice speaks it.
type Voice struct {
	Voice    string `yaml:"voice"`    // e.g. Polly.Joanna-Neural
	Language string `yaml:"language"` // e.g. en-US
	// Audio is where the language's recordings are: a folder of the pack
	// (audio/ht), which Tend serves, or an https URL prefix. Calls then
	// <Play> them instead of <Say>; see Audio.
	Audio string `yaml:"audio"`
}

// WhatsApp holds the templates WhatsApp requires outside the 24-hour
// customer-service window, and the quick-reply contents used inside it.
type WhatsApp struct {
	// QuickReply maps a number of buttons (1-3) to a Twilio content
	// (twilio/quick-reply) whose body is {{1}}, whose button titles are
	// {{2}}.. and whose button ids are the titles' following variables.
	// Without one, choices go as numbered lines.
	QuickReply map[int]string `yaml:"quick_reply"`
	// Templates maps a message id and a language to an approved template.
	Templates map[string]map[string]Template `yaml:"templates"`
}

// Template is an approved WhatsApp template (Twilio ContentSid) and the
// placeholders that fill its variables, in order: Variables[0] is {{1}}.
type Template struct {
	Sid       string   `yaml:"sid"`
	Variables []string `yaml:"variables"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Template returns the template mapped to a message in a language.
func (p *Pack) Template(message, lang string) (Template, bool) {
	t, ok := p.WhatsApp.Templates[message][lang]
	return t, ok && t.Sid != ""
}

// Calls is a program's policy for reminder calls that were not answered.
type Calls struct {
	// Retries is how many more times a busy, unanswered or failed call is
	// placed (default 2; 0 places none); RetryAfter spaces them (default
	// 15m).
	Retries    *int     `yaml:"retries"`
	RetryAfter Duration `yaml:"retry_after"`
}

// Program says which flows a patient enrolled in it gets, and when.
type Program struct {
	ID string `yaml:"id"`
	// Name is the message id of the program's patient-facing name. It must
	// not name a diagnosis (minimum necessary).
	Name string `yaml:"name"`
	// Welcome is the flow started on enrollment.
	Welcome string `yaml:"welcome"`
	// Medications is the flow started at each medication time.
	Medications string `yaml:"medications"`
	// Refills starts a flow some days before a refill date.
	Refills *DateReminder `yaml:"refills"`
	// Appointments starts a flow some days before an appointment.
	Appointments *DateReminder `yaml:"appointments"`
	// Education flows start once, some days after enrollment.
	Education []Lesson `yaml:"education"`
	// Calls is the retry policy of reminder calls.
	Calls *Calls `yaml:"calls"`
	// Caps bound the conversations Tend starts for a patient; the welcome
	// and HELP texts promise Caps.Day() as {{.PerDay}}.
	Caps Caps `yaml:"caps"`
	// Checkins start a check-in flow at a cadence set by the patient's
	// risk tier, within Caps.
	Checkins *Checkins `yaml:"checkins"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// DefaultPerDay is the daily cap of a program that sets none: the number
// the bundled welcome and HELP texts have always promised.
const DefaultPerDay = 4

// Caps is how often Tend may start a conversation with a patient of a
// program. Only starts count: replies, safety messages, keyword answers
// and a person's messages never do, nor the messages of a conversation
// after its first.
type Caps struct {
	// PerDay is the most conversations started in one local day (default
	// DefaultPerDay); lint refuses less than 1.
	PerDay *int `yaml:"per_day"`
	// FCC adds the FCC healthcare exemption's caps (RULES.md): at most one
	// start a day and three in seven days for each purpose.
	FCC bool `yaml:"fcc"`
}

// Day is the daily cap: PerDay, or DefaultPerDay when unset.
func (c Caps) Day() int {
	if c.PerDay == nil {
		return DefaultPerDay
	}
	return *c.PerDay
}

// FCC exemption caps per purpose (RULES.md).
const (
	FCCPerDay  = 1
	FCCPerWeek = 3
)

// Purposes a flow may give (Flow.Purpose): the FCC caps count each apart.
func Purposes() []string {
	return []string{"medication", "appointment", "refill", "education", "check-in"}
}

// StartTally prefixes the session tallies that count the conversations
// Tend started ("started:medication"); content tallies may not use it.
const StartTally = "started:"

// started lists the flows the program starts on a schedule (not the
// welcome, which answers the enrollment and is not capped), each once.
func (p *Program) started() []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	add(p.Medications)
	if p.Refills != nil {
		add(p.Refills.Flow)
	}
	if p.Appointments != nil {
		add(p.Appointments.Flow)
	}
	for _, e := range p.Education {
		add(e.Flow)
	}
	if p.Checkins != nil {
		add(p.Checkins.Flow)
	}
	return ids
}

// Checkins is a program's check-in cadence by risk tier: Flow starts at
// local time At, Every[tier] after the last one (low weekly, medium every
// few days, high daily by default). A tier it does not name gets no
// check-ins; acute never does (a person has the patient then). Starts go
// through the caps like any start Tend makes, so the FCC caps, when on,
// hold a daily cadence to three a week.
type Checkins struct {
	Flow  string              `yaml:"flow"`
	At    string              `yaml:"at"` // HH:MM local
	Every map[string]Duration `yaml:"every"`
}

// DateReminder starts Flow DaysBefore days before a date, at a local time.
type DateReminder struct {
	Flow       string `yaml:"flow"`
	DaysBefore int    `yaml:"days_before"`
	At         string `yaml:"at"` // HH:MM local
}

// Lesson starts an education flow Day days after enrollment at a local time.
type Lesson struct {
	Flow string `yaml:"flow"`
	Day  int    `yaml:"day"`
	At   string `yaml:"at"` // HH:MM local
}

// Flow is one conversation: a set of states, the first of which is Start.
type Flow struct {
	ID       string `yaml:"id"`
	Priority string `yaml:"priority"`
	// Purpose is what the flow is for (one of Purposes); the FCC caps
	// count starts per purpose.
	Purpose string            `yaml:"purpose"`
	Params  Params            `yaml:"params"` // parameters a start may give, each of a type (params.go)
	Start   string            `yaml:"start"`
	States  map[string]*State `yaml:"states"`
	// Source is the address (an http or https URL) of the text a lesson
	// paraphrases, and Licence the terms that allow it ("public domain
	// (U.S. government work)"). Lint requires both on every lesson flow
	// (IsLesson): health teaching patients act on must say where it comes
	// from, so that a clinician can check it and a clinic can show it may
	// use it. Neither is ever sent to a patient.
	Source  string `yaml:"source"`
	Licence string `yaml:"licence"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// IsLesson reports whether f teaches: its purpose is education, or one
// of its answers is a teach-back mark (quiz). Lessons are held to more
// than other flows (lint): a source and a licence, at most two SMS
// segments a message, at most a minute spoken before the patient can
// answer, and quiz questions that name states (a review starts there).
func (f *Flow) IsLesson() bool {
	if f.Purpose == PurposeEducation {
		return true
	}
	for _, s := range f.States {
		if s == nil {
			continue
		}
		for _, c := range s.Choices {
			if c != nil && slices.ContainsFunc(c.Do, func(a Action) bool { return a.Quiz != nil }) {
				return true
			}
		}
	}
	return false
}

// PurposeEducation is the purpose of lessons (Purposes).
const PurposeEducation = "education"

// State is a point in a flow. On entry it runs Do, then sends Say with the
// choices, and waits: for an answer matching a choice, or for Timeout. A
// state with no choices and no timeout ends the flow after its actions.
type State struct {
	Say     string    `yaml:"say"` // message id of the prompt; empty: wait silently
	Do      []Action  `yaml:"do"`
	Choices []*Choice `yaml:"choices"`
	Timeout *Timeout  `yaml:"timeout"`
	Next    string    `yaml:"next"` // for a state without choices: go on at once
	// Reading says the state asks for a home reading of this kind
	// (readings.Kind: blood_pressure, weight, glucose, spo2, heart_rate):
	// by SMS the patient types it ("150/95") and the engine reads it as
	// any typed reading; on a call the keypad takes it ("150*95#") and
	// reads it back for confirmation before it goes to the engine.
	Reading string `yaml:"reading"`

	ID   string `yaml:"-"`
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Choice is an accepted answer. The patient may reply with its number
// (1-based position), its label, or any word of its word classes.
type Choice struct {
	ID    string   `yaml:"id"`
	Label string   `yaml:"label"` // message id
	Words []string `yaml:"words"` // answer word classes from locales/words
	Do    []Action `yaml:"do"`
	Next  string   `yaml:"next"` // state id or "end"

	Line int `yaml:"-"`
}

// Timeout fires when no answer came in After.
type Timeout struct {
	After Duration `yaml:"after"`
	Do    []Action `yaml:"do"`
	Next  string   `yaml:"next"` // default: end

	Line int `yaml:"-"`
}

// Action is one effect; exactly one field is set.
type Action struct {
	Say       string    `yaml:"say,omitempty"`       // send a message id
	Adherence string    `yaml:"adherence,omitempty"` // taken | not_taken | not_yet | no_answer
	Quiz      *QuizMark `yaml:"quiz,omitempty"`
	Escalate  *Escalate `yaml:"escalate,omitempty"`
	Tally     *Tally    `yaml:"tally,omitempty"`
	Followup  *Followup `yaml:"followup,omitempty"`
	// Episode records a confirm flow's outcome for the episode waiting
	// on it (symptoms | no_symptoms | unanswered; rules.go).
	Episode string `yaml:"episode,omitempty"`
	// Lesson starts a lesson flow on cue (a rule's outcome, a tally):
	// "lesson: why-take-pills", or {flow: rule-of-15, urgent: true}.
	Lesson *LessonStart `yaml:"lesson,omitempty"`

	Line int `yaml:"-"`
}

// LessonStart is the lesson action: it starts a lesson flow now, or, when
// the patient already had a lesson in the last 24 hours, a day after it
// (at most one lesson a day: patients forget most of what they are told,
// and a second lesson buries the first). An urgent one (the rule of 15 on
// a low sugar) is a safety message: it is exempt from that limit and from
// quiet hours, and interrupts whatever waits for a reply.
type LessonStart struct {
	Flow   string `yaml:"flow"`
	Urgent bool   `yaml:"urgent"`
}

// UnmarshalYAML reads the short form ("lesson: why-take-pills") and the
// long one ({flow: ..., urgent: true}), refusing unknown keys in the
// latter as the rest of the pack does.
func (l *LessonStart) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Flow = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: lesson is a flow id or {flow, urgent}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "flow":
			l.Flow = v.Value
		case "urgent":
			if err := v.Decode(&l.Urgent); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: field %s not found in type content.LessonStart", k.Line, k.Value)
		}
	}
	return nil
}

// QuizMark records a teach-back answer.
type QuizMark struct {
	Question string `yaml:"question"`
	Correct  bool   `yaml:"correct"`
}

// Escalate opens a ticket for a human.
type Escalate struct {
	Priority string `yaml:"priority"` // low | medium | high | acute
	Reason   string `yaml:"reason"`
}

// Tally counts an occurrence under Name; when Reach occurrences fall within
// Within, it escalates (and the count starts again).
type Tally struct {
	Name     string    `yaml:"name"`
	Within   Duration  `yaml:"within"`
	Reach    int       `yaml:"reach"`
	Escalate *Escalate `yaml:"escalate"`
	// Do runs with the escalation when the tally is reached (two
	// reported missed doses start the "why take it" lesson).
	Do []Action `yaml:"do"`
}

// Followup starts another flow later.
type Followup struct {
	Flow  string   `yaml:"flow"`
	After Duration `yaml:"after"`
}

// Duration is a time.Duration written as Go duration text, with "d" for days
// ("30m", "2h", "7d").
type Duration time.Duration

// Choice returns the choice with the given id, or nil.
func (s *State) Choice(id string) *Choice {
	for _, c := range s.Choices {
		if c.ID == id {
			return c
		}
	}
	return nil
}
