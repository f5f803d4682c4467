package conversations

import (
	"encoding/binary"
	"errors"

	"github.com/tendcare/tend/wire"
)

// Session is one patient's conversation state between turns: the active
// flow and where it waits, the flows queued behind it, consent, language and
// the counters that rules need. It is small and encoded in a compact binary
// form because it is read and written on every turn.
type Session struct {
	Lang string
	// OptedOut holds the channels the patient opted out of (STOP on SMS
	// does not stop calls); Unreachable the channels that cannot reach
	// them (a blocked Telegram bot) until they write on it again.
	OptedOut    ChannelSet
	Unreachable ChannelSet
	// WindowAt is when the patient last wrote on WhatsApp (unix seconds):
	// it opens WhatsApp's customer-service window.
	WindowAt int64
	// Step counts the questions asked; a button carries the step of its
	// question, so an old button cannot answer a later question.
	Step uint32
	// Flow and State are empty when no flow is active.
	Flow   string
	State  string
	Params []Param
	// Misses counts unknown answers to the current state.
	Misses int
	// TimerDue is the unix second the active flow's timer ("flow") is due,
	// 0 when none. A fired timer whose due differs is stale and ignored.
	TimerDue int64
	// Queue holds starts waiting for the active flow to end.
	Queue []Queued
	// Tallies count recent occurrences for rules like "2 missed doses in 7 days".
	Tallies []Tally
	// LastIdle is when the patient last got the idle reply (unix seconds),
	// so a chatty patient or an auto-responder gets it at most once a day.
	LastIdle int64
	// Safety is the concept the patient was asked about ("Do you have chest
	// pain now?") and SafetyDue when the question times out (unix seconds);
	// empty and 0 when no safety question waits.
	Safety    string
	SafetyDue int64
	// Owner is the staff member who owns the conversation (their email),
	// empty while the automation has it. While a person owns it, the
	// automation answers only emergencies, STOP, START and HELP; the
	// starts it would have made wait in Held until they hand it back.
	Owner string
	Held  []Held
	// LastIn is when the patient last wrote, on any channel (unix
	// seconds): a person's message within a day of it is a reply.
	LastIn int64
	// Tickets are the patient's open tickets, one per reason: a second
	// escalation for a reason attaches to its ticket instead of opening
	// another. The Runner keeps them; the engine only carries them.
	Tickets []TicketRef
	// Resolved is the patient's ticket resolved last and ResolvedAt when
	// (unix seconds): a message soon after reopens it rather than opening
	// another, so the team reads it where the conversation was. The Runner
	// keeps them; the engine only carries them.
	Resolved   string
	ResolvedAt int64
	// Sections are the clinical state each part keeps per patient
	// (recent readings and open episodes, lesson progress, the risk tier),
	// by name, each in its owner's own encoding. The session carries them
	// so that a reading, its episode and its ticket change in one commit;
	// a part that is not involved in a turn never decodes them.
	Sections []Section
}

// Section is one named part of the clinical state (Session.Sections).
type Section struct {
	Name string
	Data []byte
}

// Section returns the data of the named section, nil when there is none.
// The slice is the session's: copy it before changing it.
func (s *Session) Section(name string) []byte {
	for _, x := range s.Sections {
		if x.Name == name {
			return x.Data
		}
	}
	return nil
}

// SetSection replaces the named section's data; empty data removes it.
func (s *Session) SetSection(name string, data []byte) {
	for i, x := range s.Sections {
		if x.Name == name {
			if len(data) == 0 {
				s.Sections = append(s.Sections[:i:i], s.Sections[i+1:]...)
				if len(s.Sections) == 0 {
					s.Sections = nil
				}
				return
			}
			s.Sections[i].Data = data
			return
		}
	}
	if len(data) > 0 {
		s.Sections = append(s.Sections, Section{Name: name, Data: data})
	}
}

// TicketRef is an open ticket as the session remembers it.
type TicketRef struct {
	ID, Reason, Priority string
}

// Held is a flow start that came while a person owned the conversation.
type Held struct {
	Flow   string
	Params []Param
	// Stale is the unix second after which the start is dropped rather
	// than made (a dose reminder hours late does harm); 0: never.
	Stale int64
}

// Param is one flow parameter (medication, date, ...).
type Param struct{ Key, Value string }

// Queued is a flow start waiting its turn.
type Queued struct {
	Flow   string
	Params []Param
}

// Tally is the times (unix seconds) something happened, oldest first.
type Tally struct {
	Name  string
	Times []int64
}

// Param returns the value of a parameter of the active flow.
func (s *Session) Param(key string) string { return lookup(s.Params, key) }

func lookup(ps []Param, key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// sessionFormat 2 added per-channel consent, reachability, the WhatsApp
// window and the question step; 3 the waiting safety question; 4 the
// conversation's owner and the starts held for them; 5 the ticket resolved
// last; 6 the clinical sections. Earlier formats are still read.
const sessionFormat = 6

// AppendBinary appends the session's encoding to b. The format is a version
// byte followed by varint-prefixed fields; see Decode.
func (s *Session) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, sessionFormat)
	b = wire.AppendText(b, s.Lang)
	b = append(b, byte(s.OptedOut), byte(s.Unreachable))
	b = wire.AppendText(b, s.Flow)
	b = wire.AppendText(b, s.State)
	b = appendParams(b, s.Params)
	b = binary.AppendUvarint(b, uint64(s.Misses))
	b = binary.AppendVarint(b, s.TimerDue)
	b = binary.AppendUvarint(b, uint64(len(s.Queue)))
	for _, q := range s.Queue {
		b = wire.AppendText(b, q.Flow)
		b = appendParams(b, q.Params)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Tallies)))
	for _, t := range s.Tallies {
		b = wire.AppendText(b, t.Name)
		b = binary.AppendUvarint(b, uint64(len(t.Times)))
		for _, x := range t.Times {
			b = binary.AppendVarint(b, x)
		}
	}
	b = binary.AppendVarint(b, s.LastIdle)
	b = binary.AppendVarint(b, s.WindowAt)
	b = binary.AppendUvarint(b, uint64(s.Step))
	b = wire.AppendText(b, s.Safety)
	b = binary.AppendVarint(b, s.SafetyDue)
	b = wire.AppendText(b, s.Owner)
	b = binary.AppendUvarint(b, uint64(len(s.Held)))
	for _, h := range s.Held {
		b = wire.AppendText(b, h.Flow)
		b = appendParams(b, h.Params)
		b = binary.AppendVarint(b, h.Stale)
	}
	b = binary.AppendVarint(b, s.LastIn)
	b = binary.AppendUvarint(b, uint64(len(s.Tickets)))
	for _, t := range s.Tickets {
		b = wire.AppendText(b, t.ID)
		b = wire.AppendText(b, t.Reason)
		b = wire.AppendText(b, t.Priority)
	}
	b = wire.AppendText(b, s.Resolved)
	b = binary.AppendVarint(b, s.ResolvedAt)
	b = binary.AppendUvarint(b, uint64(len(s.Sections)))
	for _, x := range s.Sections {
		b = wire.AppendText(b, x.Name)
		b = binary.AppendUvarint(b, uint64(len(x.Data)))
		b = append(b, x.Data...)
	}
	return b, nil
}

func appendParams(b []byte, ps []Param) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = wire.AppendText(b, p.Key)
		b = wire.AppendText(b, p.Value)
	}
	return b
}

// ErrBadSession is returned for bytes that are not a session encoding.
var ErrBadSession = errors.New("conversations: malformed session")

// Decode replaces s with the session encoded in data. Empty data is a new,
// empty session.
func (s *Session) Decode(data []byte) error { return s.decode(data, nil) }

// decode reads a session; words found in intern (flow, state and language
// ids the engine knows) are shared instead of allocated.
func (s *Session) decode(data []byte, intern map[string]string) error {
	*s = Session{}
	if len(data) == 0 {
		return nil
	}
	d := decoder{Reader: wire.NewReader(data), intern: intern}
	format := d.Byte()
	if format < 1 || format > sessionFormat {
		return ErrBadSession
	}
	s.Lang = d.string()
	if format == 1 {
		// Format 1 had one opt-out for all channels: keep it for all.
		if d.Byte()&1 != 0 {
			s.OptedOut = AllChannels
		}
	} else {
		s.OptedOut, s.Unreachable = ChannelSet(d.Byte()), ChannelSet(d.Byte())
	}
	s.Flow = d.string()
	s.State = d.string()
	s.Params = d.params()
	s.Misses = int(d.Uvarint())
	s.TimerDue = d.Varint()
	if n := d.Count(1); n > 0 {
		s.Queue = make([]Queued, n)
		for i := range s.Queue {
			s.Queue[i].Flow = d.string()
			s.Queue[i].Params = d.params()
		}
	}
	if n := d.Count(1); n > 0 {
		s.Tallies = make([]Tally, n)
		for i := range s.Tallies {
			s.Tallies[i].Name = d.string()
			m := d.Count(1)
			s.Tallies[i].Times = make([]int64, m)
			for j := range s.Tallies[i].Times {
				s.Tallies[i].Times[j] = d.Varint()
			}
		}
	}
	s.LastIdle = d.Varint()
	if format >= 2 {
		s.WindowAt = d.Varint()
		s.Step = uint32(d.Uvarint())
	}
	if format >= 3 {
		s.Safety = d.string()
		s.SafetyDue = d.Varint()
	}
	if format >= 4 {
		s.Owner = d.string()
		if n := d.Count(1); n > 0 {
			s.Held = make([]Held, n)
			for i := range s.Held {
				s.Held[i] = Held{Flow: d.string(), Params: d.params(), Stale: d.Varint()}
			}
		}
		s.LastIn = d.Varint()
		if n := d.Count(1); n > 0 {
			s.Tickets = make([]TicketRef, n)
			for i := range s.Tickets {
				s.Tickets[i] = TicketRef{ID: d.string(), Reason: d.string(), Priority: d.string()}
			}
		}
	}
	if format >= 5 {
		s.Resolved = d.string()
		s.ResolvedAt = d.Varint()
	}
	if format >= 6 {
		if n := d.Count(1); n > 0 {
			s.Sections = make([]Section, n)
			for i := range s.Sections {
				s.Sections[i] = Section{Name: d.string(), Data: d.Bytes()}
			}
		}
	}
	if d.Failed() {
		*s = Session{}
		return ErrBadSession
	}
	return nil
}

// decoder reads the session format (wire.Reader), interning the strings
// a session repeats (flow, state and parameter names) so that a decoded
// session shares them instead of allocating each.
type decoder struct {
	wire.Reader
	intern map[string]string
}

func (d *decoder) string() string {
	raw := d.Raw()
	if s, ok := d.intern[string(raw)]; ok {
		return s
	}
	return string(raw)
}

func (d *decoder) params() []Param {
	n := d.Count(1)
	if n == 0 {
		return nil
	}
	ps := make([]Param, n)
	for i := range ps {
		ps[i].Key = d.string()
		ps[i].Value = d.string()
	}
	return ps
}
