package runner

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/conversations"
)

// cannedPrefix marks the pack's ready replies for staff ("canned.*" in
// every language's catalog).
const cannedPrefix = "canned."

// Canned is one ready reply of the pack, in the patient's language.
type Canned struct {
	ID, Text string
	// Template: WhatsApp has an approved template for it, so it may go
	// when the 24-hour window is closed.
	Template bool
}

// Composer is what a person replying to a patient needs to know first.
type Composer struct {
	// Channel is where a written reply goes now; "" when none can carry
	// it, and Why says why (opted_out, unreachable, window_closed...).
	Channel, Why string
	// Closed names a channel skipped because its window is closed
	// (WhatsApp a day after the patient last wrote): only a canned reply
	// with a template may go there.
	Closed string
	// Canned are the pack's ready replies in the patient's language.
	Canned []Canned
}

// Composer says where a reply to the ticket's patient would go and which
// ready replies there are. It changes nothing.
func (r *Runner) Composer(ctx context.Context, ticketID string) (Composer, error) {
	t, err := r.Store.Escalation(ctx, ticketID)
	if err != nil {
		return Composer{}, err
	}
	p, ss, err := r.Store.Load(ctx, t.PatientID)
	if err != nil {
		return Composer{}, err
	}
	var s conversations.Session
	if err := r.Engine.DecodeSession(ss.Data, &s); err != nil {
		return Composer{}, err
	}
	lang := r.Render.Lang(&s, &p)
	var out Composer
	c := conversations.ContactOf(&p, &s, r.Channels.Linked())
	out.Channel, out.Why, out.Closed = r.replyChannel(&c, r.Clock(), false)
	ids := []string{}
	for id := range r.Render.Pack.Catalog.Messages[lang] {
		if strings.HasPrefix(id, cannedPrefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		ef := conversations.Effect{Message: id}
		text, err := r.Render.Text(lang, &p, &ef)
		if err != nil {
			continue
		}
		sid, _ := r.Render.Template(lang, &p, &ef)
		out.Canned = append(out.Canned, Canned{ID: id, Text: text, Template: sid != ""})
	}
	return out, nil
}

// replyChannel picks the first channel of the patient's chain that may
// carry a person's reply now: not opted out, reachable, and, for a
// channel with a window (WhatsApp), inside it unless the reply has a
// template. why is the first reason a channel was passed over; closed
// names a channel passed over for its window.
func (r *Runner) replyChannel(c *conversations.Contact, now time.Time, template bool) (ch, why, closed string) {
	for _, each := range c.Chain {
		b := c.Blocked(each)
		if b == "" && r.Channels.Of(each).Window > 0 && !c.InWindow(now) && !template {
			b, closed = "window_closed", each
		}
		if b == "" {
			return each, "", closed
		}
		if why == "" {
			why = b
		}
	}
	return "", why, closed
}

// ReplyCanned sends one of the pack's ready replies (Composer.Canned), in
// the patient's language; on WhatsApp outside the window it goes as its
// template. Otherwise it is Reply.
func (r *Runner) ReplyCanned(ctx context.Context, ticketID, who, cannedID, dedupe string) (string, error) {
	if !strings.HasPrefix(cannedID, cannedPrefix) {
		return "", ErrInvalidText
	}
	return r.staffReply(ctx, ticketID, who, "", cannedID, dedupe)
}
