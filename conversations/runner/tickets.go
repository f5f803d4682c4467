package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Errors of the ticket actions; callers check them with errors.Is or
// errors.As.
var (
	// ErrNotOwner: the action needs the conversation's owner, and the
	// staff member is not (a reply or note on a ticket they did not claim).
	ErrNotOwner = errors.New("runner: the conversation is not owned by this staff member")
	// ErrResolved: the ticket was resolved.
	ErrResolved = errors.New("runner: the ticket is resolved")
	// ErrUnreachable: no channel can carry a person's message now (the
	// patient opted out of every channel, or none is linked); the error
	// says why.
	ErrUnreachable = errors.New("runner: no channel reaches the patient")
)

// OwnedError says who owns a conversation another staff member tried to
// claim.
type OwnedError struct{ Owner string }

func (e *OwnedError) Error() string { return "runner: the conversation is owned by " + e.Owner }

// MaxReply bounds a person's message: ten SMS segments, more than any
// reply a patient should have to read on a basic phone.
const MaxReply = 1530

// replyWindow: a person's message this soon after the patient's last one
// is a reply, exempt from quiet hours like the automation's replies.
const replyWindow = 24 * time.Hour

// escalate opens a ticket for an Escalate effect, or, when the patient has
// an open ticket for the same reason, attaches to it: the timeline records
// the escalation either way, and the ticket's priority only rises. A
// message outside any flow attaches to any open ticket, or, with none
// open, reopens the ticket resolved last if that was recent enough.
func (r *Runner) escalate(w *work, ef *conversations.Effect) {
	id := r.NewID(w.now)
	w.c.Events = append(w.c.Events, store.Event{ID: id, Type: "escalation", At: w.now, Priority: ef.Priority, Reason: ef.Reason, Flow: ef.Origin})
	if ef.Reason == conversations.ReasonPatientMessage {
		if len(w.s.Tickets) > 0 {
			return // a ticket is open: whoever works it reads this too
		}
		if r.reopens(w) {
			w.reopen = &reopening{id: id, ef: *ef}
			return
		}
	}
	for i, t := range w.s.Tickets {
		if t.Reason != ef.Reason {
			continue
		}
		if escalation.Rank(ef.Priority) > escalation.Rank(t.Priority) {
			w.s.Tickets[i].Priority = ef.Priority
			w.raise = append(w.raise, w.s.Tickets[i])
		}
		return
	}
	r.open(w, id, ef)
}

// open opens a ticket of the patient's team for an escalation.
func (r *Runner) open(w *work, id string, ef *conversations.Effect) {
	team := w.p.Team
	if team == "" {
		team = staff.DefaultTeam
	}
	t := store.Escalation{ID: id, PatientID: w.p.ID, Team: team, Priority: ef.Priority, Reason: ef.Reason,
		OpenedAt: w.now, Due: w.now.Add(w.team.Deadlines.Of(ef.Priority)), Status: store.TicketOpen}
	w.c.Escalations = append(w.c.Escalations, t)
	r.armPages(w, t)
	w.s.Tickets = append(w.s.Tickets, conversations.TicketRef{ID: id, Reason: ef.Reason, Priority: ef.Priority})
}

// reopens reports whether a message now reopens the patient's ticket
// resolved last: reopening is on and it was resolved within ReopenWithin.
func (r *Runner) reopens(w *work) bool {
	return r.ReopenWithin > 0 && w.s.Resolved != "" && w.now.Sub(time.Unix(w.s.ResolvedAt, 0)) <= r.ReopenWithin
}

// reopenTicket reopens the ticket a turn's escalation brought back: it
// waits for a claim again (status reopened, nobody's), due as a new ticket
// of the escalation's priority would be, paged again, and back among the
// session's open tickets; a "ticket" event says so. A ticket that is gone
// or no longer resolved is not reopened: a new one opens instead.
func (r *Runner) reopenTicket(ctx context.Context, w *work) error {
	if w.reopen == nil {
		return nil
	}
	ef := &w.reopen.ef
	newID := w.reopen.id
	w.reopen = nil
	id := w.s.Resolved
	w.s.Resolved, w.s.ResolvedAt = "", 0
	t, err := r.Store.Escalation(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Status != store.TicketResolved && t.Status != "closed") {
		r.open(w, newID, ef)
		return nil
	}
	if err != nil {
		return err
	}
	t.Status, t.Owner, t.ClaimedAt, t.ResolvedAt, t.AckedBy, t.AckedAt = store.TicketReopened, "", time.Time{}, time.Time{}, "", time.Time{}
	t.Priority, t.Due = ef.Priority, w.now.Add(r.Teams.Of(t.Team).Deadlines.Of(ef.Priority))
	w.c.Escalations = append(w.c.Escalations, t)
	w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "ticket", At: w.now, Ticket: t.ID, Status: store.TicketReopened,
		Priority: t.Priority})
	r.armPages(w, t)
	w.s.Tickets = append(w.s.Tickets, conversations.TicketRef{ID: t.ID, Reason: t.Reason, Priority: t.Priority})
	return nil
}

// raiseTickets rewrites the tickets a turn's escalations raised: the new
// priority, and the earlier of the two deadlines.
func (r *Runner) raiseTickets(ctx context.Context, w *work) error {
	for _, ref := range w.raise {
		t, err := r.Store.Escalation(ctx, ref.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // resolved and gone from an old store: nothing to raise
		}
		if err != nil {
			return err
		}
		t.Priority = ref.Priority
		if due := w.now.Add(r.Teams.Of(t.Team).Deadlines.Of(ref.Priority)); due.Before(t.Due) {
			t.Due = due
			if t.Waiting() {
				r.armPages(w, t)
			}
		}
		w.c.Escalations = append(w.c.Escalations, t)
	}
	w.raise = nil
	return nil
}

// Ticket returns one ticket; store.ErrNotFound if there is none.
func (r *Runner) Ticket(ctx context.Context, id string) (store.Escalation, error) {
	return r.Store.Escalation(ctx, id)
}

// onTicket runs fn as a turn of the ticket's patient with the ticket as
// stored at the start of that turn (a turn that conflicts reads it again).
func (r *Runner) onTicket(ctx context.Context, kind, ticketID, dedupe string, fn func(w *work, t *store.Escalation) error) (*work, error) {
	t, err := r.Store.Escalation(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	return r.runOn(ctx, kind, t.PatientID, dedupe, "", false, func(w *work) error {
		t, err := r.Store.Escalation(ctx, ticketID)
		if err != nil {
			return err
		}
		return fn(w, &t)
	})
}

// Claim gives the ticket's conversation to a staff member: the automation
// stops talking to the patient (but for emergencies, STOP and HELP) until
// they hand it back. Of two staff members claiming at once one wins; the
// other gets an *OwnedError naming the owner. Claiming again is a no-op.
func (r *Runner) Claim(ctx context.Context, ticketID, who string) (store.Escalation, error) {
	var claimed store.Escalation
	_, err := r.onTicket(ctx, "claim", ticketID, "", func(w *work, t *store.Escalation) error {
		switch {
		case t.Status == store.TicketResolved || t.Status == "closed":
			return ErrResolved
		case w.s.Owner != "" && w.s.Owner != who:
			return &OwnedError{Owner: w.s.Owner}
		}
		if w.s.Owner == "" {
			stale := w.now.Add(staleDaily).Unix()
			if err := r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Claim, Staff: who, Stale: stale}), w.now, &w.out); err != nil {
				return err
			}
		}
		if t.Status != store.TicketClaimed || t.Owner != who {
			t.Status, t.Owner, t.ClaimedAt = store.TicketClaimed, who, w.now
			w.c.Escalations = append(w.c.Escalations, *t)
			w.deleteTimer(pageTimer(t.ID)) // a claim acknowledges the pages
			w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "ticket", At: w.now, Ticket: t.ID, Status: "claimed", Staff: who})
		}
		claimed = *t
		return nil
	})
	return claimed, err
}

// Release gives a claimed ticket back to the team, unresolved: the
// automation has the conversation again (the starts held meanwhile run if
// still timely) and the ticket waits for someone else.
func (r *Runner) Release(ctx context.Context, ticketID, who string) error {
	_, err := r.onTicket(ctx, "release", ticketID, "", func(w *work, t *store.Escalation) error {
		if w.s.Owner != who {
			return ErrNotOwner
		}
		if err := r.handBack(w, ""); err != nil {
			return err
		}
		// Given back, it pages afresh: an earlier acknowledgement was
		// followed by a claim, and the claim is over.
		t.Status, t.Owner, t.ClaimedAt, t.AckedBy, t.AckedAt = store.TicketOpen, "", time.Time{}, "", time.Time{}
		w.c.Escalations = append(w.c.Escalations, *t)
		r.armPages(w, *t)
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "ticket", At: w.now, Ticket: t.ID, Status: "released", Staff: who})
		return nil
	})
	return err
}

// handBack returns the conversation to the automation, starting followUp
// (a flow id, or "") after the held starts.
func (r *Runner) handBack(w *work, followUp string) error {
	return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.HandBack, Flow: followUp}), w.now, &w.out)
}

// Resolve closes a ticket. When the staff member owns the conversation it
// goes back to the automation, with followUp (a flow of the pack, or "")
// started after whatever was held; a ticket nobody claimed may be resolved
// by anyone of the team. ErrNotOwner when someone else owns the
// conversation; conversations.ErrUnknownFlow for a follow-up the pack
// lacks. Resolving again is a no-op.
func (r *Runner) Resolve(ctx context.Context, ticketID, who, followUp string) error {
	if followUp != "" {
		if _, ok := r.Engine.Flow(followUp); !ok {
			return fmt.Errorf("%w %q", conversations.ErrUnknownFlow, followUp)
		}
	}
	_, err := r.onTicket(ctx, "resolve", ticketID, "", func(w *work, t *store.Escalation) error {
		if t.Status == store.TicketResolved || t.Status == "closed" {
			return nil
		}
		switch w.s.Owner {
		case who:
			if err := r.handBack(w, followUp); err != nil {
				return err
			}
		case "":
			if followUp != "" {
				if err := r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Start, Flow: followUp}), w.now, &w.out); err != nil {
					return err
				}
			}
		default:
			return ErrNotOwner
		}
		t.Status, t.ResolvedAt = store.TicketResolved, w.now
		w.deleteTimer(pageTimer(t.ID))
		if t.Owner == "" {
			t.Owner = who
		}
		w.c.Escalations = append(w.c.Escalations, *t)
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "ticket", At: w.now, Ticket: t.ID, Status: "resolved", Staff: who, Flow: followUp})
		w.s.Tickets = slices.DeleteFunc(w.s.Tickets, func(ref conversations.TicketRef) bool { return ref.ID == t.ID })
		w.s.Resolved, w.s.ResolvedAt = t.ID, w.now.Unix()
		r.closeEpisode(w, t)
		return nil
	})
	return err
}

// Note adds a private note to the ticket's conversation: it goes on the
// timeline for the team and is never sent.
func (r *Runner) Note(ctx context.Context, ticketID, who, text string) (eventID string, err error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 4000 {
		return "", fmt.Errorf("%w: a note has 1 to 4000 characters", ErrInvalidText)
	}
	_, err = r.onTicket(ctx, "note", ticketID, "", func(w *work, t *store.Escalation) error {
		eventID = r.NewID(w.now)
		w.c.Events = append(w.c.Events, store.Event{ID: eventID, Type: "note", At: w.now, Ticket: t.ID, Staff: who, Text: text})
		return nil
	})
	return eventID, err
}

// ErrInvalidText: an empty or too long message or note.
var ErrInvalidText = errors.New("runner: invalid text")

// Reply sends a person's message to the ticket's patient, through the
// outbox like any message: on the first channel of their chain that may
// carry it now, falling back along the chain like any other message, under
// the same consent rules, and exempt from quiet hours only as a reply (the
// patient wrote within a day). Only the conversation's owner may reply.
// dedupe, when set, makes a resubmitted reply a no-op (ErrDuplicate is
// not returned: the first reply stands). It returns the message's id.
func (r *Runner) Reply(ctx context.Context, ticketID, who, text, dedupe string) (messageID string, err error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > MaxReply {
		return "", fmt.Errorf("%w: a message has 1 to %d characters", ErrInvalidText, MaxReply)
	}
	return r.staffReply(ctx, ticketID, who, text, "", dedupe)
}

// staffReply queues a person's reply: text, or the pack's message canned
// rendered in the patient's language (with its WhatsApp template).
func (r *Runner) staffReply(ctx context.Context, ticketID, who, text, canned, dedupe string) (messageID string, err error) {
	if dedupe != "" {
		dedupe = "reply:" + dedupe
	}
	w, err := r.onTicket(ctx, "reply", ticketID, dedupe, func(w *work, t *store.Escalation) error {
		if w.s.Owner != who {
			return ErrNotOwner
		}
		e := store.OutboxEntry{PatientID: w.p.ID, Text: text, Timezone: w.p.Timezone, NotBefore: w.now, CreatedAt: w.now}
		if canned != "" {
			lang := r.Render.Lang(&w.s, &w.p)
			ef := conversations.Effect{Message: canned}
			var err error
			if e.Text, err = r.Render.Text(lang, &w.p, &ef); err != nil {
				return fmt.Errorf("%w: no ready reply %s in %s", ErrInvalidText, canned, lang)
			}
			e.MessageID = canned
			e.Template, e.Vars = r.Render.Template(lang, &w.p, &ef)
		}
		c := conversations.ContactOf(&w.p, &w.s, w.linked)
		ch, why, _ := r.replyChannel(&c, w.now, e.Template != "")
		if ch == "" {
			return fmt.Errorf("%w: %s", ErrUnreachable, why)
		}
		messageID = r.NewID(w.now)
		e.ID, e.Channel, e.To = messageID, ch, r.address(&w.p, ch)
		e.Reply = w.s.LastIn != 0 && w.now.Sub(time.Unix(w.s.LastIn, 0)) < replyWindow
		w.c.Outbox = append(w.c.Outbox, e)
		w.c.Events = append(w.c.Events, store.Event{ID: messageID, Type: "message.out", At: w.now, Channel: ch, Text: e.Text, Status: "queued",
			Staff: who, Ticket: t.ID, Message: canned})
		return nil
	})
	if err == nil && w != nil && w.dup {
		return "", nil
	}
	return messageID, err
}
