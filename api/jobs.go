package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Jobs is what the bulk endpoints ask of the Runner: it works through a
// long list in the background, one start or enrollment per patient, and
// keeps the job's progress where any replica can read it.
type Jobs interface {
	StartFlows(ctx context.Context, by audit.Record, id string, ids []string, flow string, given map[string]string) (store.Job, error)
	EnrollBatch(ctx context.Context, by audit.Record, id string, batch []runner.Enrollment) (store.Job, error)
	Job(ctx context.Context, id string) (store.Job, error)
}

// DefaultMaxBulk is how many patients one bulk request may name when
// API.MaxBulk is not set (TEND_MAX_BULK).
const DefaultMaxBulk = 10000

// syncStarts is the most patients a flow start serves within the request,
// as it always did: checked whole first, so that a bad request starts
// nobody. A longer list is a job.
const syncStarts = 100

// Bytes a bulk body may take per patient: an id in a flow start, a line
// of NDJSON in a batch of enrollments (most are well under 1 KiB).
const (
	bytesPerID         = 80
	bytesPerEnrollment = 4 << 10
	maxEnrollmentLine  = 64 << 10
)

func (a *API) maxBulk() int {
	if a.MaxBulk > 0 {
		return a.MaxBulk
	}
	return DefaultMaxBulk
}

// jobView is a job as the API writes it. Duplicates, on the answer that
// starts a flow, counts the ids the request repeated (each is started once).
type jobView struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Flow       string    `json:"flow,omitempty"`
	State      string    `json:"state"`
	Total      int       `json:"total"`
	Done       int       `json:"done"`
	Skipped    int       `json:"skipped"`
	Failed     int       `json:"failed"`
	Errors     []string  `json:"errors"`
	Duplicates int       `json:"duplicates,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func jobViewOf(j store.Job) jobView {
	errs := j.Errors
	if errs == nil {
		errs = []string{}
	}
	return jobView{ID: j.ID, Kind: j.Kind, Flow: j.Flow, State: j.State, Total: j.Total, Done: j.Done, Skipped: j.Skipped,
		Failed: j.Failed, Errors: errs, CreatedAt: j.Created, UpdatedAt: j.Updated}
}

// writeJob answers with a job: 202 and its Location while it runs, 200
// once it ended (a request repeated under the key of a finished job).
func writeJob(w http.ResponseWriter, j store.Job, duplicates int) {
	w.Header().Set("Location", "/api/v1/jobs/"+j.ID)
	status := http.StatusAccepted
	if j.State != store.JobRunning {
		status = http.StatusOK
	}
	v := jobViewOf(j)
	v.Duplicates = duplicates
	writeJSON(w, status, v)
}

// by is the audit record the Runner writes for each patient of a job:
// who asked, from where.
func by(r *http.Request) audit.Record {
	return audit.Record{Staff: integrator, From: audit.From(r)}
}

// jobID is the job an Idempotency-Key header names ("" for a new job): a
// client that sends the same request again with the same key, after the
// server that ran it stopped, resumes the job, and nobody is started twice.
func jobID(r *http.Request, kind string) string {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return ""
	}
	return runner.JobID(kind, key)
}

// unique drops repeated ids, keeping the first of each, and says how many
// it dropped.
func unique(ids []string) ([]string, int) {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, len(ids) - len(out)
}

// startFlowsJob starts a long list of patients as a job.
func (a *API) startFlowsJob(w http.ResponseWriter, r *http.Request, req flowStart, duplicates int) {
	j, err := a.Jobs.StartFlows(r.Context(), by(r), jobID(r, store.JobFlowStart), req.Patients, req.Flow, req.Params)
	if a.jobRefused(w, j, err, "flow start not begun") {
		return
	}
	writeJob(w, j, duplicates)
}

// jobRefused answers a job that could not begin, and reports whether it did.
func (a *API) jobRefused(w http.ResponseWriter, j store.Job, err error, what string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, runner.ErrTooLate):
		writeError(w, http.StatusConflict, fmt.Sprintf("Idempotency-Key: job %s was interrupted more than %v ago and cannot resume; send the request with a new key", j.ID, runner.ResumeWithin))
	default:
		a.internal(w, what, err)
	}
	return true
}

// getJob answers GET /jobs/{id}.
func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	j, err := a.Jobs.Job(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "job not read", err)
		return
	}
	writeJSON(w, http.StatusOK, jobViewOf(j))
}

// enrollBatch answers POST /patients:batch: an NDJSON body, one
// enrollment per line as POST /patients takes it. Every line is checked
// here as POST /patients checks it; a bad line is counted failed with its
// number and never stops the batch. The enrollments run as a job.
func (a *API) enrollBatch(w http.ResponseWriter, r *http.Request) {
	limit := a.maxBulk()
	r.Body = http.MaxBytesReader(w, r.Body, int64(limit)*bytesPerEnrollment+maxEnrollmentLine)
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEnrollmentLine)
	var batch []runner.Enrollment
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if len(batch) == limit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("body: more than %d enrollments, the most one request may hold (TEND_MAX_BULK); send the rest in another", limit))
			return
		}
		batch = append(batch, a.enrollmentLine(line, text))
	}
	if err := sc.Err(); err != nil {
		msg := "body: " + err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("body: a line is longer than %d bytes", maxEnrollmentLine)
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if len(batch) == 0 {
		writeError(w, http.StatusBadRequest, "body: no enrollments (one JSON object per line)")
		return
	}
	j, err := a.Jobs.EnrollBatch(r.Context(), by(r), jobID(r, store.JobEnroll), batch)
	if a.jobRefused(w, j, err, "enrollments not begun") {
		return
	}
	writeJob(w, j, 0)
}

// enrollmentLine reads and checks one line of a batch. A refusal names
// the line's field but never quotes its value: a job's errors are stored
// unsealed and read by whoever polls the job.
func (a *API) enrollmentLine(line int, text []byte) runner.Enrollment {
	e := runner.Enrollment{Line: line}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var req Patient // the shape POST /patients takes (enroll.go)
	err := dec.Decode(&req)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("data after the object")
	}
	e.Patient = req.enrollment()
	if err != nil {
		e.Invalid = "malformed JSON"
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok && idRE.MatchString(strings.Trim(f, `"`)) {
			e.Invalid += ": unknown field " + f
		}
		return e
	}
	if err := a.validate(&e.Patient); err != nil {
		e.Invalid = safeReason(err)
	}
	if idRE.MatchString(e.Patient.ID) && e.Invalid != "" {
		e.Invalid = fmt.Sprintf("patient %q: %s", e.Patient.ID, e.Invalid)
	}
	return e
}

// safeReason is a validation error without the value it quotes: the
// field alone ("phone: invalid") when the reason holds a quote or a digit.
func safeReason(err error) string {
	msg := err.Error()
	field, reason, ok := strings.Cut(msg, ": ")
	if !ok {
		return "invalid"
	}
	if strings.ContainsAny(reason, "\"0123456789+") || field == "phone" {
		return field + ": invalid (send it alone to POST /api/v1/patients for the reason)"
	}
	return msg
}

// decodeFlowStart is decode for a flow start, whose body grows with its
// list of patients.
func (a *API) decodeFlowStart(w http.ResponseWriter, r *http.Request, req *flowStart) bool {
	r.Body = http.MaxBytesReader(w, r.Body, int64(a.maxBulk())*bytesPerID+64<<10)
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("body: larger than %d bytes, more than %d patients can take (TEND_MAX_BULK)", tooBig.Limit, a.maxBulk()))
			return false
		}
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	return true
}
