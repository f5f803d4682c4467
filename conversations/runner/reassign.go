package runner

import (
	"context"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Reassign hands a claimed conversation from its owner to another staff
// member (a coach going off shift, a question for a nurse), without giving
// it back to the automation in between: what was held stays held. from
// must own it (ErrNotOwner); the caller checks that to may see the
// patient's team. A timeline event "ticket" with status "reassigned" names
// the new owner.
func (r *Runner) Reassign(ctx context.Context, ticketID, from, to string) error {
	_, err := r.onTicket(ctx, "reassign", ticketID, "", func(w *work, t *store.Escalation) error {
		switch {
		case t.Status == store.TicketResolved || t.Status == "closed":
			return ErrResolved
		case w.s.Owner != from || t.Owner != from:
			return ErrNotOwner
		case to == from:
			return nil
		}
		if err := r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Claim, Staff: to}), w.now, &w.out); err != nil {
			return err
		}
		t.Owner, t.ClaimedAt = to, w.now
		w.c.Escalations = append(w.c.Escalations, *t)
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "ticket", At: w.now, Ticket: t.ID, Status: "reassigned", Staff: to})
		return nil
	})
	return err
}
