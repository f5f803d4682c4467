package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Re-paging: while a ticket nobody claimed nears its deadline, the on-call
// ladder of its team (Runner.Teams) is paged, one number after the other,
// every PageEvery of the team, until someone claims (acknowledges) or
// resolves the ticket. Every page is on the patient's timeline as a "page"
// event with the ticket.

// pageTimer is the name of a ticket's paging timer on its patient.
func pageTimer(ticketID string) string { return "page|" + ticketID }

// firstPage is when an unclaimed ticket first pages: when a quarter of its
// time to answer is left (acute, by default: after 11¼ of its 15 minutes).
func (r *Runner) firstPage(t store.Escalation) time.Time {
	return t.Due.Add(-r.Teams.Of(t.Team).Deadlines.Of(t.Priority) / 4)
}

// armPages sets a waiting ticket's paging timer, when its team pages
// anyone: at its first page, or now if that has passed (a release late in
// the ticket's time).
func (r *Runner) armPages(w *work, t store.Escalation) {
	if len(r.Teams.Of(t.Team).OnCall) == 0 {
		return
	}
	at := r.firstPage(t)
	if at.Before(w.now) {
		at = w.now
	}
	w.setTimer(pageTimer(t.ID), at)
}

// page runs a ticket's paging timer: nothing when the ticket was claimed
// or resolved, or its team pages nobody (the timer ends); otherwise the
// next number of the team's ladder gets an SMS, which names no patient,
// and the timer is set again. The SMS is committed first under a key
// naming the ticket and the step, so a fire that fails after it, and runs
// again, pages once.
func (r *Runner) page(ctx context.Context, t store.Timer) error {
	ticketID := strings.TrimPrefix(t.Name, "page|")
	tk, err := r.Store.Escalation(ctx, ticketID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	team := r.Teams.Of(tk.Team)
	if err != nil || len(team.OnCall) == 0 || !tk.Waiting() {
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
	to := team.OnCall[step%len(team.OnCall)]
	now := r.Clock()
	text := fmt.Sprintf("Tend: a %s ticket is waiting, due %s UTC. Open %s/tickets/%s", tk.Priority, tk.Due.UTC().Format("15:04"),
		strings.TrimSuffix(r.ConsoleURL, "/"), tk.ID)
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
		if r.stillDue(ctx, t) {
			// Not when the ticket was claimed or acknowledged meanwhile:
			// its timer went, and must not come back.
			w.setTimer(t.Name, w.now.Add(team.Every()))
		}
		return nil
	})
}
