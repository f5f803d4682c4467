package rules

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math"
	"time"

	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/wire"
)

// Section names in conversations.Session.Sections.
const (
	SectionReadings = "readings"
	SectionEpisodes = "episodes"
)

// Bounds of the history: enough for the longest baseline window (28 days
// of day-to-day weight changes, 14 days of SpO2) and no more, since the
// section is read on every reading turn.
const (
	keepFor     = 35 * 24 * time.Hour
	maxPerKind  = 120
	maxSeen     = 64
	historyFmt  = 1
	episodesFmt = 1
)

// Past is one recorded reading as the history keeps it: A is the value,
// or the systolic; B the diastolic.
type Past struct {
	Kind readings.Kind
	At   int64 // unix seconds
	A, B float64
}

// Seen is a reading id recorded before (a hash of it), with the
// classification it got, so that a reading posted again is answered the
// same and recorded once.
type Seen struct {
	Hash  uint64
	Level readings.Level
	Rule  string
}

// History is the "readings" section: the recent readings, oldest first,
// and the recent ids.
type History struct {
	Readings []Past
	Seen     []Seen
}

// HashID is a reading id as History.Seen keeps it (no id is stored in the
// clear: ids can be a device's serial number).
func HashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Lookup finds a reading id seen before.
func (h *History) Lookup(id string) (Seen, bool) {
	if id == "" {
		return Seen{}, false
	}
	x := HashID(id)
	for _, s := range h.Seen {
		if s.Hash == x {
			return s, true
		}
	}
	return Seen{}, false
}

// Add records a reading (and its id) and drops what is too old or too
// many. Readings stay ordered by time, so a late-posted reading lands in
// its place.
func (h *History) Add(r readings.Reading, level readings.Level, rule string, now time.Time) {
	p := Past{Kind: r.Kind, At: r.At.Unix(), A: r.Value, B: 0}
	if r.Kind == readings.BloodPressure {
		p.A, p.B = float64(r.Systolic), float64(r.Diastolic)
	}
	i := len(h.Readings)
	for i > 0 && h.Readings[i-1].At > p.At {
		i--
	}
	h.Readings = append(h.Readings, Past{})
	copy(h.Readings[i+1:], h.Readings[i:])
	h.Readings[i] = p
	if r.ID != "" {
		h.Seen = append(h.Seen, Seen{Hash: HashID(r.ID), Level: level, Rule: rule})
		if n := len(h.Seen); n > maxSeen {
			h.Seen = append(h.Seen[:0], h.Seen[n-maxSeen:]...)
		}
	}
	h.prune(now)
}

func (h *History) prune(now time.Time) {
	cut := now.Add(-keepFor).Unix()
	var count [8]int // by kindByte
	for _, p := range h.Readings {
		count[kindByte(p.Kind)]++
	}
	out := h.Readings[:0]
	for _, p := range h.Readings {
		if k := kindByte(p.Kind); p.At < cut || count[k] > maxPerKind {
			count[k]--
			continue
		}
		out = append(out, p)
	}
	h.Readings = out
}

// Last returns the time of the patient's last reading of a kind (zero when
// none is kept).
func (h *History) Last(kind readings.Kind) time.Time {
	for i := len(h.Readings) - 1; i >= 0; i-- {
		if h.Readings[i].Kind == kind {
			return time.Unix(h.Readings[i].At, 0).UTC()
		}
	}
	return time.Time{}
}

// Episode statuses in State (the "episode" events add attached, raised
// and dismissed, which are changes, not states).
const (
	Confirming = "confirming"
	Open       = "opened"
	Closed     = "closed"
)

// Episode is one condition's episode: at most one per patient and
// condition is confirming or open; the last closed one is kept for the
// quiet period.
type Episode struct {
	Condition string
	Rule      string // the rule that opened it
	Status    string // confirming | opened | closed
	Priority  string // its ticket's, once open
	Flow      string // the confirm flow while confirming
	Symptoms  bool   // the patient reported symptoms
	Opened    int64  // unix seconds
	// Normals counts normal readings (or days with one) since the last
	// abnormal one; LastNormal is the last counted (unix seconds).
	Normals    int
	LastNormal int64
	Closed     int64
}

// Active reports whether the episode is confirming or open.
func (e *Episode) Active() bool { return e.Status == Confirming || e.Status == Open }

// Threshold is a nurse's number for one patient: it replaces the threshold
// Op (at_least | above | below | at_most) of the rule's tests of Measure
// with baseline From ("" for fixed floors).
type Threshold struct {
	Rule, Measure, From, Op string
	Value                   float64
}

// Snooze turns a rule off for one patient until a time (never an acute
// rule: those are safety floors).
type Snooze struct {
	Rule   string
	Until  int64 // unix seconds
	Reason string
}

// Fired is when a watch rule last ran its actions (for every and first).
type Fired struct {
	Rule string
	At   int64
}

// State is the "episodes" section.
type State struct {
	Episodes   []Episode
	Thresholds []Threshold
	Snoozes    []Snooze
	Fired      []Fired
}

// Episode returns the condition's episode (active or last closed), nil
// when it has none.
func (s *State) Episode(condition string) *Episode {
	for i := range s.Episodes {
		if s.Episodes[i].Condition == condition {
			return &s.Episodes[i]
		}
	}
	return nil
}

// SetEpisode replaces the condition's episode.
func (s *State) SetEpisode(e Episode) {
	if have := s.Episode(e.Condition); have != nil {
		*have = e
		return
	}
	s.Episodes = append(s.Episodes, e)
}

// FiredAt returns when a rule last fired (0: never).
func (s *State) FiredAt(rule string) int64 {
	for _, f := range s.Fired {
		if f.Rule == rule {
			return f.At
		}
	}
	return 0
}

// Fire records that a rule fired now.
func (s *State) Fire(rule string, now time.Time) {
	for i := range s.Fired {
		if s.Fired[i].Rule == rule {
			s.Fired[i].At = now.Unix()
			return
		}
	}
	s.Fired = append(s.Fired, Fired{Rule: rule, At: now.Unix()})
}

// Snoozed reports whether a rule is snoozed at now.
func (s *State) Snoozed(rule string, now time.Time) bool {
	for _, z := range s.Snoozes {
		if z.Rule == rule && now.Unix() < z.Until {
			return true
		}
	}
	return false
}

// ---- encoding ----

// ErrBadSection is returned for bytes that are not a section's encoding.
var ErrBadSection = errors.New("rules: malformed section")

// kindByte numbers the kinds in readings.Kinds order, from 1.
func kindByte(k readings.Kind) byte {
	for i, x := range readings.Kinds {
		if x == k {
			return byte(i + 1)
		}
	}
	return 0
}

func kindOf(b byte) readings.Kind {
	if b == 0 || int(b) > len(readings.Kinds) {
		return ""
	}
	return readings.Kinds[b-1]
}

var levels = []readings.Level{readings.Normal, readings.Watch, readings.Alert, readings.Acute}

func levelByte(l readings.Level) byte {
	for i, x := range levels {
		if x == l {
			return byte(i)
		}
	}
	return 0
}

// fixed stores a value in hundredths.
func fixed(v float64) int64   { return int64(math.Round(v * 100)) }
func unfixed(v int64) float64 { return float64(v) / 100 }

// AppendBinary appends the history's encoding: a format byte, the
// readings (kind, time as a delta from the previous, values in
// hundredths), the seen ids.
func (h *History) AppendBinary(b []byte) []byte {
	if len(h.Readings) == 0 && len(h.Seen) == 0 {
		return b
	}
	b = append(b, historyFmt)
	b = binary.AppendUvarint(b, uint64(len(h.Readings)))
	var prev int64
	for _, p := range h.Readings {
		b = append(b, kindByte(p.Kind))
		b = binary.AppendVarint(b, p.At-prev)
		prev = p.At
		b = binary.AppendVarint(b, fixed(p.A))
		b = binary.AppendVarint(b, fixed(p.B))
	}
	b = binary.AppendUvarint(b, uint64(len(h.Seen)))
	for _, s := range h.Seen {
		b = binary.LittleEndian.AppendUint64(b, s.Hash)
		b = append(b, levelByte(s.Level))
		b = wire.AppendText(b, s.Rule)
	}
	return b
}

// DecodeHistory reads a "readings" section; empty data is an empty history.
func DecodeHistory(data []byte, h *History) error {
	*h = History{}
	if len(data) == 0 {
		return nil
	}
	d := wire.NewReader(data)
	if d.Byte() != historyFmt {
		return ErrBadSection
	}
	if n := d.Count(4); n > 0 {
		h.Readings = make([]Past, n)
		var prev int64
		for i := range h.Readings {
			k := kindOf(d.Byte())
			prev += d.Varint()
			h.Readings[i] = Past{Kind: k, At: prev, A: unfixed(d.Varint()), B: unfixed(d.Varint())}
		}
	}
	if n := d.Count(10); n > 0 {
		h.Seen = make([]Seen, n)
		for i := range h.Seen {
			h.Seen[i].Hash = d.Uint64()
			lb := d.Byte()
			if int(lb) < len(levels) {
				h.Seen[i].Level = levels[lb]
			}
			h.Seen[i].Rule = d.Text()
		}
	}
	if d.Failed() {
		*h = History{}
		return ErrBadSection
	}
	return nil
}

// AppendBinary appends the state's encoding.
func (s *State) AppendBinary(b []byte) []byte {
	if len(s.Episodes) == 0 && len(s.Thresholds) == 0 && len(s.Snoozes) == 0 && len(s.Fired) == 0 {
		return b
	}
	b = append(b, episodesFmt)
	b = binary.AppendUvarint(b, uint64(len(s.Episodes)))
	for _, e := range s.Episodes {
		b = wire.AppendText(b, e.Condition)
		b = wire.AppendText(b, e.Rule)
		b = wire.AppendText(b, e.Status)
		b = wire.AppendText(b, e.Priority)
		b = wire.AppendText(b, e.Flow)
		sym := byte(0)
		if e.Symptoms {
			sym = 1
		}
		b = append(b, sym)
		b = binary.AppendVarint(b, e.Opened)
		b = binary.AppendUvarint(b, uint64(e.Normals))
		b = binary.AppendVarint(b, e.LastNormal)
		b = binary.AppendVarint(b, e.Closed)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Thresholds)))
	for _, t := range s.Thresholds {
		b = wire.AppendText(b, t.Rule)
		b = wire.AppendText(b, t.Measure)
		b = wire.AppendText(b, t.From)
		b = wire.AppendText(b, t.Op)
		b = binary.AppendVarint(b, fixed(t.Value))
	}
	b = binary.AppendUvarint(b, uint64(len(s.Snoozes)))
	for _, z := range s.Snoozes {
		b = wire.AppendText(b, z.Rule)
		b = binary.AppendVarint(b, z.Until)
		b = wire.AppendText(b, z.Reason)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Fired)))
	for _, f := range s.Fired {
		b = wire.AppendText(b, f.Rule)
		b = binary.AppendVarint(b, f.At)
	}
	return b
}

// DecodeState reads an "episodes" section; empty data is an empty state.
func DecodeState(data []byte, s *State) error {
	*s = State{}
	if len(data) == 0 {
		return nil
	}
	d := wire.NewReader(data)
	if d.Byte() != episodesFmt {
		return ErrBadSection
	}
	if n := d.Count(10); n > 0 {
		s.Episodes = make([]Episode, n)
		for i := range s.Episodes {
			e := &s.Episodes[i]
			e.Condition, e.Rule, e.Status, e.Priority, e.Flow = d.Text(), d.Text(), d.Text(), d.Text(), d.Text()
			e.Symptoms = d.Byte() == 1
			e.Opened = d.Varint()
			e.Normals = int(d.Uvarint())
			e.LastNormal = d.Varint()
			e.Closed = d.Varint()
		}
	}
	if n := d.Count(5); n > 0 {
		s.Thresholds = make([]Threshold, n)
		for i := range s.Thresholds {
			s.Thresholds[i] = Threshold{Rule: d.Text(), Measure: d.Text(), From: d.Text(), Op: d.Text(), Value: unfixed(d.Varint())}
		}
	}
	if n := d.Count(3); n > 0 {
		s.Snoozes = make([]Snooze, n)
		for i := range s.Snoozes {
			s.Snoozes[i] = Snooze{Rule: d.Text(), Until: d.Varint(), Reason: d.Text()}
		}
	}
	if n := d.Count(2); n > 0 {
		s.Fired = make([]Fired, n)
		for i := range s.Fired {
			s.Fired[i] = Fired{Rule: d.Text(), At: d.Varint()}
		}
	}
	if d.Failed() {
		*s = State{}
		return ErrBadSection
	}
	return nil
}

// LastValue returns the value of the patient's last reading of a kind
// (the systolic for a blood pressure).
func (h *History) LastValue(kind readings.Kind) (float64, bool) {
	for i := len(h.Readings) - 1; i >= 0; i-- {
		if h.Readings[i].Kind == kind {
			return h.Readings[i].A, true
		}
	}
	return 0, false
}

// OpenEpisodes decodes an "episodes" section (Session.Section) and returns
// the episodes that are open, ticket and all (confirmed, or unanswered):
// what other parts (the risk tiers) count as "a confirmed alert episode
// open". Confirming episodes are not in it: the patient has not been
// heard yet. An unreadable section has none.
func OpenEpisodes(data []byte) []Episode {
	var st State
	if DecodeState(data, &st) != nil {
		return nil
	}
	var open []Episode
	for _, e := range st.Episodes {
		if e.Status == Open {
			open = append(open, e)
		}
	}
	return open
}
