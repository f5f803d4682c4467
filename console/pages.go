package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

type inboxRow struct {
	ID, Priority, Reason, Patient, Team, Owner, DueIn string
	Overdue                                           bool
	// Reopened: the patient wrote again soon after it was resolved.
	Reopened bool
	due      time.Time
}

type inboxData struct {
	page
	Tickets []inboxRow
	Counts  struct{ Open, Claimed, Mine int }
}

// inbox lists the open and claimed tickets of the staff member's teams,
// soonest deadline first.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	d := inboxData{page: page{Title: "Inbox", Staff: a, Flash: r.URL.Query().Get("flash")}}
	for _, status := range []string{store.TicketOpen, store.TicketClaimed} {
		list, err := c.Backend.Escalations(r.Context(), status)
		if err != nil {
			c.fail(w, "tickets not read", err)
			return
		}
		for _, t := range list {
			if !a.Sees(t.Team) {
				continue
			}
			if status == store.TicketOpen {
				d.Counts.Open++
			} else {
				d.Counts.Claimed++
			}
			if t.Owner == a.Email {
				d.Counts.Mine++
			}
			team := t.Team
			if team == "" {
				team = staff.DefaultTeam
			}
			d.Tickets = append(d.Tickets, inboxRow{ID: t.ID, Priority: t.Priority, Reason: t.Reason, Patient: t.PatientID, Team: team,
				Owner: t.Owner, DueIn: dueIn(t.Due, now), Overdue: now.After(t.Due), Reopened: t.Status == store.TicketReopened, due: t.Due})
		}
	}
	slices.SortStableFunc(d.Tickets, func(x, y inboxRow) int { return x.due.Compare(y.due) })
	if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: audit.ListTickets, From: clientAddr(r)}); err != nil {
		c.fail(w, "audit record not written", err)
		return
	}
	c.render(w, http.StatusOK, "inbox", d)
}

// dueIn says how long until (or since) a deadline, as a countdown.
func dueIn(due, now time.Time) string {
	d := due.Sub(now).Round(time.Minute)
	if d < 0 {
		return fmt.Sprintf("overdue %s", shortDuration(-d))
	}
	return "in " + shortDuration(d)
}

func shortDuration(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h >= 48:
		return fmt.Sprintf("%dd", h/24)
	case h > 0:
		return fmt.Sprintf("%dh %02dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

type eventRow struct {
	At, Class, What, Text string
}

type ticketData struct {
	page
	Ticket    store.Escalation
	Patient   store.Patient
	Channels  []string
	LocalTime string
	DueIn     string
	Mine      bool
	Events    []eventRow
	Flows     []string
	RequestID string
}

// ticketFor reads the ticket of the URL and checks the staff member may
// see it: another team's is a 404, and the attempt is audited.
func (c *Console) ticketFor(w http.ResponseWriter, r *http.Request) (store.Escalation, bool) {
	a := current(r)
	t, err := c.Backend.Ticket(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return t, false
	}
	if err != nil {
		c.fail(w, "ticket not read", err)
		return t, false
	}
	if !a.Sees(t.Team) {
		c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: audit.ViewPatient, Patient: t.PatientID, Ticket: t.ID,
			From: clientAddr(r), Detail: "refused: another team"})
		http.NotFound(w, r)
		return t, false
	}
	return t, true
}

// ticketPage shows a ticket's conversation and what can be done with it.
func (c *Console) ticketPage(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	t, ok := c.ticketFor(w, r)
	if !ok {
		return
	}
	if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: audit.ViewTimeline, Patient: t.PatientID, Ticket: t.ID, From: clientAddr(r)}); err != nil {
		c.fail(w, "audit record not written", err)
		return
	}
	d := ticketData{page: page{Title: t.Priority + " ticket", Staff: a, Flash: r.URL.Query().Get("flash")}, Ticket: t,
		DueIn: dueIn(t.Due, now), Mine: t.Owner == a.Email && t.Status == store.TicketClaimed, Flows: c.Flows, RequestID: randomID()}
	if d.Ticket.Status == "closed" {
		d.Ticket.Status = store.TicketResolved
	}
	p, err := c.Backend.Patient(r.Context(), t.PatientID)
	switch {
	case err == nil:
		d.Patient = p
		d.Channels = conversations.Chain(p.Channel, p.Channels)
		if loc, err := time.LoadLocation(p.Timezone); err == nil {
			d.LocalTime = now.In(loc).Format("Mon 15:04")
		}
	case !errors.Is(err, store.ErrNotFound):
		c.fail(w, "patient not read", err)
		return
	default:
		d.Patient.ID = t.PatientID + " (unenrolled)"
	}
	events, err := c.Backend.Timeline(r.Context(), t.PatientID)
	if err != nil {
		c.fail(w, "timeline not read", err)
		return
	}
	for _, ev := range events {
		d.Events = append(d.Events, eventOf(ev, p.Timezone))
	}
	slices.Reverse(d.Events) // newest first
	c.render(w, http.StatusOK, "ticket", d)
}

// eventOf is one timeline line: what happened, in words a nurse reads at a
// glance.
func eventOf(ev store.Event, tz string) eventRow {
	at := ev.At
	if loc, err := time.LoadLocation(tz); err == nil {
		at = at.In(loc)
	}
	row := eventRow{At: at.Format("Jan 2 15:04"), Class: ev.Type}
	switch ev.Type {
	case "message.in":
		row.Class, row.What, row.Text = "in", "patient ("+ev.Channel+")", ev.Text
	case "message.out":
		who := "Tend"
		if ev.Staff != "" {
			who = ev.Staff
		}
		row.Class, row.What, row.Text = "out", fmt.Sprintf("%s (%s, %s)", who, ev.Channel, ev.Status), ev.Text
	case "note":
		row.What, row.Text = "note by "+ev.Staff, ev.Text
	case "ticket":
		row.What = fmt.Sprintf("ticket %s by %s", ev.Status, ev.Staff)
		if ev.Staff == "" {
			row.What = "ticket " + ev.Status // reopened: the patient wrote again
		}
	case "escalation":
		row.What = fmt.Sprintf("escalation: %s (%s)", ev.Reason, ev.Priority)
	case "adherence":
		row.What = fmt.Sprintf("dose %s: %s", ev.Medication, strings.ReplaceAll(ev.Status, "_", " "))
	case "quiz":
		ok := "wrong"
		if ev.Correct != nil && *ev.Correct {
			ok = "right"
		}
		row.What = fmt.Sprintf("quiz %s %s: %s", ev.Quiz, ev.Question, ok)
	default:
		row.What = strings.TrimSpace(ev.Type + " " + ev.Channel + " " + ev.Status)
	}
	return row
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// act runs claim, reply, note or resolve from a form and goes back to the
// ticket with what happened; a refusal (someone else has it, not yours,
// opted out) is said on the page, nothing is lost.
func (c *Console) act(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	t, ok := c.ticketFor(w, r)
	if !ok {
		return
	}
	action, text := chi.URLParam(r, "action"), r.PostForm.Get("text")
	var err error
	flash, detail := "", ""
	switch action {
	case audit.Claim:
		_, err = c.Backend.Claim(r.Context(), t.ID, a.Email)
		flash = "Claimed: the automation waits until you hand the conversation back."
	case audit.Reply:
		detail, err = c.Backend.Reply(r.Context(), t.ID, a.Email, text, r.PostForm.Get("request_id"))
		flash = "Reply queued."
	case audit.Note:
		detail, err = c.Backend.Note(r.Context(), t.ID, a.Email, text)
		flash = "Note added."
	case audit.Resolve:
		detail = r.PostForm.Get("follow_up")
		err = c.Backend.Resolve(r.Context(), t.ID, a.Email, detail)
		flash = "Resolved and handed back."
	default:
		http.NotFound(w, r)
		return
	}
	var owned *runner.OwnedError
	switch {
	case errors.As(err, &owned):
		flash = "Not claimed: " + owned.Owner + " has this conversation."
	case errors.Is(err, runner.ErrNotOwner):
		flash = "Claim the ticket first: only its owner can do that."
	case errors.Is(err, runner.ErrResolved):
		flash = "The ticket is resolved."
	case errors.Is(err, runner.ErrUnreachable), errors.Is(err, runner.ErrInvalidText), errors.Is(err, conversations.ErrUnknownFlow):
		flash = "Not sent: " + err.Error()
	case err != nil:
		c.fail(w, action+" failed", err)
		return
	default:
		if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: action, Patient: t.PatientID, Ticket: t.ID,
			From: clientAddr(r), Detail: detail}); err != nil {
			c.fail(w, "audit record not written", err)
			return
		}
	}
	target := "/console/tickets/" + t.ID
	if action == audit.Resolve && err == nil {
		target = "/console/"
	}
	http.Redirect(w, r, target+"?flash="+url.QueryEscape(flash), http.StatusSeeOther)
}
