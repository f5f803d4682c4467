package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/fhir"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/store"
)

// fhirJSON is FHIR's JSON media type.
const fhirJSON = "application/fhir+json"

// FHIR returns the FHIR R4 endpoint, mounted at /fhir: POST /Observation
// takes a home reading from a device platform, behind the same bearer
// token as the API. Every refusal is an OperationOutcome, as FHIR clients
// expect, the element at fault in its expression. Nil Readings leaves it
// out (404s).
func (a *API) FHIR() http.Handler {
	r := chi.NewRouter()
	if a.Readings == nil {
		return r
	}
	r.Use(a.fhirAuth)
	r.Post("/Observation", a.postObservation)
	return r
}

// fhirAuth is auth answering with an OperationOutcome.
func (a *API) fhirAuth(next http.Handler) http.Handler {
	want := []byte("Bearer " + a.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if a.Token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tend"`)
			writeOutcome(w, http.StatusUnauthorized, fhir.Outcome(fhir.Issue{Severity: "error", Code: "login", Diagnostics: "missing or wrong bearer token"}))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeOutcome(w http.ResponseWriter, status int, o fhir.OperationOutcome) {
	writeFHIR(w, status, o)
}

func writeFHIR(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", fhirJSON+"; charset=utf-8")
	writeJSONBody(w, status, v)
}

// postObservation answers POST /fhir/Observation: 201 with Location
// /fhir/Observation/{id} and the Observation, its interpretation set from
// the classification; 400 with an OperationOutcome for a resource that is
// not valid R4 or not a reading Tend reads; 404 for an unknown patient.
// The id is the sender's identifier when it gave one (posting it again is
// recorded once), otherwise one Tend makes.
func (a *API) postObservation(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fhirJSON && mt != "application/json") {
			writeOutcome(w, http.StatusUnsupportedMediaType, fhir.Outcome(fhir.Issue{Severity: "error", Code: "not-supported",
				Diagnostics: fmt.Sprintf("Content-Type %q: send %s", ct, fhirJSON)}))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeOutcome(w, http.StatusRequestEntityTooLarge, fhir.Outcome(fhir.Issue{Severity: "error", Code: "too-costly", Diagnostics: err.Error()}))
		return
	}
	obs, err := fhir.ReadObservation(body, a.now())
	var fe *fhir.Error
	switch {
	case errors.As(err, &fe):
		writeOutcome(w, http.StatusBadRequest, fe.Outcome)
		return
	case err != nil:
		a.log().Error("FHIR schema", "err", err)
		writeOutcome(w, http.StatusInternalServerError, fhir.Outcome(fhir.Issue{Severity: "fatal", Code: "exception", Diagnostics: "the FHIR schema could not be loaded"}))
		return
	}
	rd := obs.Reading
	id := rd.ID
	if id == "" {
		// No identifier: the reading gets one, for Location; a second
		// POST of it is a second reading, as FHIR's create is.
		var b [12]byte
		rand.Read(b[:])
		id = "obs-" + hex.EncodeToString(b[:])
		rd.ID = id
	}
	outs, err := a.Readings.Readings(r.Context(), obs.PatientID, []readings.Reading{rd})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOutcome(w, http.StatusNotFound, fhir.Outcome(fhir.Issue{Severity: "error", Code: "not-found",
			Diagnostics: fmt.Sprintf("Patient/%s is not enrolled", obs.PatientID), Expression: []string{"Observation.subject.reference"}}))
		return
	case err == nil && len(outs) != 1:
		err = fmt.Errorf("%d outcomes for 1 reading", len(outs))
		fallthrough
	case err != nil:
		a.log().Error("FHIR Observation not recorded", "err", err)
		writeOutcome(w, http.StatusInternalServerError, fhir.Outcome(fhir.Issue{Severity: "fatal", Code: "exception", Diagnostics: "reading not recorded"}))
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.RecordReadings, Patient: obs.PatientID, Detail: "1 (FHIR)"}) {
		return
	}
	w.Header().Set("Location", "/fhir/Observation/"+url.PathEscape(id))
	writeFHIR(w, http.StatusCreated, obs.Created(id, outs[0].Level))
}
