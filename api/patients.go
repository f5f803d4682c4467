package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Patients is what erasure and the listing of enrollments ask of the
// Runner, which audits each call with who made it.
type Patients interface {
	ErasePatient(ctx context.Context, by runner.Actor, patientID string) error
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
