package channels

import (
	"time"
	"unicode/utf8"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/locales"
)

// Addressing is how a channel finds a patient.
type Addressing uint8

const (
	// ByPhone: the enrollment's phone number (SMS, WhatsApp, calls).
	ByPhone Addressing = iota
	// ByLink: an address the patient links themselves (a Telegram chat),
	// kept in Patient.Addresses under the channel's name.
	ByLink
)

// Spec is what the rest of Tend knows about a channel. Each adapter exports
// its own (sms.Spec, whatsapp.Spec, ...); cmd/tend hands the list to the
// Runner, the Dispatcher and the API, which read it instead of switching on
// channel names, so that a new channel is a new folder and a line in
// cmd/tend. (The bit a channel has in a session's consent set is part of the
// stored session format, so it stays a fixed table in conversations.)
type Spec struct {
	Name    string
	Address Addressing
	// Window: free text may go only this long after the patient's last
	// message; outside it only a template (WhatsApp: 24 hours). 0: no
	// window.
	Window time.Duration
	// Segments: a send costs its SMS segments against the channel's rate
	// (SMS); otherwise one.
	Segments bool
	// Buttons: choices can go as buttons the patient presses.
	Buttons bool
	// Synchronous: the channel speaks a turn's messages in one call, so
	// they are merged into one outbox entry (voice).
	Synchronous bool
	// NamesMedicine: a message may name a medicine when the patient
	// allowed it in writing. A call never does: an answering machine, a
	// relative or a speakerphone may hear it.
	NamesMedicine bool
	// MaxSegments and MaxChars are the budget of one message, its choices
	// included as numbered lines: SMS segments as carriers count them
	// (locales.Segments), and characters. The Runner checks every message
	// against them when it renders it, since an enrollment's values
	// (a medicine's name) are only known then. 0: no such limit.
	MaxSegments, MaxChars int
}

// SMSMaxSegments is the SMS budget: what content lint lets a message reach
// with its longest sample values (docs/content.md, SMS length), so that a
// pack that passes lint is never refused here for its own words, only for
// a value that is longer than lint assumed.
const SMSMaxSegments = 3

// Fits reports whether text is within the channel's budget.
func (s Spec) Fits(text string) bool {
	if s.MaxChars > 0 && utf8.RuneCountInString(text) > s.MaxChars {
		return false
	}
	if s.MaxSegments > 0 {
		if n, _ := locales.Segments(text); n > s.MaxSegments {
			return false
		}
	}
	return true
}

// Specs is the list of the channels Tend runs, in cmd/tend's order.
type Specs []Spec

// Of returns ch's spec; a channel not in the list gets a Spec with its name
// alone (addressed by phone, no window, one per send).
func (s Specs) Of(ch string) Spec {
	for _, sp := range s {
		if sp.Name == ch {
			return sp
		}
	}
	return Spec{Name: ch}
}

// Names lists the channels' names.
func (s Specs) Names() []string {
	names := make([]string, len(s))
	for i, sp := range s {
		names[i] = sp.Name
	}
	return names
}

// Linked is the set of channels addressed by link, for
// conversations.ContactOf.
func (s Specs) Linked() conversations.ChannelSet {
	var set conversations.ChannelSet
	for _, sp := range s {
		if sp.Address == ByLink {
			set.Add(sp.Name)
		}
	}
	return set
}
