package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
)

// ErrEraseUnsupported: the store cannot erase a patient (it does not
// implement store.Eraser).
var ErrEraseUnsupported = errors.New("the store cannot erase a patient")

// ErasePatient answers a right-to-erasure request: the store forgets
// everything of the patient (enrollment, conversation, timeline, queued
// messages, tickets, dedupe keys and codes) except the audit log, which
// keeps who asked, from where, and the patient's id. The record is written
// first, and nothing is erased when it cannot be: an erasure nobody can
// account for must not happen. The patient's lock is held meanwhile, so
// no turn of this replica writes the patient back half-way. Errors:
// store.ErrNotFound when the store holds nothing of the patient,
// ErrEraseUnsupported.
func (r *Runner) ErasePatient(ctx context.Context, by Actor, patientID string) error {
	er, ok := r.Store.(store.Eraser)
	if !ok {
		return ErrEraseUnsupported
	}
	unlock := r.lock(patientID)
	defer unlock()
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: audit.ErasePatient, Patient: patientID}); err != nil {
		return fmt.Errorf("patient not erased: audit record not written: %w", err)
	}
	if err := er.ErasePatient(ctx, patientID); err != nil {
		return err
	}
	r.log().Info("patient erased", "patient", patientID, "by", by.Staff)
	r.changedPatient(ctx, patientID)
	return nil
}
