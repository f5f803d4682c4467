package adherence

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/store"
)

// Dose outcomes, the Status of an adherence event.
const (
	Taken = "taken"
	// NotTaken: the patient reported the dose not taken (said "not yet"
	// twice). Only these count as missed doses.
	NotTaken = "not_taken"
	// NotYet: the patient put the dose off; the reminder asks again, and
	// the dose ends taken, not taken or unanswered.
	NotYet = "not_yet"
	// NoAnswer: the reminder reached the patient and nobody answered.
	NoAnswer = "no_answer"
	// Undelivered: the reminder never reached the patient (every send
	// failed, was cancelled as stale, or waited out the question).
	Undelivered = "undelivered"
	// Missed is what Tend recorded before it told the three apart; an old
	// missed event reads as a reported miss (NotTaken), as it was counted
	// then.
	Missed = "missed"
)

// Timeline event types this package reads.
const (
	EventAdherence = "adherence"
	EventDispense  = "dispense"
)

// Doses counts the outcomes of dose reminders. A dose put off (not yet)
// is counted by how it ended.
type Doses struct {
	Taken       int `json:"taken"`
	NotTaken    int `json:"not_taken"`
	NoAnswer    int `json:"no_answer"`
	Undelivered int `json:"undelivered"`
}

// Prompted is the reminders that reached the patient: every outcome but
// Undelivered.
func (d Doses) Prompted() int { return d.Taken + d.NotTaken + d.NoAnswer }

// Answered is the reminders the patient answered.
func (d Doses) Answered() int { return d.Taken + d.NotTaken }

// add counts one adherence event's status; it reports false for a status
// that is not a dose's outcome.
func (d *Doses) add(status string) bool {
	switch status {
	case Taken:
		d.Taken++
	case NotTaken, Missed:
		d.NotTaken++
	case NoAnswer:
		d.NoAnswer++
	case Undelivered:
		d.Undelivered++
	default:
		return false
	}
	return true
}

// CountDoses counts the dose outcomes of events at or after since and
// before until, by medication (the enrolled medication's id).
func CountDoses(events []store.Event, since, until time.Time) map[string]Doses {
	out := map[string]Doses{}
	for i := range events {
		e := &events[i]
		if e.Type != EventAdherence || e.At.Before(since) || !e.At.Before(until) {
			continue
		}
		d := out[e.Medication]
		if d.add(e.Status) {
			out[e.Medication] = d
		}
	}
	return out
}

// Classes says which class a medication counts in and the class's
// threshold (content.Medications); ok is false for a medication no class
// names, which is a class of its own.
type Classes interface {
	Class(medication string) (id string, threshold float64, ok bool)
}

// Medication is one medication's adherence over a period: the PDC of its
// class (nil when it has no fills) and its dose replies.
type Medication struct {
	Medication string
	Class      string
	PDC        *Result
	Doses      Doses
}

// Report is a patient's adherence over [From, To], by medication.
type Report struct {
	From, To    Day
	Medications []Medication
}

// Summarize builds a patient's report from their timeline: the PDC of
// each class from the dispense events dated in [from, to] (dates in the
// patient's time zone, loc), and the dose replies of the adherence events
// in those days. A dispense names a medication as the pharmacy does
// ("lisinopril"); a dose reply the enrolled medication's id: a dispense
// whose name is an enrolled medication's id, or its display's name,
// counts with that medication (so its doses and its fills are one line).
func Summarize(events []store.Event, enrolled []enrollment.Medication, classes Classes, from, to Day, loc *time.Location) Report {
	rep := Report{From: from, To: to}
	key := medicationKeys(enrolled)
	display := map[string]string{}
	for _, m := range enrolled {
		display[m.ID] = m.Display
	}
	type class struct {
		threshold float64
		fills     []Fill
	}
	byClass := map[string]*class{}
	classOf := map[string]string{}
	var order []string
	// see places a medication in its class, by the name it was
	// dispensed under or else its enrolled display or id.
	see := func(med, name string) {
		if _, ok := classOf[med]; ok {
			return
		}
		id, threshold, ok := classes.Class(cmp.Or(name, display[med], med))
		if !ok {
			id = med // a class of its own, named as the medication is
		}
		classOf[med] = id
		order = append(order, med)
		if byClass[id] == nil {
			byClass[id] = &class{threshold: threshold}
		}
	}
	for i := range events {
		e := &events[i]
		if e.Type != EventDispense {
			continue
		}
		d, err := ParseDay(e.Date)
		if err != nil || d < from || d > to || e.Days <= 0 {
			continue
		}
		name := strings.ToLower(strings.TrimSpace(e.Medication))
		med := key(name)
		see(med, name)
		// Fills are told apart by the dispensed name: a combination and
		// its parts are different medications, not one to shift.
		c := byClass[classOf[med]]
		c.fills = append(c.fills, Fill{Medication: name, Date: d, Days: e.Days})
	}
	doses := CountDoses(events, from.Time(loc), (to + 1).Time(loc))
	for med := range doses {
		see(med, "")
	}
	slices.SortFunc(order, func(a, b string) int { return cmp.Compare(a, b) })
	results := map[string]*Result{}
	for _, med := range order {
		id := classOf[med]
		c := byClass[id]
		m := Medication{Medication: med, Class: id, Doses: doses[med]}
		if len(c.fills) > 0 {
			if results[id] == nil {
				r := PDC(id, c.fills, from, to, c.threshold)
				results[id] = &r
			}
			m.PDC = results[id]
		}
		rep.Medications = append(rep.Medications, m)
	}
	return rep
}

// medicationKeys maps a dispensed name to the enrolled medication it is:
// by id, by display, or by the display's first word ("lisinopril 10 mg").
func medicationKeys(enrolled []enrollment.Medication) func(string) string {
	names := map[string]string{}
	for _, m := range enrolled {
		names[strings.ToLower(m.ID)] = m.ID
	}
	for _, m := range enrolled {
		d := strings.ToLower(strings.TrimSpace(m.Display))
		if d == "" {
			continue
		}
		if _, ok := names[d]; !ok {
			names[d] = m.ID
		}
		if f := strings.Fields(d); len(f) > 0 {
			if _, ok := names[f[0]]; !ok {
				names[f[0]] = m.ID
			}
		}
	}
	return func(name string) string {
		if id, ok := names[name]; ok {
			return id
		}
		return name
	}
}

// Add counts o's outcomes in d too.
func (d *Doses) Add(o Doses) {
	d.Taken += o.Taken
	d.NotTaken += o.NotTaken
	d.NoAnswer += o.NoAnswer
	d.Undelivered += o.Undelivered
}

// Rates are the two dose-reply rates, which never impute an answer to
// silence: taken of the reminders that reached the patient, and taken of
// the reminders they answered. A rate is nil when nothing counts toward
// it.
type Rates struct {
	TakenOfPrompted *float64 `json:"taken_of_prompted"`
	TakenOfAnswered *float64 `json:"taken_of_answered"`
}

// Rates computes d's rates.
func (d Doses) Rates() Rates {
	ratio := func(n, of int) *float64 {
		if of == 0 {
			return nil
		}
		v := float64(n) / float64(of)
		return &v
	}
	return Rates{TakenOfPrompted: ratio(d.Taken, d.Prompted()), TakenOfAnswered: ratio(d.Taken, d.Answered())}
}
