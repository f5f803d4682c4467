package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Patients is what erasure and the listing of enrollments ask of the
// Runner, which audits each call with who made it.
type Patients interface {
	ErasePatient(ctx context.Context, by runner.Actor, patientID string) error
	ListPatients(ctx context.Context, by runner.Actor, after string, limit int) ([]store.Patient, error)
}

// Paging of GET /patients.
const (
	defaultPatientsPage = 100
	maxPatientsPage     = 1000
)

// listPatients answers GET /patients?after=&limit=: enrollments in id
// order, a page at a time; "next", when present, is the after of the next
// page.
func (a *API) listPatients(w http.ResponseWriter, r *http.Request) {
	if a.Patients == nil {
		writeError(w, http.StatusNotImplemented, "listing patients is not served")
		return
	}
	q := r.URL.Query()
	after := q.Get("after")
	if after != "" && !idRE.MatchString(after) {
		writeError(w, http.StatusBadRequest, "after: not a patient id")
		return
	}
	limit := defaultPatientsPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPatientsPage {
			writeError(w, http.StatusBadRequest, "limit: 1 to "+strconv.Itoa(maxPatientsPage))
			return
		}
		limit = n
	}
	list, err := a.Patients.ListPatients(r.Context(), a.actor(r), after, limit)
	if errors.Is(err, runner.ErrListUnsupported) {
		writeError(w, http.StatusNotImplemented, err.Error())
		return
	}
	if err != nil {
		a.internal(w, "patients not listed", err)
		return
	}
	out := make([]Patient, len(list))
	for i, p := range list {
		out[i] = patientOf(p)
	}
	body := map[string]any{"patients": out}
	if len(list) == limit {
		body["next"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
}

// erasePatient answers DELETE /patients/{id}?erase=true, a
// right-to-erasure request: 204 when everything of the patient but the
// audit log is gone, 404 when the store holds nothing of the patient.
func (a *API) erasePatient(w http.ResponseWriter, r *http.Request, id string) {
	if a.Patients == nil {
		writeError(w, http.StatusNotImplemented, "erasure is not served")
		return
	}
	err := a.Patients.ErasePatient(r.Context(), a.actor(r), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
	case errors.Is(err, runner.ErrEraseUnsupported):
		writeError(w, http.StatusNotImplemented, err.Error())
	case err != nil:
		a.internal(w, "patient not erased", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
