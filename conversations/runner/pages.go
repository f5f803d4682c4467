package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Re-paging: while a ticket nobody claimed nears its deadline, the on-call
// ladder of its team (Runner.Teams) is paged, one step every PageEvery of
// the team: the first number by SMS, then a call to it, then the next
// number by SMS and call, and round again, until someone acknowledges
// (presses 1 on a page call, or claims the ticket) or resolves it. Every
// page and the acknowledgement are "page" events on the patient's
// timeline, with the ticket and the number (Staff). Pages go to staff: no
// patient is named, and neither quiet hours nor the patient's consent
// apply (urgent outbox entries with no patient).

// pageTimer is the name of a ticket's paging timer on its patient.
func pageTimer(ticketID string) string { return "page|" + ticketID }

// Statuses of page events.
const (
	// PageSent: a page was queued (the SMS or the call is in the outbox).
	PageSent = "sent"
	// PageAcknowledged: an on-call number pressed 1 on a page call.
	PageAcknowledged = "acknowledged"
)

// firstPage is when an unclaimed ticket first pages: when a quarter of its
// time to answer is left (acute, by default: after 11¼ of its 15 minutes).
func (r *Runner) firstPage(t store.Escalation) time.Time {
	return t.Due.Add(-r.Teams.Of(t.Team).Deadlines.Of(t.Priority) / 4)
}

// armPages sets a waiting ticket's paging timer, when its team pages
// anyone and nobody acknowledged it: at its first page, or now if that
// has passed (a release late in the ticket's time).
func (r *Runner) armPages(w *work, t store.Escalation) {
	if len(r.Teams.Of(t.Team).OnCall) == 0 || !t.AckedAt.IsZero() {
		return
	}
	at := r.firstPage(t)
	if at.Before(w.now) {
		at = w.now
	}
	w.setTimer(pageTimer(t.ID), at)
}

// pageStep is one step of a ladder: step 2k texts the k-th number (round
// the ladder), step 2k+1 calls it.
func pageStep(ladder []string, step int) (to string, call bool) {
	return ladder[(step/2)%len(ladder)], step%2 == 1
}

// page runs a ticket's paging timer: nothing when the ticket was claimed,
// acknowledged or resolved, or its team pages nobody (the timer ends);
// otherwise the ladder's next step is queued and the timer set again. The
// page is committed first under a key naming the ticket and the step, so
// a fire that fails after it, and runs again, pages once.
func (r *Runner) page(ctx context.Context, t store.Timer) error {
	ticketID := strings.TrimPrefix(t.Name, "page|")
	tk, err := r.Store.Escalation(ctx, ticketID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	team := r.Teams.Of(tk.Team)
	if err != nil || len(team.OnCall) == 0 || !tk.Waiting() || !tk.AckedAt.IsZero() {
		return r.run(ctx, "page", t.PatientID, "", func(w *work) error {
			w.deleteTimer(t.Name)
			return nil
		})
	}
	if !r.stillDue(ctx, t) {
		return nil
	}
	evs, err := r.Store.Timeline(ctx, t.PatientID)
	if err != nil {
		return err
	}
	step := 0
	for _, ev := range evs {
		if ev.Type == "page" && ev.Ticket == ticketID && ev.Status != PageAcknowledged {
			step++
		}
	}
	to, call := pageStep(team.OnCall, step)
	now := r.Clock()
	e := store.OutboxEntry{ID: r.NewID(now), Channel: conversations.SMS, To: to, Ticket: ticketID, Urgent: true, NotBefore: now, CreatedAt: now,
		Text: fmt.Sprintf("Tend: a %s ticket is waiting, due %s UTC. Open %s/tickets/%s", tk.Priority, tk.Due.UTC().Format("15:04"),
			strings.TrimSuffix(r.ConsoleURL, "/"), tk.ID)}
	if call && !slices.Contains(r.Channels.Names(), conversations.Voice) {
		// The ticket is not the patient's words: its id and the step are
		// safe to log, the number is not.
		r.log().Warn("page call not placed: no voice channel configured; paging by SMS instead", "ticket", ticketID, "step", step)
		call = false
	}
	if call {
		e.Channel, e.Text = conversations.Voice, PageCallText(tk.Priority)
	}
	err = r.Store.Commit(ctx, store.Commit{DedupeKey: fmt.Sprintf("page:%s:%d", ticketID, step), Outbox: []store.OutboxEntry{e}})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	if err == nil && r.Notify != nil {
		r.Notify()
	}
	return r.run(ctx, "page", t.PatientID, "", func(w *work) error {
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "page", At: w.now, Ticket: ticketID, Channel: e.Channel,
			Status: PageSent, Staff: to})
		if r.stillDue(ctx, t) {
			// Not when the ticket was claimed or acknowledged meanwhile:
			// its timer went, and must not come back.
			w.setTimer(t.Name, w.now.Add(team.Every()))
		}
		return nil
	})
}

// PageCallText is what a page call says before it asks for the key: the
// ticket's priority, no patient.
func PageCallText(priority string) string {
	return fmt.Sprintf("This is Tend. A ticket of priority %s needs a person.", priority)
}

// PageAck is what pressing 1 on a page call did.
type PageAck int

const (
	// Acknowledged: the pages stop; the ticket waits for a claim in the
	// console.
	Acknowledged PageAck = iota
	// AlreadyAcknowledged: someone acknowledged the ticket before.
	AlreadyAcknowledged
	// NotWaiting: the ticket was claimed or resolved meanwhile.
	NotWaiting
)

// AcknowledgePage records that an on-call number (who) acknowledged the
// pages about a ticket: a "page" event with status acknowledged, the
// ticket's AckedBy and AckedAt, and no more pages (the ticket stays
// waiting for a claim). dedupe (the call and its key press) makes
// a retried request a no-op that answers Acknowledged.
func (r *Runner) AcknowledgePage(ctx context.Context, ticketID, who, dedupe string) (PageAck, error) {
	ack := Acknowledged
	w, err := r.onTicket(ctx, "page.ack", ticketID, dedupe, func(w *work, t *store.Escalation) error {
		switch {
		case !t.Waiting():
			ack = NotWaiting
			return nil
		case !t.AckedAt.IsZero():
			ack = AlreadyAcknowledged
			return nil
		}
		t.AckedBy, t.AckedAt = who, w.now
		w.c.Escalations = append(w.c.Escalations, *t)
		w.deleteTimer(pageTimer(t.ID))
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "page", At: w.now, Ticket: t.ID, Channel: conversations.Voice,
			Status: PageAcknowledged, Staff: who})
		return nil
	})
	if err != nil {
		return ack, err
	}
	if w.dup {
		return Acknowledged, nil
	}
	return ack, nil
}
