package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/store"
)

// Pager re-pages the care team while a ticket's deadline is about to pass
// and nobody has claimed it: an SMS to each number of the ladder in turn,
// every Every, until someone claims (acknowledges) or resolves the ticket.
// Every page is on the patient's timeline as a "page" event with the
// ticket.
type Pager struct {
	// Ladder is the on-call numbers (E.164), first to page first; after
	// the last it starts again from the first.
	Ladder []string
	// Every is the time between two pages (DefaultPageEvery when 0).
	Every time.Duration
	// ConsoleURL is where a page points (the public URL's /console/).
	ConsoleURL string
}

// DefaultPageEvery is the time between two pages of one ticket.
const DefaultPageEvery = 10 * time.Minute

// pageTimer is the name of a ticket's paging timer on its patient.
func pageTimer(ticketID string) string { return "page|" + ticketID }

// firstPage is when an unclaimed ticket first pages: when a quarter of its
// time to answer is left (acute: after 11¼ of its 15 minutes).
func firstPage(t store.Escalation) time.Time {
	return t.Due.Add(-escalation.Deadline(t.Priority) / 4)
}

func (r *Runner) every() time.Duration {
	if r.Pager != nil && r.Pager.Every > 0 {
		return r.Pager.Every
	}
	return DefaultPageEvery
}

// page runs a ticket's paging timer: nothing when the ticket was claimed
// or resolved (the timer ends); otherwise the next number of the ladder
// gets an SMS, which names no patient, and the timer is set again. The SMS
// is committed first under a key naming the ticket and the step, so a fire
// that fails after it, and runs again, pages once.
func (r *Runner) page(ctx context.Context, t store.Timer) error {
	ticketID := strings.TrimPrefix(t.Name, "page|")
	tk, err := r.Store.Escalation(ctx, ticketID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if r.Pager == nil || len(r.Pager.Ladder) == 0 || !tk.Waiting() {
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
		if ev.Type == "page" && ev.Ticket == ticketID {
			step++
		}
	}
	to := r.Pager.Ladder[step%len(r.Pager.Ladder)]
	now := r.Clock()
	text := fmt.Sprintf("Tend: a %s ticket is waiting, due %s UTC. Open %s/tickets/%s", tk.Priority, tk.Due.UTC().Format("15:04"),
		strings.TrimSuffix(r.Pager.ConsoleURL, "/"), tk.ID)
	err = r.Store.Commit(ctx, store.Commit{DedupeKey: fmt.Sprintf("page:%s:%d", ticketID, step), Outbox: []store.OutboxEntry{{
		ID: r.NewID(now), Channel: conversations.SMS, To: to, Text: text, Urgent: true, NotBefore: now, CreatedAt: now}}})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	if err == nil && r.Notify != nil {
		r.Notify()
	}
	return r.run(ctx, "page", t.PatientID, "", func(w *work) error {
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "page", At: w.now, Ticket: ticketID, Channel: conversations.SMS,
			Status: "sent", Staff: to})
		w.setTimer(t.Name, w.now.Add(r.every()))
		return nil
	})
}
