package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Bulk requests (a flow start for thousands of patients, a file of
// enrollments) run as jobs: the request answers at once with the job, and
// the Runner works through the patients in the background, writing the
// job's progress to the store, where any replica can read it. Each start
// commits with the dedupe key "job|<job id>|<patient id>", so a job run
// again under the same id (the client's Idempotency-Key, after the server
// that ran it stopped) starts nobody twice: those it reached before count
// as skipped.

// jobWorkers is how many patients a job works on at once: enough that
// the embedded store's group commit fills its batches, few enough to leave
// the server to the conversations.
const jobWorkers = 8

// JobStale is how long a running job may go without an update before it
// is reported interrupted: a running job writes at least every jobBeat, so
// one that stopped for this long lost its server.
const JobStale = time.Minute

// jobBeat is how often (at most) a running job writes its progress.
const jobBeat = 5 * time.Second

// jobBatch is how many outcomes a running job gathers before it writes.
const jobBatch = 1000

// ResumeWithin is how long after its last update an interrupted job may
// be resumed: well inside the week the stores remember dedupe keys, which
// are what keep a resumed job from starting a patient twice.
const ResumeWithin = 24 * time.Hour

// ErrTooLate: the interrupted job stopped more than ResumeWithin ago; a
// new job (another key) must start over.
var ErrTooLate = errors.New("the job was interrupted too long ago to resume")

// Job returns a job's progress; a running job whose server stopped
// updating it more than JobStale ago is reported interrupted.
// store.ErrNotFound when there is no such job.
func (r *Runner) Job(ctx context.Context, id string) (store.Job, error) {
	now := r.Clock()
	j, err := r.Store.Job(ctx, id, now)
	if err != nil {
		return j, err
	}
	if j.State == store.JobRunning && now.Sub(j.Updated) > JobStale {
		j.State = store.JobInterrupted
	}
	return j, nil
}

// JobID is the id of the job a client's idempotency key names, for a kind
// of job: a hash, so the key is neither stored nor echoed.
func JobID(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return "k" + hex.EncodeToString(sum[:12])
}

// outcome is what became of one patient of a job.
type outcome struct {
	status string // store.JobDone ("done"), "skipped" or "failed"
	why    string // for a failure: a line, a patient id, a field; no value
}

const (
	skipped = "skipped"
	failed  = "failed"
)

// beginJob creates the job id (a new id when "") for total patients, or
// finds it: a job that is running or done is returned as it is, with
// resume false, and an interrupted one starts over (its counts afresh;
// the dedupe keys remember whom it reached), unless it stopped more than
// ResumeWithin ago (ErrTooLate).
func (r *Runner) beginJob(ctx context.Context, id, kind, flow string, total int) (j store.Job, resume bool, err error) {
	now := r.Clock()
	if id != "" {
		old, err := r.Job(ctx, id)
		switch {
		case err == nil && old.State != store.JobInterrupted:
			return old, false, nil
		case err == nil:
			if old.Kind != kind {
				return old, false, fmt.Errorf("job %s is a %s job, not %s", id, old.Kind, kind)
			}
			if now.Sub(old.Updated) > ResumeWithin {
				return old, false, ErrTooLate
			}
			j.Created = old.Created
		case !errors.Is(err, store.ErrNotFound):
			return j, false, err
		}
	} else {
		id = "j" + r.NewID(now)
	}
	j.ID, j.Kind, j.Flow, j.State, j.Total, j.Updated = id, kind, flow, store.JobRunning, total, now
	if j.Created.IsZero() {
		j.Created = now
	}
	if err := r.Store.PutJob(ctx, j); err != nil {
		return j, false, err
	}
	return j, true, nil
}

// runJob works do on items 0..n-1 with jobWorkers workers, in the
// background, and keeps j's progress in the store until every item is
// done. It returns at once.
func (r *Runner) runJob(ctx context.Context, j store.Job, n int, do func(ctx context.Context, i int) outcome) {
	ctx = context.WithoutCancel(ctx) // the request that started it is over long before
	items := make(chan int)
	outcomes := make(chan outcome, jobWorkers)
	var wg sync.WaitGroup
	for range jobWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range items {
				outcomes <- do(ctx, i)
			}
		}()
	}
	go func() {
		for i := range n {
			items <- i
		}
		close(items)
		wg.Wait()
		close(outcomes)
	}()
	go r.record(ctx, j, outcomes)
}

// record counts the outcomes of a job and writes its progress every
// jobBatch outcomes or jobBeat, whichever comes first, and when it ends.
func (r *Runner) record(ctx context.Context, j store.Job, outcomes <-chan outcome) {
	beat := time.NewTicker(jobBeat)
	defer beat.Stop()
	put := func() {
		j.Updated = r.Clock()
		if err := r.Store.PutJob(ctx, j); err != nil {
			r.log().Error("job progress not saved", "job", j.ID, "err", err)
		}
	}
	pending := 0
	for {
		select {
		case o, ok := <-outcomes:
			if !ok {
				j.State = store.JobDone
				put()
				r.log().Info("job done", "job", j.ID, "kind", j.Kind, "total", j.Total,
					"done", j.Done, "skipped", j.Skipped, "failed", j.Failed)
				return
			}
			switch o.status {
			case store.JobDone:
				j.Done++
			case skipped:
				j.Skipped++
			default:
				j.Failed++
				if len(j.Errors) < store.MaxJobErrors {
					j.Errors = append(j.Errors, o.why)
				}
			}
			if pending++; pending >= jobBatch {
				put()
				pending = 0
			}
		case <-beat.C:
			put()
			pending = 0
		}
	}
}

// StartFlows starts flow for each of ids in the background, as job id
// (a new job when id is ""; see JobID), and returns the job as it begins.
// Each start's parameters come from given and the patient's enrollment
// (ResolveParams); a patient not enrolled, or whose enrollment does not
// back the parameters, is counted failed. by is the audit record of who
// asked: each start is recorded for its patient. ids must not repeat.
func (r *Runner) StartFlows(ctx context.Context, by audit.Record, id string, ids []string, flow string, given map[string]string) (store.Job, error) {
	if _, ok := r.Engine.Flow(flow); !ok {
		return store.Job{}, fmt.Errorf("%w %q", conversations.ErrUnknownFlow, flow)
	}
	j, resume, err := r.beginJob(ctx, id, store.JobFlowStart, flow, len(ids))
	if err != nil || !resume {
		return j, err
	}
	r.runJob(ctx, j, len(ids), func(ctx context.Context, i int) outcome {
		return r.startForJob(ctx, by, j.ID, ids[i], flow, given)
	})
	return j, nil
}

// startForJob starts one patient's flow for job jobID, once.
func (r *Runner) startForJob(ctx context.Context, by audit.Record, jobID, patientID, flow string, given map[string]string) outcome {
	params, err := r.ResolveParams(ctx, patientID, flow, given)
	var pe *conversations.ParamError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return outcome{failed, fmt.Sprintf("patient %q: not enrolled", patientID)}
	case errors.As(err, &pe):
		// The reason may name a medication, which is sealed at rest.
		return outcome{failed, fmt.Sprintf("patient %q: params: not backed by the enrollment (start this patient alone for the reason)", patientID)}
	case err != nil:
		r.log().Error("job: patient not read", "job", jobID, "patient", patientID, "err", err)
		return outcome{failed, fmt.Sprintf("patient %q: not read (server error)", patientID)}
	}
	w, err := r.runOn(ctx, "start", patientID, "job|"+jobID+"|"+patientID, "", false, func(w *work) error {
		return r.Engine.Turn(&w.s, w.input(conversations.Input{Kind: conversations.Start, Flow: flow, Params: params}), w.now, &w.out)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return outcome{failed, fmt.Sprintf("patient %q: not enrolled", patientID)}
	case err != nil:
		r.log().Error("job: flow not started", "job", jobID, "patient", patientID, "err", err)
		return outcome{failed, fmt.Sprintf("patient %q: not started (server error)", patientID)}
	case w.dup:
		return outcome{status: skipped}
	}
	rec := by
	rec.Action, rec.Patient, rec.Detail = audit.StartFlow, patientID, flow
	if err := r.Audit(ctx, rec); err != nil {
		r.log().Error("job: audit record not written", "job", jobID, "patient", patientID, "err", err)
	}
	return outcome{status: store.JobDone}
}

// Enrollment is one line of a batch of enrollments: the patient, checked
// by the caller, or why the line was refused.
type Enrollment struct {
	Line    int
	Patient store.Patient
	// Invalid, when set, is why the line was refused: it names the line's
	// field, never its value (a job's errors are not sealed).
	Invalid string
}

// EnrollBatch enrolls each valid line's patient (Enroll: a new patient's
// welcome starts, an enrolled one's enrollment is replaced) in the
// background, as job id (a new job when ""), and returns the job as it
// begins. Invalid lines, and a patient id a line before already named,
// count as failed with their line number. Enrolling is idempotent, so a
// job run again applies its lines again, and no welcome goes twice.
func (r *Runner) EnrollBatch(ctx context.Context, by audit.Record, id string, batch []Enrollment) (store.Job, error) {
	j, resume, err := r.beginJob(ctx, id, store.JobEnroll, "", len(batch))
	if err != nil || !resume {
		return j, err
	}
	first := map[string]int{}
	for _, e := range batch {
		if e.Invalid == "" {
			if _, ok := first[e.Patient.ID]; !ok {
				first[e.Patient.ID] = e.Line
			}
		}
	}
	r.runJob(ctx, j, len(batch), func(ctx context.Context, i int) outcome {
		e := batch[i]
		if e.Invalid != "" {
			return outcome{failed, fmt.Sprintf("line %d: %s", e.Line, e.Invalid)}
		}
		if l := first[e.Patient.ID]; l != e.Line {
			return outcome{failed, fmt.Sprintf("line %d: patient %q: also on line %d", e.Line, e.Patient.ID, l)}
		}
		if _, err := r.Enroll(ctx, e.Patient); err != nil {
			why := "not enrolled (server error)"
			if errors.Is(err, store.ErrPhoneTaken) {
				why = "phone: already enrolled for another patient"
			} else {
				r.log().Error("job: enrollment not saved", "job", j.ID, "patient", e.Patient.ID, "err", err)
			}
			return outcome{failed, fmt.Sprintf("line %d: patient %q: %s", e.Line, e.Patient.ID, why)}
		}
		rec := by
		rec.Action, rec.Patient = audit.Enroll, e.Patient.ID
		if err := r.Audit(ctx, rec); err != nil {
			r.log().Error("job: audit record not written", "job", j.ID, "patient", e.Patient.ID, "err", err)
		}
		return outcome{status: store.JobDone}
	})
	return j, nil
}
