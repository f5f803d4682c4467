package risk

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendcare/tend/wire"
)

// Section is the name of the session section the Runner keeps State in.
const Section = "risk"

// Event is a timeline event as the risk inputs read it: the fields of the
// store's Event that matter here, copied by the Runner (this package does
// not import the store, which does I/O). The event contract is the
// store's (store.Event's table).
type Event struct {
	Type      string
	At        time.Time
	Status    string
	Priority  string
	Kind      string
	Value     string
	Condition string
	Rule      string
	Quiz      string
	Question  string
	Correct   *bool
	Date      string
	Days      int
	Staff     string
	// Medication is a dispense's medication.
	Medication string
}

// Encounter kinds (an "encounter" event's Kind): a hospital stay and an
// emergency department visit, which a clinic reports through the API.
const (
	EncounterInpatient = "inpatient"
	EncounterEmergency = "emergency"
)

// Pin is a clinician's tier for a patient, with why, who and until when.
type Pin struct {
	Tier   Tier      `json:"tier"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until"`
}

// State is what the risk tier keeps per patient between turns: the tier
// last recorded (a change writes a risk event), a pin, the facts the table
// reads (each kept only as long as a row looks back), the conditions with
// an episode open, and the reachability counters. It is encoded compactly
// (AppendBinary) into the session's "risk" section.
type State struct {
	// Tier is the tier last recorded on the timeline ("" before the first).
	Tier Tier
	Pin  *Pin
	// Since is when the first prompt the patient has not answered was
	// sent (unix seconds; 0: they answered the last one), Prompts how
	// many prompts went unanswered since, Ticketed whether the
	// reachability ticket was opened for this silence.
	Since    int64
	Prompts  int
	Ticketed bool
	// CheckinNext is when the next check-in is due (unix seconds; 0:
	// none armed), CheckinLast when the last one started.
	CheckinNext, CheckinLast int64
	// Open are the conditions with a confirmed episode open.
	Open  []string
	Facts []Fact
}

// FactKind is what a Fact records.
type FactKind byte

const (
	FactInpatient     FactKind = 1 + iota // an encounter: hospital stay (At: its date)
	FactEmergency                         // an encounter: ED visit
	FactLowGlucose                        // a glucose reading below 70 mg/dL (A: mg/dL)
	FactHFWeight                          // a heart-failure weight episode opened
	FactBP                                // a BP reading (A: systolic, B: diastolic)
	FactNotTaken                          // a dose reported not taken
	FactMisconception                     // a confident wrong answer (S: lesson/item)
	FactDispense                          // a dispense (S: medication, A: days' supply)
)

// Fact is one dated clinical fact the table reads.
type Fact struct {
	Kind FactKind
	At   int64 // unix seconds
	A, B int
	S    string
}

// lowGlucose is the highest glucose kept as a fact (mg/dL): level 1 lows
// start below 70 (ADA), and a table's level-2 threshold is below that.
const lowGlucose = 70

// Fold adds a turn's events to the state: new facts, episodes opened and
// closed, misconceptions answered right, and the reachability counters (a
// message from the patient resets them; a turn that sent them something
// unasked counts one prompt). It reports whether anything that can move the
// tier or reachability changed.
func (s *State) Fold(events []Event) bool {
	changed := false
	in, prompted := false, false
	for i := range events {
		e := &events[i]
		switch e.Type {
		case "message.in":
			in = true
		case "message.out":
			if e.Staff == "" && e.Status != "cancelled" {
				prompted = true
			}
		case "encounter":
			if at, ok := day(e.Date); ok {
				k := FactInpatient
				if e.Kind == EncounterEmergency {
					k = FactEmergency
				}
				s.add(Fact{Kind: k, At: at})
				changed = true
			}
		case "reading":
			if e.Status == "unconfirmed" {
				continue
			}
			switch e.Kind {
			case "glucose":
				if v, err := strconv.ParseFloat(e.Value, 64); err == nil && v < lowGlucose {
					s.add(Fact{Kind: FactLowGlucose, At: e.At.Unix(), A: int(v)})
					changed = true
				}
			case "blood_pressure":
				sys, dia, ok := bp(e.Value)
				if ok {
					s.add(Fact{Kind: FactBP, At: e.At.Unix(), A: sys, B: dia})
					changed = true
				}
			}
		case "episode":
			switch e.Status {
			case "opened", "attached", "raised":
				if e.Condition != "" && !slices.Contains(s.Open, e.Condition) {
					s.Open = append(s.Open, e.Condition)
					changed = true
				}
				if e.Status == "opened" && hfWeight(e) {
					s.add(Fact{Kind: FactHFWeight, At: e.At.Unix()})
					changed = true
				}
			case "closed", "dismissed":
				if i := slices.Index(s.Open, e.Condition); i >= 0 {
					s.Open = slices.Delete(s.Open, i, i+1)
					changed = true
				}
			}
		case "adherence":
			// "missed" is how reported misses were written before no
			// answer was told apart; "no_answer" and "undelivered" are
			// never a miss.
			switch e.Status {
			case "not_taken", "missed", "problem":
				s.add(Fact{Kind: FactNotTaken, At: e.At.Unix()})
				changed = true
			}
		case "lesson":
			item := e.Quiz + "/" + e.Question
			switch {
			case e.Status == "misconception":
				s.add(Fact{Kind: FactMisconception, At: e.At.Unix(), S: item})
				changed = true
			case e.Status == "mastered" || e.Status == "reinforce" || (e.Correct != nil && *e.Correct && e.Question != ""):
				n := len(s.Facts)
				s.Facts = slices.DeleteFunc(s.Facts, func(f Fact) bool { return f.Kind == FactMisconception && f.S == item })
				changed = changed || n != len(s.Facts)
			}
		case "dispense":
			if at, ok := day(e.Date); ok && e.Days > 0 {
				s.add(Fact{Kind: FactDispense, At: at, A: e.Days, S: e.Medication})
				changed = true
			}
		}
	}
	switch {
	case in:
		if s.Since != 0 || s.Prompts != 0 || s.Ticketed {
			changed = true
		}
		s.Since, s.Prompts, s.Ticketed = 0, 0, false
	case prompted:
		if s.Since == 0 && len(events) > 0 {
			s.Since = events[0].At.Unix()
		}
		s.Prompts++
		changed = true
	}
	return changed
}

// hfWeight reports whether an episode is a heart-failure weight episode
// (not a gap in the weighing, which is not an alert).
func hfWeight(e *Event) bool {
	return e.Condition == "heart-failure" && strings.HasPrefix(e.Rule, "weight-") && e.Rule != "weight-gap"
}

// add keeps a fact, in time order.
func (s *State) add(f Fact) {
	i, _ := slices.BinarySearchFunc(s.Facts, f.At, func(x Fact, at int64) int {
		if x.At <= at {
			return -1
		}
		return 1
	})
	s.Facts = slices.Insert(s.Facts, i, f)
}

// Forget drops the facts no row of t looks at any more at now, and a pin
// past its expiry.
func (s *State) Forget(t *Table, now time.Time) {
	s.Facts = slices.DeleteFunc(s.Facts, func(f Fact) bool {
		keep, ok := t.keep(f.Kind)
		if f.Kind == FactMisconception {
			return !ok // kept until answered right
		}
		return !ok || f.At < now.Add(-keep).Unix()
	})
	if s.Pin != nil && !now.Before(s.Pin.Until) {
		s.Pin = nil
	}
}

// day reads a "YYYY-MM-DD" date as its UTC midnight (unix seconds).
func day(date string) (int64, bool) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// bp reads a reading's "150/95".
func bp(v string) (sys, dia int, ok bool) {
	a, b, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(strings.TrimSpace(a))
	y, err2 := strconv.Atoi(strings.TrimSpace(b))
	return x, y, err1 == nil && err2 == nil
}

// stateFormat is the section's encoding version.
const stateFormat = 1

// AppendBinary appends the state's encoding to b: a version byte, then
// varint-prefixed fields in the order of State.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateFormat, byte(Rank(s.Tier)))
	if s.Pin == nil {
		b = append(b, 0)
	} else {
		b = append(b, byte(Rank(s.Pin.Tier)))
		b = binary.AppendVarint(b, s.Pin.At.Unix())
		b = binary.AppendVarint(b, s.Pin.Until.Unix())
		b = wire.AppendText(b, s.Pin.By)
		b = wire.AppendText(b, s.Pin.Reason)
	}
	b = binary.AppendVarint(b, s.Since)
	b = binary.AppendUvarint(b, uint64(s.Prompts))
	ticketed := byte(0)
	if s.Ticketed {
		ticketed = 1
	}
	b = append(b, ticketed)
	b = binary.AppendVarint(b, s.CheckinNext)
	b = binary.AppendVarint(b, s.CheckinLast)
	b = binary.AppendUvarint(b, uint64(len(s.Open)))
	for _, c := range s.Open {
		b = wire.AppendText(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Facts)))
	for _, f := range s.Facts {
		b = append(b, byte(f.Kind))
		b = binary.AppendVarint(b, f.At)
		b = binary.AppendVarint(b, int64(f.A))
		b = binary.AppendVarint(b, int64(f.B))
		b = wire.AppendText(b, f.S)
	}
	return b, nil
}

// Encode is the state's section data; an empty state is no data.
func (s *State) Encode() []byte {
	if s.Tier == "" && s.Pin == nil && s.Since == 0 && s.Prompts == 0 && s.CheckinNext == 0 && s.CheckinLast == 0 && len(s.Open) == 0 && len(s.Facts) == 0 {
		return nil
	}
	b, _ := s.AppendBinary(nil)
	return b
}

// ErrBadState is returned for section data that is not a risk state.
var ErrBadState = errors.New("risk: malformed state")

// Decode replaces s with the state encoded in data; empty data is a new
// state.
func (s *State) Decode(data []byte) error {
	*s = State{}
	if len(data) == 0 {
		return nil
	}
	d := wire.NewReader(data)
	if d.Byte() != stateFormat {
		return ErrBadState
	}
	s.Tier = tierOf(int(d.Byte()))
	if pt := d.Byte(); pt != 0 {
		s.Pin = &Pin{Tier: tierOf(int(pt))}
		s.Pin.At = time.Unix(d.Varint(), 0).UTC()
		s.Pin.Until = time.Unix(d.Varint(), 0).UTC()
		s.Pin.By = d.Text()
		s.Pin.Reason = d.Text()
	}
	s.Since = d.Varint()
	s.Prompts = int(d.Uvarint())
	s.Ticketed = d.Byte() == 1
	s.CheckinNext = d.Varint()
	s.CheckinLast = d.Varint()
	if n := d.Count(1); n > 0 {
		s.Open = make([]string, n)
		for i := range s.Open {
			s.Open[i] = d.Text()
		}
	}
	if n := d.Count(1); n > 0 {
		s.Facts = make([]Fact, n)
		for i := range s.Facts {
			s.Facts[i] = Fact{Kind: FactKind(d.Byte()), At: d.Varint(), A: int(d.Varint()), B: int(d.Varint()), S: d.Text()}
		}
	}
	if d.Failed() {
		*s = State{}
		return ErrBadState
	}
	return nil
}

// PeekTier is the tier recorded in section data without decoding the rest:
// the Runner checks it on turns that bring no clinical event.
func PeekTier(data []byte) Tier {
	if len(data) < 2 || data[0] != stateFormat {
		return ""
	}
	return tierOf(int(data[1]))
}
