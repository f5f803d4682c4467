package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/risk"
	"github.com/tendcare/tend/store"
)

// Risk serves a patient's risk tier (the Runner): the assessment, a
// clinician's pin and the encounters (hospital stays, emergency visits)
// the table reads. The Runner audits the changes.
type Risk interface {
	Risk(ctx context.Context, patientID string) (risk.Assessment, error)
	PinRisk(ctx context.Context, by runner.Actor, patientID string, pin risk.Pin) error
	UnpinRisk(ctx context.Context, by runner.Actor, patientID string) error
	Encounter(ctx context.Context, by runner.Actor, patientID, kind, date string) error
}

// RiskView is GET /patients/{id}/risk's answer: the tier in force, every
// point with its explanation, the pin (null when none) and the
// reachability, which is apart from the points.
type RiskView struct {
	Tier         risk.Tier    `json:"tier"`
	Points       []risk.Point `json:"points"`
	Pinned       *risk.Pin    `json:"pinned"`
	Reachability string       `json:"reachability"`
	// Score and ScoredTier are the points' sum and its tier, which the
	// pin or the acute override may differ from; Acute says an acute
	// ticket is open.
	Score      int       `json:"score"`
	ScoredTier risk.Tier `json:"scored_tier"`
	Acute      bool      `json:"acute"`
}

func riskView(a risk.Assessment) RiskView {
	pts := a.Points
	if pts == nil {
		pts = []risk.Point{}
	}
	return RiskView{Tier: a.Tier, Points: pts, Pinned: a.Pin, Reachability: a.Reachability, Score: a.Score, ScoredTier: a.Scored, Acute: a.Acute}
}

// getRisk answers GET /patients/{id}/risk.
func (a *API) getRisk(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	as, err := a.Risk.Risk(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "risk not read", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.ViewRisk, Patient: id}) {
		return
	}
	writeJSON(w, http.StatusOK, riskView(as))
}

// pinRequest is PUT /patients/{id}/risk's body.
type pinRequest struct {
	Tier   string `json:"tier"`
	Reason string `json:"reason"`
	// Until is an RFC 3339 time, or a date: the pin lasts through that
	// day (UTC).
	Until string `json:"until"`
}

// putRisk answers PUT /patients/{id}/risk: a clinician pins a tier with a
// reason until a time; 200 with the tier as it now reads.
func (a *API) putRisk(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req pinRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	until, err := time.Parse(time.RFC3339, req.Until)
	if err != nil {
		d, derr := time.Parse(time.DateOnly, req.Until)
		if derr != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("until: %q is not an RFC 3339 time or a YYYY-MM-DD date", req.Until))
			return
		}
		until = d.AddDate(0, 0, 1)
	}
	err = a.Risk.PinRisk(r.Context(), a.actor(r), id, risk.Pin{Tier: risk.Tier(req.Tier), Reason: req.Reason, Until: until})
	if !a.riskDone(w, id, err, "risk not pinned") {
		return
	}
	a.answerRisk(w, r, id)
}

// deleteRisk answers DELETE /patients/{id}/risk: the pin goes, the points'
// tier applies again.
func (a *API) deleteRisk(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if !a.riskDone(w, id, a.Risk.UnpinRisk(r.Context(), a.actor(r), id), "risk not unpinned") {
		return
	}
	a.answerRisk(w, r, id)
}

// encounterRequest is POST /patients/{id}/encounters' body.
type encounterRequest struct {
	Kind string `json:"kind"` // inpatient | emergency
	Date string `json:"date"` // YYYY-MM-DD
}

// postEncounter answers POST /patients/{id}/encounters: a hospital stay
// or an emergency visit, which the risk table scores; the same encounter
// posted again is recorded once.
func (a *API) postEncounter(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req encounterRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	if !a.riskDone(w, id, a.Risk.Encounter(r.Context(), a.actor(r), id, req.Kind, req.Date), "encounter not recorded") {
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

// riskDone maps a risk action's error to its answer; false when it wrote
// one.
func (a *API) riskDone(w http.ResponseWriter, id string, err error, what string) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
	case errors.Is(err, runner.ErrInvalidPin), errors.Is(err, runner.ErrInvalidEncounter):
		_, msg, _ := strings.Cut(err.Error(), ": ")
		_, msg, _ = strings.Cut(msg, ": ")
		writeError(w, http.StatusBadRequest, msg)
	default:
		a.internal(w, what, err)
	}
	return false
}

// answerRisk writes the patient's tier after a change.
func (a *API) answerRisk(w http.ResponseWriter, r *http.Request, id string) {
	as, err := a.Risk.Risk(r.Context(), id)
	if err != nil {
		a.internal(w, "risk not read", err)
		return
	}
	writeJSON(w, http.StatusOK, riskView(as))
}
