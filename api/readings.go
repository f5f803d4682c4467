package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/store"
)

// Readings records home readings (the Runner): each batch in one commit,
// classified by the rules, a reading with an ID already recorded for the
// patient coming back as a duplicate. ErrNotFound for an unknown patient.
type Readings interface {
	Readings(ctx context.Context, patientID string, rs []readings.Reading) ([]readings.Outcome, error)
}

// MaxReadings bounds one POST .../readings: a device's backlog of a few
// days fits; more is several requests, each its own commit.
const MaxReadings = 500

// Reading is a reading as the API takes it. Blood pressure has systolic
// and diastolic, every other kind value; id is the sender's, for dedupe;
// at defaults to now and source to patient.
type Reading struct {
	ID        string   `json:"id,omitempty"`
	Kind      string   `json:"kind"`
	Systolic  *float64 `json:"systolic,omitempty"`
	Diastolic *float64 `json:"diastolic,omitempty"`
	Value     *float64 `json:"value,omitempty"`
	Unit      string   `json:"unit"`
	At        string   `json:"at,omitempty"`
	Source    string   `json:"source,omitempty"`
}

// reading checks the fields JSON alone leaves open (values present for the
// kind, whole pressures, the time's form) and returns the reading; the
// error names the field. readings.Validate checks the rest.
func (in Reading) reading(now time.Time) (readings.Reading, error) {
	r := readings.Reading{ID: in.ID, Kind: readings.Kind(in.Kind), Unit: in.Unit, Source: readings.Source(in.Source)}
	if r.Source == "" {
		r.Source = readings.Patient
	}
	r.At = now
	if in.At != "" {
		t, err := time.Parse(time.RFC3339, in.At)
		if err != nil {
			return r, &readings.FieldError{Field: "at", Problem: fmt.Sprintf("%q is not an RFC 3339 time", in.At)}
		}
		r.At = t
	}
	if r.Kind == readings.BloodPressure {
		if in.Value != nil {
			return r, &readings.FieldError{Field: "value", Problem: "blood pressure has systolic and diastolic, not value"}
		}
		for _, f := range []struct {
			name string
			v    *float64
			to   *int
		}{{"systolic", in.Systolic, &r.Systolic}, {"diastolic", in.Diastolic, &r.Diastolic}} {
			switch {
			case f.v == nil:
				return r, &readings.FieldError{Field: f.name, Problem: "missing"}
			case *f.v != math.Trunc(*f.v):
				return r, &readings.FieldError{Field: f.name, Problem: "a whole number of mmHg"}
			case math.Abs(*f.v) > 1e6:
				return r, &readings.FieldError{Field: f.name, Problem: "not a plausible pressure"}
			}
			*f.to = int(*f.v)
		}
	} else if readings.Known(r.Kind) {
		if in.Systolic != nil || in.Diastolic != nil {
			return r, &readings.FieldError{Field: "systolic", Problem: fmt.Sprintf("only blood pressure has systolic and diastolic; %s has value", r.Kind)}
		}
		if in.Value == nil {
			return r, &readings.FieldError{Field: "value", Problem: "missing"}
		}
		r.Value = *in.Value
	}
	if err := readings.Validate(r, now); err != nil {
		return r, err
	}
	return readings.Canonical(r), nil
}

// postReadings answers POST /patients/{id}/readings: one reading, or
// {"readings": [...]}. Every reading is checked first; one bad reading
// refuses them all with a 400 naming it and its field ("readings[2].unit:
// missing"), and nothing is recorded. The answer is 201 with each
// reading's classification (one object for one reading, {"readings":
// [...]} for a list, in order).
func (a *API) postReadings(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	_, batch := probe["readings"]
	var in []Reading
	if batch {
		var req struct {
			Readings []Reading `json:"readings"`
		}
		if !decodeBytes(w, body, &req) {
			return
		}
		in = req.Readings
		if len(in) == 0 {
			writeError(w, http.StatusBadRequest, "readings: empty")
			return
		}
	} else {
		var one Reading
		if !decodeBytes(w, body, &one) {
			return
		}
		in = []Reading{one}
	}
	if len(in) > MaxReadings {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("readings: %d readings, at most %d a request", len(in), MaxReadings))
		return
	}
	now := a.now()
	rs := make([]readings.Reading, len(in))
	for i, x := range in {
		rd, err := x.reading(now)
		if err != nil {
			msg := err.Error()
			if batch {
				msg = fmt.Sprintf("readings[%d].%s", i, msg)
			}
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		rs[i] = rd
	}
	outs, err := a.Readings.Readings(r.Context(), id, rs)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	case err != nil:
		a.internal(w, "readings not recorded", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.RecordReadings, Patient: id, Detail: fmt.Sprint(len(rs))}) {
		return
	}
	if batch {
		writeJSON(w, http.StatusCreated, map[string]any{"readings": outs})
		return
	}
	if len(outs) != 1 {
		a.internal(w, "readings not recorded", fmt.Errorf("%d outcomes for 1 reading", len(outs)))
		return
	}
	writeJSON(w, http.StatusCreated, outs[0])
}

// decodeBytes is decodeStrict for a body already read.
func decodeBytes(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		writeError(w, http.StatusBadRequest, "malformed JSON: data after the object")
		return false
	}
	return true
}
