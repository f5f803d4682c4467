package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Runner is what the API asks of the conversation runner, the one owner of
// every state change, and what it reads through it. The rules of a
// conversation (what a replace keeps, where a flow's parameters come from,
// what unenrolling leaves) live there; the API checks requests and maps
// errors to statuses.
type Runner interface {
	Enroll(ctx context.Context, p store.Patient) (created bool, err error)
	Unenroll(ctx context.Context, patientID string) error
	ResolveParams(ctx context.Context, patientID, flow string, given map[string]string) ([]conversations.Param, error)
	StartFlow(ctx context.Context, patientID, flow string, params []conversations.Param) error
	Patient(ctx context.Context, patientID string) (store.Patient, error)
	Timeline(ctx context.Context, patientID string) ([]store.Event, error)
	Escalations(ctx context.Context, status string) ([]store.Escalation, error)
}

// API serves /api/v1 for clinics and integrators.
type API struct {
	Runner Runner
	// Tickets serves the ticket actions (the Runner); nil leaves them out.
	Tickets Tickets
	// Outbox serves the dead letters (the Runner); nil leaves them out.
	Outbox Outbox
	// Jobs runs bulk requests in the background (the Runner): a flow
	// start for more than 100 patients and POST /patients:batch. Nil
	// leaves the batch out and serves every flow start within its request.
	Jobs Jobs
	// MaxBulk is the most patients one request may name (a flow start, a
	// batch of enrollments); 0 means DefaultMaxBulk.
	MaxBulk int
	// Patients serves erasure and the listing of enrollments (the
	// Runner); nil answers those with 501.
	Patients Patients
	// Adherence records pharmacy fills and reads adherence (the Runner);
	// nil leaves those routes out.
	Adherence Adherence
	// Readings records home readings (the Runner); nil leaves out
	// POST /patients/{id}/readings and the FHIR endpoint.
	Readings Readings
	// Audit records every read of a patient's data and every action (the
	// Runner); nil records nothing (tests that do not look at it).
	Audit  Auditor
	Engine *conversations.Engine
	Token  string
	Log    *slog.Logger
	// Channels lists the channels patients may be enrolled on.
	Channels []string
	// TelegramLinks makes the links that connect a patient's Telegram
	// chat; nil when Telegram is not configured.
	TelegramLinks TelegramLinks
	// Clock is the time enrollments are checked against (an appointment
	// in the past is refused); nil is time.Now. Give it the Runner's.
	Clock func() time.Time
	// MaxMedications and MaxTimes cap an enrollment's medications and
	// each medication's times (TEND_MAX_MEDICATIONS, TEND_MAX_TIMES);
	// zero is DefaultMaxMedications, DefaultMaxTimes.
	MaxMedications, MaxTimes int
}

// TelegramLinks creates single-use Telegram deep links (telegram.Links).
type TelegramLinks interface {
	Create(ctx context.Context, patientID string) (url string, expires time.Time, err error)
}

// openAPI describes the routes (served at /openapi.json, without the
// token: it holds no data).
//
//go:embed openapi.json
var openAPI []byte

// Routes returns the API's routes, all behind the bearer token but the
// OpenAPI document.
func (a *API) Routes() http.Handler {
	root := chi.NewRouter()
	root.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	r := root.With(a.auth)
	r.Post("/patients", a.putPatient)
	r.Get("/patients", a.listPatients)
	r.Get("/patients/{id}", a.getPatient)
	r.Delete("/patients/{id}", a.deletePatient)
	r.Get("/patients/{id}/timeline", a.timeline)
	r.Post("/patients/{id}/telegram-link", a.telegramLink)
	if a.Adherence != nil {
		r.Post("/patients/{id}/dispenses", a.postDispenses)
		r.Get("/patients/{id}/adherence", a.getAdherence)
	}
	r.Post("/flow-starts", a.startFlows)
	if a.Readings != nil {
		r.Post("/patients/{id}/readings", a.postReadings)
	}
	if a.Jobs != nil {
		// A literal colon: chi matches "/patients:batch" as its own static
		// route, apart from "/patients" and "/patients/{id}".
		r.Post("/patients:batch", a.enrollBatch)
		r.Get("/jobs/{id}", a.getJob)
	}
	r.Get("/escalations", a.escalations)
	if a.Tickets != nil {
		r.Get("/tickets", a.listTickets)
		r.Post("/tickets/{id}/claim", a.claimTicket)
		r.Post("/tickets/{id}/reply", a.replyTicket)
		r.Post("/tickets/{id}/notes", a.noteTicket)
		r.Post("/tickets/{id}/resolve", a.resolveTicket)
	}
	if a.Audit != nil {
		r.Get("/audit", a.listAudit)
	}
	if a.Outbox != nil {
		r.Get("/outbox", a.listOutbox)
		r.Post("/outbox/{id}/resend", a.resendOutbox)
		r.Post("/outbox/{id}/cancel", a.cancelOutbox)
	}
	return root
}

func (a *API) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + a.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if a.Token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tend"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	writeJSONBody(w, status, v)
}

// writeJSONBody writes v with the Content-Type already set.
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (a *API) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// internal answers a store failure without leaking details to the client.
func (a *API) internal(w http.ResponseWriter, what string, err error) {
	a.log().Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, what)
}

// decodeStrict reads a request body that must hold exactly one object of
// known fields: a misspelt field is an error, not a silent default.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	// More would let a stray "}" or "]" through; only the end will do.
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		writeError(w, http.StatusBadRequest, "malformed JSON: data after the object")
		return false
	}
	return true
}

func (a *API) getPatient(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	p, err := a.Runner.Patient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "patient not read", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.ViewPatient, Patient: id}) {
		return
	}
	writeJSON(w, http.StatusOK, patientOf(p))
}

// deletePatient answers DELETE /patients/{id}: it unenrolls, keeping
// the timeline and tickets, or with ?erase=true erases everything of the
// patient but the audit log (erasePatient).
func (a *API) deletePatient(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	switch v := r.URL.Query().Get("erase"); v {
	case "true":
		a.erasePatient(w, r, id)
		return
	case "", "false":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("erase: %q is not true or false", v))
		return
	}
	err := a.Runner.Unenroll(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "patient not unenrolled", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.Unenroll, Patient: id}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	events, err := a.Runner.Timeline(r.Context(), id)
	if err != nil {
		a.internal(w, "timeline not read", err)
		return
	}
	if len(events) == 0 {
		if _, err := a.Runner.Patient(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
			return
		}
	}
	if events == nil {
		events = []store.Event{}
	}
	if !a.audit(w, r, audit.Record{Action: audit.ViewTimeline, Patient: id}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

type flowStart struct {
	Flow     string            `json:"flow"`
	Patients []string          `json:"patients"`
	Params   map[string]string `json:"params"`
}

// startFlows removes repeated ids and refuses more than MaxBulk. Up to
// syncStarts patients it validates every one before starting any, so a bad
// request starts nothing, and answers when they are started; a longer
// list is a job (startFlowsJob), whose failures are counted per patient.
func (a *API) startFlows(w http.ResponseWriter, r *http.Request) {
	var req flowStart
	if !a.decodeFlowStart(w, r, &req) {
		return
	}
	declared, ok := a.Engine.Flow(req.Flow)
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("flow: unknown flow %q", req.Flow))
		return
	}
	// Undeclared and malformed parameters are the request's fault
	// whoever the patients are; say so once.
	if err := declared.CheckGiven(req.Params); err != nil {
		writeError(w, http.StatusBadRequest, "params."+err.Error())
		return
	}
	if len(req.Patients) == 0 {
		writeError(w, http.StatusBadRequest, "patients: at least one patient id is required")
		return
	}
	ids, duplicates := unique(req.Patients)
	if max := a.maxBulk(); len(ids) > max {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("patients: %d patients, more than the %d one request may name (TEND_MAX_BULK); split the list", len(ids), max))
		return
	}
	req.Patients = ids
	if len(ids) > syncStarts && a.Jobs != nil {
		a.startFlowsJob(w, r, req, duplicates)
		return
	}
	starts := make([][]conversations.Param, len(req.Patients))
	for i, id := range req.Patients {
		params, err := a.Runner.ResolveParams(r.Context(), id, req.Flow, req.Params)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, fmt.Sprintf("patients: patient %q not found", id))
			return
		case errors.As(err, new(*conversations.ParamError)):
			writeError(w, http.StatusBadRequest, fmt.Sprintf("params.%v (patient %q)", err, id))
			return
		case err != nil:
			a.internal(w, "patient not read", err)
			return
		}
		starts[i] = params
	}
	for i, id := range req.Patients {
		if err := a.Runner.StartFlow(r.Context(), id, req.Flow, starts[i]); err != nil && !errors.Is(err, store.ErrNotFound) {
			a.internal(w, "flow not started", err)
			return
		}
		if !a.audit(w, r, audit.Record{Action: audit.StartFlow, Patient: id, Detail: req.Flow}) {
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"flow": req.Flow, "patients": req.Patients, "duplicates": duplicates})
}

func (a *API) escalations(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && status != "open" && status != "closed" {
		writeError(w, http.StatusBadRequest, "status: want open or closed")
		return
	}
	list, err := a.Runner.Escalations(r.Context(), status)
	if err != nil {
		a.internal(w, "escalations not read", err)
		return
	}
	if list == nil {
		list = []store.Escalation{}
	}
	if !a.audit(w, r, audit.Record{Action: audit.ListTickets}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalations": list})
}

// telegramLink answers POST /patients/{id}/telegram-link with a single-use
// link that connects the Telegram chat that follows it to the patient.
func (a *API) telegramLink(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if a.TelegramLinks == nil {
		writeError(w, http.StatusServiceUnavailable, "telegram is not configured (TELEGRAM_BOT_TOKEN)")
		return
	}
	if _, err := a.Runner.Patient(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	} else if err != nil {
		a.internal(w, "patient not read", err)
		return
	}
	url, expires, err := a.TelegramLinks.Create(r.Context(), id)
	if err != nil {
		a.internal(w, "telegram link not created", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": url, "expires_at": expires})
}
