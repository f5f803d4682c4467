package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Tickets is what the ticket endpoints ask of the Runner: integrators act
// on behalf of a staff member named in the request, under the same rules
// as the console (one owner, replies through the outbox).
type Tickets interface {
	Escalations(ctx context.Context, status string) ([]store.Escalation, error)
	Ticket(ctx context.Context, id string) (store.Escalation, error)
	Claim(ctx context.Context, ticketID, who string) (store.Escalation, error)
	Reply(ctx context.Context, ticketID, who, text, dedupe string) (messageID string, err error)
	Note(ctx context.Context, ticketID, who, text string) (eventID string, err error)
	Resolve(ctx context.Context, ticketID, who, followUp string) error
	StaffAccount(ctx context.Context, email string) (staff.Account, error)
}

// ticket is a ticket as the API writes it.
type ticket struct {
	ID       string    `json:"id"`
	Patient  string    `json:"patient"`
	Team     string    `json:"team"`
	Priority string    `json:"priority"`
	Reason   string    `json:"reason"`
	Status   string    `json:"status"`
	Owner    string    `json:"owner"`
	OpenedAt time.Time `json:"opened_at"`
	Due      time.Time `json:"due"`
	// AckedAt: an on-call person acknowledged a page about the ticket
	// (pressed 1 on the page call); it still waits for a claim.
	AckedAt *time.Time `json:"acked_at,omitempty"`
}

func ticketOf(e store.Escalation) ticket {
	t := ticket{ID: e.ID, Patient: e.PatientID, Team: e.Team, Priority: e.Priority, Reason: e.Reason,
		Status: e.Status, Owner: e.Owner, OpenedAt: e.OpenedAt, Due: e.Due}
	if !e.AckedAt.IsZero() {
		t.AckedAt = &e.AckedAt
	}
	if t.Team == "" {
		t.Team = staff.DefaultTeam
	}
	if t.Status == "closed" {
		t.Status = store.TicketResolved // written before tickets could be claimed
	}
	return t
}

// listTickets answers GET /tickets?status=open|claimed|resolved|reopened&team=.
// open lists every ticket waiting for a claim, the reopened ones included
// (their status says reopened); reopened lists only those.
func (a *API) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, team := q.Get("status"), q.Get("team")
	statuses := []string{status}
	switch status {
	case "", store.TicketOpen, store.TicketClaimed, store.TicketReopened:
	case store.TicketResolved:
		statuses = append(statuses, "closed")
	default:
		writeError(w, http.StatusBadRequest, "status: want open, claimed, resolved or reopened")
		return
	}
	if team != "" && !staff.ValidTeam(team) {
		writeError(w, http.StatusBadRequest, "team: not a team name")
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.ListTickets, Detail: team}) {
		return
	}
	out := []ticket{}
	for _, s := range statuses {
		list, err := a.Tickets.Escalations(r.Context(), s)
		if err != nil {
			a.internal(w, "tickets not read", err)
			return
		}
		for _, e := range list {
			if t := ticketOf(e); team == "" || t.Team == team {
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y ticket) int { return x.Due.Compare(y.Due) })
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out})
}

// actRequest is the body of the ticket actions.
type actRequest struct {
	Staff    string `json:"staff"`
	Text     string `json:"text"`
	FollowUp string `json:"follow_up"`
	// RequestID, when set, makes a resubmitted reply a no-op.
	RequestID string `json:"request_id"`

	ticket store.Escalation // the ticket, as act read it
}

// done audits an action that succeeded, naming its ticket and patient.
func (a *API) done(w http.ResponseWriter, r *http.Request, req actRequest, action, detail string) bool {
	return a.audit(w, r, audit.Record{Staff: req.Staff, Action: action, Ticket: req.ticket.ID, Patient: req.ticket.PatientID, Detail: detail})
}

// act decodes an action's body and checks the staff member: an account,
// not disabled, of the ticket's team (an admin's are all teams). A ticket
// of another team is a 404, as if it did not exist. It writes the error
// response and returns false when the request goes no further.
func (a *API) act(w http.ResponseWriter, r *http.Request) (actRequest, bool) {
	var req actRequest
	if !decodeStrict(w, r, &req) {
		return req, false
	}
	email, err := staff.NormalizeEmail(req.Staff)
	if err != nil {
		writeError(w, http.StatusBadRequest, "staff: the email of the staff member acting")
		return req, false
	}
	req.Staff = email
	acct, err := a.Tickets.StaffAccount(r.Context(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusBadRequest, "staff: no account for "+email+" (tend staff add)")
		return req, false
	case err != nil:
		a.internal(w, "staff account not read", err)
		return req, false
	case acct.Disabled:
		writeError(w, http.StatusForbidden, "staff: the account is disabled")
		return req, false
	}
	t, err := a.Tickets.Ticket(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.ticketError(w, err)
		return req, false
	}
	if !acct.Sees(t.Team) {
		// Not theirs to see, and the attempt is on the record.
		a.audit(w, r, audit.Record{Staff: email, Action: audit.ViewPatient, Ticket: t.ID, Patient: t.PatientID, Detail: "refused: another team"})
		a.ticketError(w, store.ErrNotFound)
		return req, false
	}
	req.ticket = t
	return req, true
}

// ticketError maps the Runner's answer to a status.
func (a *API) ticketError(w http.ResponseWriter, err error) {
	var owned *runner.OwnedError
	switch {
	case errors.As(err, &owned):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the conversation is owned by someone else", "owner": owned.Owner})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such ticket, or its patient was unenrolled")
	case errors.Is(err, runner.ErrNotOwner):
		writeError(w, http.StatusConflict, "the staff member does not own this ticket's conversation: claim it first")
	case errors.Is(err, runner.ErrResolved):
		writeError(w, http.StatusConflict, "the ticket is resolved")
	case errors.Is(err, runner.ErrUnreachable):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, runner.ErrInvalidText):
		writeError(w, http.StatusBadRequest, "text: "+err.Error())
	case errors.Is(err, conversations.ErrUnknownFlow):
		writeError(w, http.StatusBadRequest, "follow_up: no such flow in the content pack")
	default:
		a.internal(w, "ticket not changed", err)
	}
}

func (a *API) claimTicket(w http.ResponseWriter, r *http.Request) {
	req, ok := a.act(w, r)
	if !ok {
		return
	}
	t, err := a.Tickets.Claim(r.Context(), chi.URLParam(r, "id"), req.Staff)
	if err != nil {
		a.ticketError(w, err)
		return
	}
	if !a.done(w, r, req, audit.Claim, "") {
		return
	}
	writeJSON(w, http.StatusOK, ticketOf(t))
}

func (a *API) replyTicket(w http.ResponseWriter, r *http.Request) {
	req, ok := a.act(w, r)
	if !ok {
		return
	}
	id, err := a.Tickets.Reply(r.Context(), chi.URLParam(r, "id"), req.Staff, req.Text, req.RequestID)
	if err != nil {
		a.ticketError(w, err)
		return
	}
	if !a.done(w, r, req, audit.Reply, id) {
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"message": id, "duplicate": id == ""})
}

func (a *API) noteTicket(w http.ResponseWriter, r *http.Request) {
	req, ok := a.act(w, r)
	if !ok {
		return
	}
	id, err := a.Tickets.Note(r.Context(), chi.URLParam(r, "id"), req.Staff, req.Text)
	if err != nil {
		a.ticketError(w, err)
		return
	}
	if !a.done(w, r, req, audit.Note, id) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"note": id})
}

func (a *API) resolveTicket(w http.ResponseWriter, r *http.Request) {
	req, ok := a.act(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	if err := a.Tickets.Resolve(r.Context(), id, req.Staff, req.FollowUp); err != nil {
		a.ticketError(w, err)
		return
	}
	if !a.done(w, r, req, audit.Resolve, req.FollowUp) {
		return
	}
	t, err := a.Tickets.Ticket(r.Context(), id)
	if err != nil {
		a.ticketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ticketOf(t))
}
