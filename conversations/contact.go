package conversations

import (
	"slices"
	"time"

	"github.com/tendcare/tend/enrollment"
)

// Channel names, as sessions, outbox entries, timelines and metrics use them.
const (
	SMS      = "sms"
	WhatsApp = "whatsapp"
	Telegram = "telegram"
	Voice    = "voice"
)

// WindowLength is WhatsApp's customer-service window: free text may be sent
// this long after the patient's last message; after it only templates.
const WindowLength = 24 * time.Hour

// ChannelSet is a set of channels, small enough to live in the session.
// Consent and reachability are per channel: a patient who texts STOP still
// gets calls, and a patient who blocks the Telegram bot still gets SMS.
type ChannelSet uint8

// AllChannels holds every channel; an unreadable session counts as opted
// out of all of them, so consent fails closed.
const AllChannels ChannelSet = 0xff

func channelBit(ch string) ChannelSet {
	switch ch {
	case "", SMS:
		return 1
	case WhatsApp:
		return 2
	case Telegram:
		return 4
	case Voice:
		return 8
	}
	return 128 // any other channel (the simulator's sandbox)
}

// Has reports whether ch is in the set.
func (c ChannelSet) Has(ch string) bool { return c&channelBit(ch) != 0 }

// Add puts ch in the set.
func (c *ChannelSet) Add(ch string) { *c |= channelBit(ch) }

// Remove takes ch out of the set.
func (c *ChannelSet) Remove(ch string) { *c &^= channelBit(ch) }

// HasAll reports whether every channel of chain is in the set.
func (c ChannelSet) HasAll(chain []string) bool {
	for _, ch := range chain {
		if !c.Has(ch) {
			return false
		}
	}
	return true
}

// Contact is how a patient can be reached right now: the dispatcher asks
// for it before each send, so a message held overnight follows a STOP, a
// blocked bot, a corrected number or a new Telegram link that came since.
type Contact struct {
	Phone string
	// Addresses are the addresses the patient linked, by channel (a
	// Telegram chat); Linked the channels that use them instead of Phone.
	Addresses map[string]string
	Linked    ChannelSet
	// Chain is the patient's channels in the order to try them.
	Chain       []string
	Lang        string
	SlowSpeech  bool
	OptedOut    ChannelSet
	Unreachable ChannelSet
	// WindowUntil is when WhatsApp's customer-service window closes.
	WindowUntil time.Time
}

// Chain returns a patient's fallback chain: Channels, or Channel alone.
func Chain(channel string, channels []string) []string {
	if len(channels) > 0 {
		return channels
	}
	if channel == "" {
		return []string{SMS}
	}
	return []string{channel}
}

// Address is where ch reaches the patient: the linked address for a
// channel in Linked (empty until the patient links it), the phone number
// otherwise.
func (c *Contact) Address(ch string) string {
	if c.Linked.Has(ch) {
		return c.Addresses[ch]
	}
	return c.Phone
}

// ContactOf is how p can be reached given their session s: the one place
// enrollment and session are read together for it, by the runner and the
// dispatcher alike. linked are the channels addressed by link (the
// channels' specs say which).
func ContactOf(p *enrollment.Patient, s *Session, linked ChannelSet) Contact {
	c := Contact{Phone: p.Phone, Addresses: p.Addresses, Linked: linked, Chain: Chain(p.Channel, p.Channels), SlowSpeech: p.SlowSpeech,
		OptedOut: s.OptedOut, Unreachable: s.Unreachable}
	if s.WindowAt > 0 {
		c.WindowUntil = time.Unix(s.WindowAt, 0).Add(WindowLength)
	}
	return c
}

// Reaches reports whether ch can reach the patient at all: it has an
// address (a linked chat) and was not found unreachable. Consent aside.
func (c *Contact) Reaches(ch string) bool {
	return c.Address(ch) != "" && !c.Unreachable.Has(ch)
}

// Blocked says why ch cannot carry a message now ("" when it can):
// "opted_out", "unreachable" or "no_address".
func (c *Contact) Blocked(ch string) string {
	switch {
	case c.OptedOut.Has(ch):
		return "opted_out"
	case c.Address(ch) == "":
		return "no_address"
	case !c.Reaches(ch):
		return "unreachable"
	}
	return ""
}

// Next returns the channel after ch in the chain that is not blocked, or ""
// when there is none. A channel not in the chain (a reply on the channel the
// patient wrote on) falls back to the chain's first usable channel.
func (c *Contact) Next(ch string) string {
	i := slices.Index(c.Chain, ch)
	for _, next := range c.Chain[i+1:] {
		if next != ch && c.Blocked(next) == "" {
			return next
		}
	}
	return ""
}

// InWindow reports whether free text may go to WhatsApp at now.
func (c *Contact) InWindow(now time.Time) bool { return now.Before(c.WindowUntil) }
