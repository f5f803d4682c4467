package devphone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// What the phone keeps in memory: it is a dev tool, and a server left
// running for days must not grow it for ever. The oldest conversation and
// a conversation's oldest messages go first.
const (
	maxConversations = 100
	maxMessages      = 200
)

// Inbound is how an answer typed on the page reaches Tend:
// sms.Webhooks.Receive, what a real text goes through once its signature
// checked out.
type Inbound interface {
	Receive(ctx context.Context, phone, body, messageSid string) error
}

// Receipts records a provider's report on a message; runner.Runner does,
// and tells the console's open conversation that a status moved.
type Receipts interface {
	Delivered(ctx context.Context, patientID, messageID string, rc runner.Receipt) (next string, err error)
}

// Phone is the dev phone: the Sender of the text channels that have no
// provider, and the page that shows and answers their conversations
// (Handler). The zero value is not usable: set Inbound.
type Phone struct {
	// Inbound takes the answers typed on the page (the SMS adapter).
	Inbound Inbound
	// Receipts, when set, is told each message was delivered.
	Receipts Receipts
	// Clock stamps messages; time.Now when nil.
	Clock func() time.Time
	Log   *slog.Logger
	// Enroll is the command the empty page suggests to enroll a first
	// patient; "" shows none.
	Enroll string

	mu      sync.Mutex
	convs   []*conversation // most recent activity first
	version uint64          // moves with every change, for the page's refresh
	sent    uint64
}

// Message is one text of a conversation on the phone.
type Message struct {
	// In: the operator wrote it as the patient; otherwise Tend sent it.
	In     bool
	Text   string
	At     time.Time
	Status string // delivered; for an answer "" or "not taken"
}

type conversation struct {
	Channel   string
	Address   string // the phone number
	PatientID string // "" for a number no patient has
	Messages  []*Message
}

func (p *Phone) now() time.Time {
	if p.Clock != nil {
		return p.Clock()
	}
	return time.Now()
}

func (p *Phone) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// Send keeps the message for the page and reports it delivered. The log
// says what would have been sent by outbox id and channel only, never the
// number or the text.
func (p *Phone) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	p.mu.Lock()
	p.sent++
	id := fmt.Sprintf("DEV%08d", p.sent)
	p.mu.Unlock()
	// What an SMS shows: the text with its choices numbered.
	p.add(e.Channel, e.To, e.PatientID, &Message{Text: conversations.Numbered(e.Text, e.Labels), At: p.now(), Status: "delivered"})
	p.log().Info("dev phone: would send", "message", e.ID, "channel", e.Channel)
	if p.Receipts != nil && e.PatientID != "" {
		// As a status callback would: the console's open conversation
		// refreshes.
		rc := runner.Receipt{Channel: e.Channel, Status: "delivered"}
		if _, err := p.Receipts.Delivered(ctx, e.PatientID, e.ID, rc); err != nil {
			p.log().Warn("dev phone: recording the delivery", "message", e.ID, "err", err)
		}
	}
	return id, "delivered", nil
}

// add appends m to the conversation with address on channel, which moves
// to the top, and returns m.
func (p *Phone) add(channel, address, patientID string, m *Message) *Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c *conversation
	for i, x := range p.convs {
		if x.Channel == channel && x.Address == address {
			c = x
			copy(p.convs[1:i+1], p.convs[:i])
			p.convs[0] = c
			break
		}
	}
	if c == nil {
		c = &conversation{Channel: channel, Address: address}
		p.convs = append([]*conversation{c}, p.convs...)
		if len(p.convs) > maxConversations {
			p.convs = p.convs[:maxConversations]
		}
	}
	if patientID != "" {
		c.PatientID = patientID
	}
	c.Messages = append(c.Messages, m)
	if over := len(c.Messages) - maxMessages; over > 0 {
		c.Messages = append(c.Messages[:0], c.Messages[over:]...)
	}
	p.version++
	return m
}

// mark sets the status of a message the phone holds.
func (p *Phone) mark(m *Message, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.Status = status
	p.version++
}

// Messages returns the conversation with a phone number on a channel,
// oldest first.
func (p *Phone) Messages(channel, address string) []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.convs {
		if c.Channel == channel && c.Address == address {
			out := make([]Message, len(c.Messages))
			for i, m := range c.Messages {
				out[i] = *m
			}
			return out
		}
	}
	return nil
}

// newSID is a message id for an answer, shaped like Twilio's (two
// letters and 32 hex digits) and marked as the dev phone's.
func newSID() string {
	var b [16]byte
	rand.Read(b[:])
	return "DV" + hex.EncodeToString(b[:])
}
