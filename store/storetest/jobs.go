package storetest

import (
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Jobs role: a bulk request's progress, replaced by
// each write and readable until JobRetention after its last update.

func testJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := store.Job{ID: "job-1", Kind: store.JobFlowStart, Flow: "refill-check", State: store.JobRunning,
		Total: 3, Created: at(0), Updated: at(0)}
	noErr(t, "PutJob", s.PutJob(ctx, j))
	got, err := s.Job(ctx, "job-1", at(time.Minute))
	noErr(t, "Job", err)
	if got.Kind != j.Kind || got.Flow != j.Flow || got.State != j.State || got.Total != 3 || !got.Created.Equal(j.Created) {
		t.Fatalf("Job = %+v, want %+v", got, j)
	}

	j.Done, j.Skipped, j.Failed = 1, 1, 1
	j.State = store.JobDone
	j.Errors = []string{`patient "p-3": not enrolled`}
	j.Updated = at(time.Hour)
	noErr(t, "PutJob again", s.PutJob(ctx, j))
	got, err = s.Job(ctx, "job-1", at(time.Hour))
	noErr(t, "Job", err)
	if got.State != store.JobDone || got.Done != 1 || got.Skipped != 1 || got.Failed != 1 ||
		len(got.Errors) != 1 || got.Errors[0] != j.Errors[0] || !got.Updated.Equal(j.Updated) {
		t.Fatalf("Job after an update = %+v, want %+v", got, j)
	}

	_, err = s.Job(ctx, "job-1", j.Updated.Add(store.JobRetention))
	wantErr(t, "Job past its retention", err, store.ErrNotFound)
	_, err = s.Job(ctx, "job-2", at(0))
	wantErr(t, "Job(unknown)", err, store.ErrNotFound)
	wantErr(t, "PutJob without an id", s.PutJob(ctx, store.Job{Kind: store.JobEnroll}), store.ErrInvalid)
}
