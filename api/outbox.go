package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Outbox is what the dead-letter endpoints ask of the Runner, which audits
// each call with who made it: messages the dispatcher gave up on when
// their retry window ended, for an operator to resend or cancel.
type Outbox interface {
	DeadLetters(ctx context.Context, by runner.Actor, after string, limit int) ([]store.OutboxEntry, error)
	ResendDeadLetter(ctx context.Context, by runner.Actor, id string) (store.OutboxEntry, error)
	CancelDeadLetter(ctx context.Context, by runner.Actor, id string) (store.OutboxEntry, error)
}

// outboxMessage is an outbox entry as the API writes it: what an operator
// needs to decide, and no text or number (a person reads the text on the
// patient's timeline, an audited read).
type outboxMessage struct {
	ID        string    `json:"id"`
	Patient   string    `json:"patient"`
	Channel   string    `json:"channel"`
	MessageID string    `json:"message_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	ErrorCode int       `json:"error_code,omitempty"`
	Attempts  int       `json:"attempts"`
}

func outboxMessageOf(e store.OutboxEntry, status string) outboxMessage {
	return outboxMessage{ID: e.ID, Patient: e.PatientID, Channel: e.Channel, MessageID: e.MessageID, Status: status,
		CreatedAt: e.CreatedAt, FailedAt: e.FailedAt, LastError: e.LastError, ErrorCode: e.ErrorCode, Attempts: e.Attempts}
}

// Paging of GET /outbox.
const (
	defaultOutboxPage = 100
	maxOutboxPage     = 1000
)

// listOutbox answers GET /outbox?status=failed&after=&limit=: dead
// letters, oldest first, a page at a time; "next", when present, is the
// after of the next page.
func (a *API) listOutbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("status"); s != "" && s != "failed" {
		writeError(w, http.StatusBadRequest, "status: only failed messages (dead letters) are listed")
		return
	}
	after := q.Get("after")
	if after != "" && !idRE.MatchString(after) {
		writeError(w, http.StatusBadRequest, "after: not a message id")
		return
	}
	limit := defaultOutboxPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOutboxPage {
			writeError(w, http.StatusBadRequest, "limit: 1 to "+strconv.Itoa(maxOutboxPage))
			return
		}
		limit = n
	}
	list, err := a.Outbox.DeadLetters(r.Context(), a.actor(r), after, limit)
	if err != nil {
		a.internal(w, "dead letters not read", err)
		return
	}
	out := make([]outboxMessage, len(list))
	for i, e := range list {
		out[i] = outboxMessageOf(e, "failed")
	}
	body := map[string]any{"messages": out}
	if len(list) == limit {
		body["next"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
}

// resendOutbox answers POST /outbox/{id}/resend.
func (a *API) resendOutbox(w http.ResponseWriter, r *http.Request) {
	a.settleOutbox(w, r, "resent", "queued", a.Outbox.ResendDeadLetter)
}

// cancelOutbox answers POST /outbox/{id}/cancel.
func (a *API) cancelOutbox(w http.ResponseWriter, r *http.Request) {
	a.settleOutbox(w, r, "cancelled", "cancelled", a.Outbox.CancelDeadLetter)
}

// settleOutbox runs an operator's decision on a dead letter: 404 when
// there is no such message, 409 when it is not failed (queued or being
// sent), and the message in its new status otherwise.
func (a *API) settleOutbox(w http.ResponseWriter, r *http.Request, done, status string,
	act func(context.Context, runner.Actor, string) (store.OutboxEntry, error)) {
	if !emptyBody(w, r) {
		return
	}
	id := chi.URLParam(r, "id")
	e, err := act(r.Context(), a.actor(r), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("outbox message %q not found", id))
	case errors.Is(err, store.ErrNotDead):
		writeError(w, http.StatusConflict, fmt.Sprintf("outbox message %q is not failed: it is queued or being sent", id))
	case errors.Is(err, runner.ErrNotAudited):
		a.internal(w, done+", but the audit record was not written", err)
	case err != nil:
		a.internal(w, "message not "+done, err)
	default:
		writeJSON(w, http.StatusOK, outboxMessageOf(e, status))
	}
}

// actor is who calls the API, for the audit log: the integrator's token,
// from the client's address.
func (a *API) actor(r *http.Request) runner.Actor {
	return runner.Actor{Staff: integrator, From: audit.From(r)}
}

// emptyBody accepts an action without a body, or with an empty JSON
// object: anything else is a 400, not silently ignored.
func emptyBody(w http.ResponseWriter, r *http.Request) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v struct{}
	if err := dec.Decode(&v); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON: this action takes no fields (send no body, or {})")
		return false
	}
	return true
}
