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
	"github.com/tendcare/tend/rules"
	"github.com/tendcare/tend/store"
)

// Clinical sets a patient's own reading thresholds and snoozes (the
// Runner). Errors: *rules.InputError for a threshold or snooze that
// cannot apply, store.ErrNotFound for an unknown patient.
type Clinical interface {
	SetThresholds(ctx context.Context, patientID string, ths []rules.Threshold) error
	Snooze(ctx context.Context, patientID string, z rules.Snooze) error
}

// Threshold is a nurse's number for one test of a rule: {"rule":
// "bp-crisis", "measure": "systolic", "at_least": 170}; "from" names the
// baseline of a personal test ("previous_day", "mean", ...).
type Threshold struct {
	Rule    string   `json:"rule"`
	Measure string   `json:"measure,omitempty"`
	From    string   `json:"from,omitempty"`
	AtLeast *float64 `json:"at_least,omitempty"`
	Above   *float64 `json:"above,omitempty"`
	Below   *float64 `json:"below,omitempty"`
	AtMost  *float64 `json:"at_most,omitempty"`
}

// putThresholds answers PUT /patients/{id}/thresholds with
// {"thresholds": [...]}: the patient's own numbers, replacing any set
// before ([] goes back to the clinic's rules). 400 names the field.
func (a *API) putThresholds(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req struct {
		Thresholds []Threshold `json:"thresholds"`
	}
	if !decodeStrict(w, r, &req) {
		return
	}
	if req.Thresholds == nil {
		writeError(w, http.StatusBadRequest, "thresholds: missing (an empty list clears them)")
		return
	}
	var ths []rules.Threshold
	var detail []string
	for i, in := range req.Thresholds {
		th := rules.Threshold{Rule: in.Rule, Measure: in.Measure, From: in.From}
		n := 0
		for _, x := range []struct {
			op string
			v  *float64
		}{{"at_least", in.AtLeast}, {"above", in.Above}, {"below", in.Below}, {"at_most", in.AtMost}} {
			if x.v != nil {
				th.Op, th.Value = x.op, *x.v
				n++
			}
		}
		if n != 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("thresholds[%d]: exactly one of at_least, above, below, at_most", i))
			return
		}
		ths = append(ths, th)
		detail = append(detail, fmt.Sprintf("%s %s%s %s %g", th.Rule, th.Measure, fromSuffix(th.From), th.Op, th.Value))
	}
	err := a.Clinical.SetThresholds(r.Context(), id, ths)
	if a.clinicalError(w, id, err, "thresholds") {
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.SetThresholds, Patient: id, Detail: strings.Join(detail, "; ")}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"thresholds": req.Thresholds})
}

func fromSuffix(from string) string {
	if from == "" {
		return ""
	}
	return " from " + from
}

// postSnooze answers POST /patients/{id}/snoozes with {"rule", "until"
// (RFC 3339 or YYYY-MM-DD, the start of that day in UTC), "reason"}: the
// rule is off for the patient until then. Acute rules cannot be snoozed.
func (a *API) postSnooze(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req struct {
		Rule   string `json:"rule"`
		Until  string `json:"until"`
		Reason string `json:"reason"`
	}
	if !decodeStrict(w, r, &req) {
		return
	}
	until, err := time.Parse(time.RFC3339, req.Until)
	if err != nil {
		until, err = time.Parse(time.DateOnly, req.Until)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("until: %q is not an RFC 3339 time or a YYYY-MM-DD date", req.Until))
		return
	}
	z := rules.Snooze{Rule: req.Rule, Until: until.Unix(), Reason: strings.TrimSpace(req.Reason)}
	if a.clinicalError(w, id, a.Clinical.Snooze(r.Context(), id, z), "snoozes") {
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.SnoozeRule, Patient: id, Detail: fmt.Sprintf("%s until %s: %s", z.Rule, until.UTC().Format(time.RFC3339), z.Reason)}) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"rule": z.Rule, "until": until.UTC().Format(time.RFC3339), "reason": z.Reason})
}

// clinicalError answers a failed threshold or snooze; false when err is nil.
func (a *API) clinicalError(w http.ResponseWriter, id string, err error, what string) bool {
	var ie *rules.InputError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
	default:
		a.internal(w, what+" not set", err)
	}
	return true
}
