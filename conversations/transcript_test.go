package conversations

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/internal/golden"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/readings"
)

// readingValue is a reading's value as the transcript shows it.
func readingValue(r *readings.Reading) string {
	if r.Kind == readings.BloodPressure {
		return fmt.Sprintf("%d/%d", r.Systolic, r.Diastolic)
	}
	return strconv.FormatFloat(r.Value, 'f', -1, 64)
}

// script is a conversation: "start FLOW [k=v...]", "> reply", "wait 30m".
type script struct {
	name  string
	steps []string
}

var scripts = []script{
	{"welcome", []string{"start welcome"}},
	{"med-reminder-taken", []string{"start med-reminder medication=lisinopril", "> 1"}},
	{"med-reminder-taken-words", []string{"start med-reminder medication=lisinopril", "> Yes!"}},
	{"med-reminder-not-yet-then-taken", []string{"start med-reminder medication=lisinopril", "> 2", "wait 30m", "> 1"}},
	{"med-reminder-not-yet-twice", []string{"start med-reminder medication=lisinopril", "> 2", "wait 30m", "> 2"}},
	{"med-reminder-no-reply", []string{"start med-reminder medication=lisinopril", "wait 2h"}},
	{"med-reminder-two-not-taken-in-7-days", []string{"start med-reminder medication=lisinopril", "> 2", "wait 30m", "> 2", "wait 23h",
		"start med-reminder medication=lisinopril", "> 2", "wait 30m", "> 2"}},
	// No answer is not a missed dose: two days of silence open no ticket.
	{"med-reminder-two-no-replies", []string{"start med-reminder medication=lisinopril", "wait 2h", "wait 22h",
		"start med-reminder medication=lisinopril", "wait 2h"}},
	{"med-reminder-problem", []string{"start med-reminder medication=lisinopril", "> 3"}},
	{"med-reminder-unknown-answers", []string{"start med-reminder medication=lisinopril", "> maybe", "> what", "> hmm"}},
	{"refill-ordered", []string{"start refill-reminder medication=lisinopril date=2026-03-10", "> 1"}},
	{"refill-help", []string{"start refill-reminder medication=lisinopril date=2026-03-10", "> 2"}},
	{"appointment-confirm", []string{"start appointment-reminder appointment=a1 date=2026-03-04 time=10:30", "> 1"}},
	{"appointment-change", []string{"start appointment-reminder appointment=a1 date=2026-03-04 time=10:30", "> 2"}},
	// Teach-back: each quiz answer is followed by the confidence question
	// (1 not sure … 5 very sure), which scores it.
	{"hf-daily-weight-right", []string{"start hf-daily-weight", "> 2", "> 5", "> 3", "> 4"}},
	{"hf-daily-weight-right-unsure", []string{"start hf-daily-weight", "> 2", "> 2", "> 3", "> 1"}},
	{"hf-daily-weight-wrong-then-right", []string{"start hf-daily-weight", "> 1", "> 2", "> 2", "> 5", "> 1", "> 1", "> 3", "> 4"}},
	{"hf-daily-weight-wrong-twice", []string{"start hf-daily-weight", "> 1", "> 1", "> 1", "> 2"}},
	{"hf-daily-weight-misconception", []string{"start hf-daily-weight", "> 2", "> 5", "> 2", "> very sure", "> 3", "> 5"}},
	{"hf-daily-weight-no-confidence", []string{"start hf-daily-weight", "> 2", "wait 25h"}},
	{"hf-daily-weight-review", []string{"start hf-daily-weight", "> 1", "> 2", "> 2", "> 5", "> 3", "> 5", "wait 2d", "> 2", "> 3", "wait 5d", "> 2", "> 4"}},
	{"hf-daily-weight-confidence-unknown", []string{"start hf-daily-weight", "> 2", "> what?", "> 4", "> 3", "> 5"}},
	{"keywords", []string{"> HELP", "> nurse", "> I have chest pain", "> STOP", "> hello", "start med-reminder medication=lisinopril",
		"> START", "> español", "> AYUDA", "> english", "> LANGUAGES", "> idiomas"}},
	{"queue-and-priority", []string{"start hf-daily-weight", "start med-reminder medication=lisinopril", "> 2", "> 3", "> 1"}},
	{"safety-ask-no", []string{"start med-reminder medication=lisinopril", "> no chest pain today", "> no", "> 1"}},
	{"safety-ask-yes", []string{"> I had chest pain yesterday", "> yes"}},
	{"safety-ask-timeout", []string{"> not short of breath", "wait 15m"}},
	{"safety-ask-timeout-not-serious", []string{"> my gums are bleeding", "wait 15m"}},
	{"safety-crisis", []string{"start med-reminder medication=lisinopril", "> i just want to end my life"}},
	{"safety-low-sugar", []string{"> SUGAR 48 and shaking", "> sugar 2.8 mmol", "> yes"}},
	{"reading-bp-crisis-confirmed", []string{"> BP 185/100", "> no", "wait 5m", "> 183/101"}},
	{"reading-bp-crisis-symptoms", []string{"device blood_pressure 185/100", "> yes"}},
	{"reading-bp-crisis-dismissed", []string{"start med-reminder medication=lisinopril", "device blood_pressure 190/100", "> 2", "> 132/84", "> 1"}},
	{"reading-bp-crisis-no-answer", []string{"device blood_pressure 150/125", "wait 15m"}},
	{"reading-weight-gain", []string{"> weight 80 kg", "wait 1d", "device weight 81.6", "> no", "wait 26h"}},
	{"reading-glucose-low", []string{"device glucose 50", "> no", "wait 10m", "> sugar 95"}},
	{"reading-glucose-high", []string{"device glucose 320", "> yes"}},
	{"reading-remeasure-bare-number", []string{"device glucose 50", "> no", "> 95"}},
	{"reading-spo2", []string{"device spo2 90", "> yes", "device spo2 83"}},
	{"reading-heart-rate", []string{"device heart_rate 130", "> no", "device heart_rate 80"}},
	{"reading-typed-problems", []string{"> BP 400/20", "> weight 120", "> weight 120 kg", "> peso 82,4 kg"}},
	{"safety-words", []string{"> NO PUEDO RESPIRAR", "> my face is drooping and i cant lift my left arm", "> siezure"}},
}

// driver runs scripts against the pure engine, as the runner would, and
// writes what the patient reads and what the care team sees.
type driver struct {
	t   *testing.T
	e   *Engine
	r   *Renderer
	p   enrollment.Patient
	s   Session
	now time.Time
	out Output
	b   strings.Builder
	// timers are the timers other than the flow's and the safety
	// question's (spaced reviews, deferred lessons), fired by "wait".
	timers map[string]time.Time
}

func newDriver(t *testing.T, e *Engine, lang string) *driver {
	loc, _ := time.LoadLocation("America/Chicago")
	return &driver{t: t, e: e, r: &Renderer{Pack: e.Pack, HelpContact: "+1 555 010 0100"},
		p: enrollment.Patient{ID: "p-1", Phone: "+13125550100", Language: lang, Timezone: "America/Chicago", Channel: "sms", Programs: []string{"heart-failure"},
			Medications: []enrollment.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}},
		s: Session{Lang: lang}, now: time.Date(2026, 3, 2, 9, 0, 0, 0, loc)}
}

func (d *driver) step(line string) {
	d.t.Helper()
	var in Input
	switch {
	case strings.HasPrefix(line, "> "):
		fmt.Fprintf(&d.b, "%s you: %s\n", d.now.Format("Mon 15:04"), line[2:])
		in = Input{Kind: Text, Text: line[2:], Channel: "sms"}
	case strings.HasPrefix(line, "device "):
		// device KIND VALUE: a reading from a device (the API).
		f := strings.Fields(line)
		r := readings.Reading{Kind: readings.Kind(f[1]), Source: readings.Device, At: d.now, Unit: readings.CanonicalUnit(readings.Kind(f[1]))}
		if sys, dia, ok := strings.Cut(f[2], "/"); ok {
			r.Systolic, _ = strconv.Atoi(sys)
			r.Diastolic, _ = strconv.Atoi(dia)
		} else {
			r.Value, _ = strconv.ParseFloat(f[2], 64)
		}
		in = Input{Kind: Reading, Reading: &r}
		fmt.Fprintf(&d.b, "%s -- %s\n", d.now.Format("Mon 15:04"), line)
	case strings.HasPrefix(line, "start "):
		f := strings.Fields(line)
		in = Input{Kind: Start, Flow: f[1]}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			in.Params = append(in.Params, Param{k, v})
		}
		fmt.Fprintf(&d.b, "%s -- %s\n", d.now.Format("Mon 15:04"), line)
	case strings.HasPrefix(line, "wait "):
		dur, err := content.ParseDuration(line[5:])
		if err != nil {
			d.t.Fatal(err)
		}
		end := d.now.Add(dur)
		if d.s.SafetyDue != 0 && d.s.SafetyDue <= end.Unix() {
			d.now = time.Unix(d.s.SafetyDue, 0).In(d.now.Location())
			fmt.Fprintf(&d.b, "%s -- no answer to the safety question (timer)\n", d.now.Format("Mon 15:04"))
			d.turn(Input{Kind: SafetyTimeout, Due: d.s.SafetyDue})
		}
		if d.s.TimerDue != 0 && d.s.TimerDue <= end.Unix() {
			d.now = time.Unix(d.s.TimerDue, 0).In(d.now.Location())
			fmt.Fprintf(&d.b, "%s -- no reply (timer)\n", d.now.Format("Mon 15:04"))
			d.turn(Input{Kind: Timeout, Due: d.s.TimerDue})
		}
		for {
			name, due := "", end
			for n, at := range d.timers {
				if !at.After(due) && (name == "" || at.Before(due) || at.Equal(due) && n < name) {
					name, due = n, at
				}
			}
			if name == "" {
				break
			}
			delete(d.timers, name)
			sc, ok := ParseTimer(name)
			if !ok {
				d.t.Fatalf("timer %q does not parse", name)
			}
			d.now = due.In(d.now.Location())
			fmt.Fprintf(&d.b, "%s -- timer %s\n", d.now.Format("Mon 15:04"), name)
			d.turn(Input{Kind: Start, Flow: sc.Flow, Params: sc.Params})
		}
		d.now = end
		return
	default:
		d.t.Fatalf("bad script line %q", line)
	}
	d.turn(in)
}

func (d *driver) turn(in Input) {
	d.t.Helper()
	if in.Conditions == nil {
		in.Conditions, in.Location = d.p.Programs, d.now.Location()
	}
	if err := d.e.Turn(&d.s, in, d.now, &d.out); err != nil {
		d.t.Fatalf("turn %+v: %v", in, err)
	}
	// Round-trip the session as the store would.
	data, _ := d.s.AppendBinary(nil)
	if err := d.e.DecodeSession(data, &d.s); err != nil {
		d.t.Fatal(err)
	}
	for i := range d.out.Effects {
		ef := &d.out.Effects[i]
		switch ef.Kind {
		case Send:
			text, err := d.r.Text(d.r.Lang(&d.s, &d.p), &d.p, ef)
			if err != nil {
				d.t.Errorf("render %s: %v", ef.Message, err)
			}
			flags := ""
			if !ef.Reply && !ef.Urgent {
				flags = " (scheduled)"
			}
			fmt.Fprintf(&d.b, "%s tend%s: %s\n", d.now.Format("Mon 15:04"), flags, strings.ReplaceAll(text, "\n", "\n      "))
		case Adherence:
			fmt.Fprintf(&d.b, "      [adherence %s %s]\n", ef.Medication, ef.Status)
		case Quiz:
			fmt.Fprintf(&d.b, "      [quiz %s %s correct=%v]\n", ef.Quiz, ef.Question, ef.Correct)
		case Lesson:
			if ef.Question == "" {
				fmt.Fprintf(&d.b, "      [lesson %s %s]\n", ef.Quiz, ef.Status)
			} else {
				fmt.Fprintf(&d.b, "      [lesson %s %s correct=%v confidence=%d: %s]\n", ef.Quiz, ef.Question, ef.Correct, ef.Confidence, ef.Status)
			}
		case SetTimer:
			if ef.Timer != FlowTimer && ef.Timer != SafetyTimer {
				if d.timers == nil {
					d.timers = map[string]time.Time{}
				}
				d.timers[ef.Timer] = ef.Due
				fmt.Fprintf(&d.b, "      [timer %s at %s]\n", ef.Timer, ef.Due.In(d.now.Location()).Format("Mon Jan 2 15:04"))
			}
		case CancelTimer:
			if ef.Timer != FlowTimer && ef.Timer != SafetyTimer {
				delete(d.timers, ef.Timer)
				fmt.Fprintf(&d.b, "      [timer %s cancelled]\n", ef.Timer)
			}
		case Escalate:
			fmt.Fprintf(&d.b, "      [escalation %s: %s]\n", ef.Priority, ef.Reason)
		case Consent:
			fmt.Fprintf(&d.b, "      [consent %s]\n", ef.Status)
		case Record:
			fmt.Fprintf(&d.b, "      [reading %s %s %s %s %s]\n", ef.Reading.Kind, readingValue(&ef.Reading), ef.Reading.Source, ef.Level, ef.Rule)
		case EpisodeChange:
			fmt.Fprintf(&d.b, "      [episode %s %s %s %s]\n", ef.Condition, ef.Status, ef.Rule, ef.Priority)
		case Language:
			fmt.Fprintf(&d.b, "      [language %s]\n", ef.Status)
		}
	}
}

func testEngine(t testing.TB) *Engine {
	t.Helper()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(pack)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTranscripts checks every default flow, in every bundled language,
// against golden transcripts in testdata/transcripts (go test -update).
func TestTranscripts(t *testing.T) {
	e := testEngine(t)
	for _, lang := range e.Pack.Languages {
		for _, sc := range scripts {
			t.Run(lang+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				d := newDriver(t, e, lang)
				for _, line := range sc.steps {
					d.step(line)
				}
				goldenFile := filepath.Join("testdata", "transcripts", lang, sc.name+".txt")
				golden.Compare(t, goldenFile, d.b.String())
			})
		}
	}
}
