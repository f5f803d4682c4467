package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
)

// waitJob polls a job until it is no longer running.
func waitJob(t *testing.T, r *Runner, id string) store.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := r.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != store.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running: %+v", id, j)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// enrollMany enrolls patients p0..p(n-1) with one medication.
func enrollMany(t *testing.T, r *Runner, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%d", i)
		p := store.Patient{ID: ids[i], Phone: fmt.Sprintf("+1555200%04d", i), Language: "en", Timezone: "America/Chicago",
			Channel: "sms", Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
		if _, err := r.Enroll(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// reminders counts a patient's med-reminder messages.
func reminders(t *testing.T, st store.Store, id string) int {
	t.Helper()
	evs, err := st.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "message.out" && e.Flow == "med-reminder" {
			n++
		}
	}
	return n
}

// TestStartFlowsResume: a job whose server died shows interrupted after a
// minute without an update; run again under its id, it starts the
// patients it had not reached and skips those it had, so nobody gets the
// flow twice. A patient not enrolled fails with their id and no more.
func TestStartFlowsResume(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC))
	ctx := context.Background()
	ids := enrollMany(t, r, 150)
	by := audit.Record{Staff: "api"}
	id := JobID(store.JobFlowStart, "clinic-run-1")

	// The first server reaches 60 patients, then dies: its job stays
	// "running" with the progress it last wrote.
	j, err := r.StartFlows(ctx, by, id, ids[:60], "med-reminder", nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != id || j.State != store.JobRunning || j.Total != 60 || j.Kind != store.JobFlowStart {
		t.Fatalf("job as it begins = %+v", j)
	}
	j = waitJob(t, r, id)
	j.State, j.Done, j.Total = store.JobRunning, 60, 150
	if err := st.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Job(ctx, id); got.State != store.JobRunning {
		t.Fatalf("a fresh job reads %s, want running", got.State)
	}
	clock.Add(JobStale + time.Second)
	if got, _ := r.Job(ctx, id); got.State != store.JobInterrupted {
		t.Fatalf("a job a minute without an update reads %s, want interrupted", got.State)
	}

	// The client runs the whole request again under the same key.
	all := append(ids, "nobody")
	if _, err := r.StartFlows(ctx, by, id, all, "med-reminder", nil); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, r, id)
	if j.State != store.JobDone || j.Total != 151 || j.Done != 90 || j.Skipped != 60 || j.Failed != 1 {
		t.Fatalf("resumed job = %+v, want 90 done, 60 skipped, 1 failed", j)
	}
	if len(j.Errors) != 1 || j.Errors[0] != `patient "nobody": not enrolled` {
		t.Errorf("errors %q", j.Errors)
	}
	for _, p := range ids {
		if n := reminders(t, st, p); n != 1 {
			t.Fatalf("patient %s got %d reminders, want 1", p, n)
		}
	}

	// A finished job is an answer, not a new run.
	again, err := r.StartFlows(ctx, by, id, all, "med-reminder", nil)
	if err != nil || again.State != store.JobDone || again.Done != 90 {
		t.Fatalf("the same key after the job ended = %+v, %v; want the job as it ended", again, err)
	}
	// Interrupted longer ago than the dedupe keys are surely kept: refused.
	stale := store.Job{ID: JobID(store.JobFlowStart, "old"), Kind: store.JobFlowStart, State: store.JobRunning, Total: 1,
		Created: clock.Now(), Updated: clock.Now()}
	if err := st.PutJob(ctx, stale); err != nil {
		t.Fatal(err)
	}
	clock.Add(ResumeWithin + time.Minute)
	if _, err := r.StartFlows(ctx, by, stale.ID, ids[:1], "med-reminder", nil); !errors.Is(err, ErrTooLate) {
		t.Errorf("resuming a job interrupted a day ago: %v, want ErrTooLate", err)
	}

	starts, err := r.AuditRecords(ctx, audit.Filter{Patient: "p7"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range starts {
		if rec.Action == audit.StartFlow {
			n++
		}
	}
	if n != 1 {
		t.Errorf("p7 has %d start_flow audit records, want 1", n)
	}
}

// TestEnrollBatchRunner: valid lines enroll (a welcome each), refused lines
// and a repeated id fail with their line number, and the batch goes on.
func TestEnrollBatchRunner(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC))
	ctx := context.Background()
	pat := func(id, phone string) store.Patient {
		return store.Patient{ID: id, Phone: phone, Language: "en", Timezone: "America/Chicago", Channel: "sms", Programs: []string{"hypertension"}}
	}
	batch := []Enrollment{
		{Line: 1, Patient: pat("a", "+15552000001")},
		{Line: 2, Invalid: "phone: not a phone number"},
		{Line: 3, Patient: pat("b", "+15552000002")},
		{Line: 4, Patient: pat("a", "+15552000003")},
	}
	j, err := r.EnrollBatch(ctx, audit.Record{Staff: "api"}, "", batch)
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, r, j.ID)
	if j.Kind != store.JobEnroll || j.Total != 4 || j.Done != 2 || j.Failed != 2 {
		t.Fatalf("job = %+v, want 2 done and 2 failed of 4", j)
	}
	want := []string{"line 2: phone: not a phone number", `line 4: patient "a": also on line 1`}
	if strings.Join(j.Errors, "|") != strings.Join(want, "|") && strings.Join(j.Errors, "|") != want[1]+"|"+want[0] {
		t.Errorf("errors %q, want %q", j.Errors, want)
	}
	for _, id := range []string{"a", "b"} {
		p, err := r.Patient(ctx, id)
		if err != nil {
			t.Fatalf("patient %s: %v", id, err)
		}
		if id == "a" && p.Phone != "+15552000001" {
			t.Errorf("a's phone %s: the repeated line was applied", p.Phone)
		}
		evs, _ := st.Timeline(ctx, id)
		if len(evs) == 0 {
			t.Errorf("patient %s has no welcome", id)
		}
	}
}

// TestJobsAcrossReplicas: two Runners on one Redis store, as two replicas
// are. B reads the job A runs; when A dies half way, B resumes it under
// its id and starts only the patients A had not reached.
func TestJobsAcrossReplicas(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	now := time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC)
	st, err := redisstore.Open(context.Background(), redisstore.Options{Addrs: []string{addr}, KeyPrefix: "jobs-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := testEngine(t)
	replica := func() (*Runner, *conversations.ManualClock) {
		clock := conversations.NewManualClock(now)
		return &Runner{Store: st, Engine: e, Clock: clock.Now, Channels: testChannels, Quiet: conversations.DefaultQuietHours(),
			Render: &conversations.Renderer{Pack: e.Pack, HelpContact: "x"}}, clock
	}
	a, _ := replica()
	b, bClock := replica()
	ctx := context.Background()
	ids := enrollMany(t, a, 40)
	id := JobID(store.JobFlowStart, "nightly")

	if _, err := a.StartFlows(ctx, audit.Record{Staff: "api"}, id, ids[:15], "med-reminder", nil); err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, b, id); j.State != store.JobDone || j.Done != 15 {
		t.Fatalf("replica B reads %+v, want A's job done with 15", j)
	}
	// A dies with its job "running"; a minute later B resumes it.
	j, _ := b.Job(ctx, id)
	j.State, j.Total = store.JobRunning, 40
	if err := st.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	bClock.Add(JobStale + time.Second)
	if _, err := b.StartFlows(ctx, audit.Record{Staff: "api"}, id, ids, "med-reminder", nil); err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, b, id); j.State != store.JobDone || j.Done != 25 || j.Skipped != 15 || j.Failed != 0 {
		t.Fatalf("resumed on B: %+v, want 25 done and 15 skipped", j)
	}
	for _, p := range ids {
		if n := reminders(t, st, p); n != 1 {
			t.Fatalf("patient %s got %d reminders, want 1", p, n)
		}
	}
}
