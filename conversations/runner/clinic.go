package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// What a clinic does through the API, with the rules that belong to the
// conversation rather than to HTTP: what a replace keeps, how a flow's
// parameters come from the enrollment, what unenrolling leaves behind.

// Patient returns a patient's enrollment (store.ErrNotFound if none).
func (r *Runner) Patient(ctx context.Context, patientID string) (store.Patient, error) {
	p, _, err := r.Store.Load(ctx, patientID)
	return p, err
}

// Timeline returns a patient's events, oldest first; it outlives the
// enrollment (audit).
func (r *Runner) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	return r.Store.Timeline(ctx, patientID)
}

// Escalations lists tickets of a status ("" for all), oldest first.
// "open" lists every ticket waiting for a claim: the reopened ones too,
// which say so in their status.
func (r *Runner) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	list, err := r.Store.Escalations(ctx, status)
	if err != nil || status != store.TicketOpen {
		return list, err
	}
	reopened, err := r.Store.Escalations(ctx, store.TicketReopened)
	if err != nil || len(reopened) == 0 {
		return list, err
	}
	list = append(list, reopened...)
	slices.SortStableFunc(list, func(a, b store.Escalation) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// Unenroll ends a patient's enrollment. An "enrollment: unenrolled" event
// goes on the timeline first (the timeline and the tickets outlive the
// enrollment, for the audit), then the store removes the enrollment, its
// session, timers and pending messages. A retry after a failure between
// the two writes the event once: its dedupe key names this enrollment.
func (r *Runner) Unenroll(ctx context.Context, patientID string) error {
	p, _, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return err
	}
	dedupe := "unenroll|" + patientID + "|" + strconv.FormatInt(p.EnrolledAt.UnixNano(), 10)
	if _, err := r.runOn(ctx, "unenroll", patientID, dedupe, "", false, func(w *work) error {
		w.c.Events = append(w.c.Events, store.Event{ID: r.NewID(w.now), Type: "enrollment", At: w.now, Status: "unenrolled"})
		return nil
	}); err != nil {
		return err
	}
	unlock := r.lock(patientID)
	defer unlock()
	return r.Store.DeletePatient(ctx, patientID)
}

// ResolveParams checks the parameters a start of flow gives against the
// flow's declaration and the patient's enrollment, and returns them as the
// flow takes them: a single enrolled medication may be left implicit, an
// appointment id brings its date and time. A parameter the flow does not
// declare is refused, never passed on: a parameter may reach a message. It
// starts nothing, so that a request for many patients can be checked
// whole first. Errors: conversations.ErrUnknownFlow, store.ErrNotFound, or
// a *conversations.ParamError whose text starts with the parameter's name.
func (r *Runner) ResolveParams(ctx context.Context, patientID, flow string, given map[string]string) ([]conversations.Param, error) {
	declared, ok := r.Engine.Flow(flow)
	if !ok {
		return nil, fmt.Errorf("%w %q", conversations.ErrUnknownFlow, flow)
	}
	p, _, err := r.Store.Load(ctx, patientID)
	if err != nil {
		return nil, err
	}
	params, err := flowParams(&p, declared, given)
	if err != nil {
		return nil, &conversations.ParamError{Err: err}
	}
	return params, nil
}

func flowParams(p *store.Patient, declared content.Params, given map[string]string) ([]conversations.Param, error) {
	if err := declared.CheckGiven(given); err != nil {
		return nil, err
	}
	var out []conversations.Param
	for _, d := range declared {
		v := given[d.Name]
		switch d.Type {
		case content.ParamMedication:
			if v == "" && len(p.Medications) == 1 {
				v = p.Medications[0].ID
			}
			if v == "" {
				return nil, fmt.Errorf("%s: required (the patient has %d medications)", d.Name, len(p.Medications))
			}
			if !slices.ContainsFunc(p.Medications, func(m store.Medication) bool { return m.ID == v }) {
				return nil, fmt.Errorf("%s: %q is not enrolled", d.Name, v)
			}
		case content.ParamAppointment:
			if v == "" {
				return nil, fmt.Errorf("%s: required", d.Name)
			}
			i := slices.IndexFunc(p.Appointments, func(ap store.Appointment) bool { return ap.ID == v })
			if i < 0 {
				return nil, fmt.Errorf("%s: %q is not on the enrollment", d.Name, v)
			}
			date, clock, _ := strings.Cut(p.Appointments[i].At, "T")
			out = append(out, conversations.Param{Key: content.ParamDate, Value: date}, conversations.Param{Key: content.ParamTime, Value: clock})
		default:
			if err := d.Check(v); err != nil {
				return nil, err
			}
		}
		out = append(out, conversations.Param{Key: d.Name, Value: v})
	}
	return out, nil
}

// PatientByPhone finds the enrolled patient with that E.164 number
// (store.ErrNotFound if none): an inbound text or call names its sender so.
func (r *Runner) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	return r.Store.PatientByPhone(ctx, phone)
}

// PatientByAddress finds the patient who linked addr on channel (a
// Telegram chat); store.ErrNotFound if none.
func (r *Runner) PatientByAddress(ctx context.Context, channel, addr string) (store.Patient, error) {
	return r.Store.PatientByAddress(ctx, channel, addr)
}

// StaffAccount reads a staff member's account (store.ErrNotFound if none),
// for the API to check who acts and on which teams.
func (r *Runner) StaffAccount(ctx context.Context, email string) (staff.Account, error) {
	return r.Store.StaffAccount(ctx, email)
}

// AddLinkCode keeps a link code (its hash: the store never sees the code)
// for an enrolled patient for ttl, on the Runner's clock, and returns when
// it expires; store.ErrNotFound if the patient is not enrolled.
func (r *Runner) AddLinkCode(ctx context.Context, patientID, key string, ttl time.Duration) (time.Time, error) {
	if _, _, err := r.Store.Load(ctx, patientID); err != nil {
		return time.Time{}, err
	}
	expires := r.Clock().Add(ttl)
	return expires, r.Store.PutCode(ctx, key, patientID, expires)
}

// Link follows a link code (its hash): the code is used up and addr (a
// chat) linked on channel to its patient, whose welcome runs there.
// store.ErrNotFound: no such code, used or expired, or the patient was
// unenrolled since; store.ErrAddressTaken: the address belongs to another
// patient. On any other failure the code is given back (for an hour) so
// that the provider's retry of the update can link.
func (r *Runner) Link(ctx context.Context, channel, key, addr string) (patientID string, err error) {
	now := r.Clock()
	patientID, err = r.Store.TakeCode(ctx, key, now)
	if err != nil {
		return "", err
	}
	err = r.LinkAddress(ctx, patientID, channel, addr)
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAddressTaken) {
		return patientID, err
	}
	if perr := r.Store.PutCode(context.WithoutCancel(ctx), key, patientID, now.Add(time.Hour)); perr != nil {
		r.log().Error("link code lost after a failed link", "err", perr)
	}
	return "", err
}

// Audit appends a record to the audit log (its time is the Runner's
// clock when unset).
func (r *Runner) Audit(ctx context.Context, rec audit.Record) error {
	if rec.At.IsZero() {
		rec.At = r.Clock()
	}
	_, err := r.Store.AppendAudit(ctx, rec)
	return err
}

// AuditRecords returns the records f selects, oldest first, at most limit
// (0: all).
func (r *Runner) AuditRecords(ctx context.Context, f audit.Filter, limit int) ([]audit.Record, error) {
	var out []audit.Record
	errEnough := errors.New("enough")
	err := r.Store.AuditRecords(ctx, func(rec audit.Record) error {
		if f.Match(rec) {
			out = append(out, rec)
			if limit > 0 && len(out) >= limit {
				return errEnough
			}
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}
