package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Actions recorded.
const (
	ViewPatient  = "view_patient"
	ViewTimeline = "view_timeline"
	ListTickets  = "list_tickets"
	ListAudit    = "list_audit"
	Enroll       = "enroll"
	Unenroll     = "unenroll"
	StartFlow    = "start_flow"
	Claim        = "claim"
	Release      = "release"
	Reassign     = "reassign"
	Reply        = "reply"
	Note         = "note"
	Resolve      = "resolve"
	StaffAdd     = "staff_add"
	// Staff accounts (Detail names the account; never a password or a
	// TOTP secret).
	StaffDisable = "staff_disable"
	StaffEnable  = "staff_enable"
	StaffReset   = "staff_reset"
	StaffAccess  = "staff_access" // role or teams changed
	TOTPOn       = "totp_on"
	TOTPOff      = "totp_off"
	ListStaff    = "list_staff"
	// AdminPage: a staff member who is not an admin asked for an admin
	// page (Detail says which).
	AdminPage = "admin_page"
	// Dead letters, the messages the dispatcher gave up on (Detail: the
	// outbox id; the list: the status listed).
	ListOutbox    = "list_outbox"
	ResendMessage = "resend_message"
	CancelMessage = "cancel_message"
	// ErasePatient: everything of a patient but the audit log was
	// removed (a right-to-erasure request); ListPatients: enrollments
	// were listed (Detail: the page's after); ExportPatients: patients'
	// records were exported (Patient: the one, or empty for all).
	ErasePatient   = "erase_patient"
	ListPatients   = "list_patients"
	ExportPatients = "export_patients"
	// A patient's risk tier: read (ViewRisk), pinned by a clinician
	// (PinRisk; Detail: the tier and the expiry, never the reason) or
	// unpinned; an encounter (hospital stay, emergency visit) reported.
	ViewRisk  = "view_risk"
	PinRisk   = "pin_risk"
	UnpinRisk = "unpin_risk"
	Encounter = "encounter"
	// RecordReadings: home readings were posted for a patient through the
	// API or FHIR (Detail: how many); the readings are on the timeline.
	RecordReadings = "record_readings"
	// Dispense: pharmacy fills were reported (Detail: how many were
	// recorded); ViewAdherence: a patient's adherence report was read.
	Dispense      = "dispense"
	ViewAdherence = "view_adherence"
	// SetThresholds: a patient's own reading thresholds were replaced;
	// SnoozeRule: a reading rule was snoozed for a patient (Detail: the
	// rule, the numbers or the end and reason).
	SetThresholds = "set_thresholds"
	SnoozeRule    = "snooze_rule"
)

// Record is one entry. Seq, Prev and Hash are set by the store when it
// appends the record.
type Record struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Staff   string    `json:"staff"` // a staff email, "api" for the bearer token, "cli" for tend on the command line
	Action  string    `json:"action"`
	Patient string    `json:"patient,omitempty"`
	Ticket  string    `json:"ticket,omitempty"`
	From    string    `json:"from,omitempty"`   // the client's address
	Detail  string    `json:"detail,omitempty"` // a flow id, an outcome; never message text
	Prev    string    `json:"prev"`
	Hash    string    `json:"hash"`
}

// Genesis is the Prev of the first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Seal sets r's Seq and Prev after prev (nil for the first record) and its
// Hash over everything else.
func Seal(r *Record, prev *Record) {
	r.Seq, r.Prev = 1, Genesis
	if prev != nil {
		r.Seq, r.Prev = prev.Seq+1, prev.Hash
	}
	r.At = r.At.UTC()
	r.Hash = hashOf(r)
}

func hashOf(r *Record) string {
	c := *r
	c.Hash = ""
	b, _ := json.Marshal(&c) // a struct of strings and a time: never fails
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ErrBroken: a record does not follow the one before it.
var ErrBroken = errors.New("audit: chain broken")

// Verifier checks records one at a time, in order.
type Verifier struct {
	prev *Record
	n    uint64
}

// Next checks r against the records before it.
func (v *Verifier) Next(r Record) error {
	wantSeq, wantPrev := uint64(1), Genesis
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case r.Seq != wantSeq:
		return fmt.Errorf("%w at record %d: sequence %d (a record removed or inserted)", ErrBroken, wantSeq, r.Seq)
	case r.Prev != wantPrev:
		return fmt.Errorf("%w at record %d: it does not follow record %d", ErrBroken, r.Seq, wantSeq-1)
	case hashOf(&r) != r.Hash:
		return fmt.Errorf("%w at record %d: its content does not match its hash (edited)", ErrBroken, r.Seq)
	}
	v.prev, v.n = &r, v.n+1
	return nil
}

// Count is how many records checked out.
func (v *Verifier) Count() uint64 { return v.n }

// Filter selects records for a search; empty fields match everything.
type Filter struct {
	Patient, Staff string
	From, To       time.Time
}

// Match reports whether r is selected.
func (f Filter) Match(r Record) bool {
	return (f.Patient == "" || r.Patient == f.Patient) && (f.Staff == "" || r.Staff == f.Staff) &&
		(f.From.IsZero() || !r.At.Before(f.From)) && (f.To.IsZero() || r.At.Before(f.To))
}
