package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tendcare/tend/audit"
)

// Auditor keeps the audit log (the Runner).
type Auditor interface {
	Audit(ctx context.Context, rec audit.Record) error
	AuditRecords(ctx context.Context, f audit.Filter, limit int) ([]audit.Record, error)
}

// integrator is who acts under the bearer token when no staff member is
// named.
const integrator = "api"

// audit records what r did. A read is not served unaudited: when the
// record cannot be written it answers 500 and returns false.
func (a *API) audit(w http.ResponseWriter, r *http.Request, rec audit.Record) bool {
	if a.Audit == nil {
		return true
	}
	if rec.Staff == "" {
		rec.Staff = integrator
	}
	rec.From = audit.From(r)
	if err := a.Audit.Audit(r.Context(), rec); err != nil {
		a.internal(w, "audit record not written", err)
		return false
	}
	return true
}

// maxAudit bounds one answer of GET /audit.
const maxAudit = 10000

// listAudit answers GET /audit?patient=&staff=&from=&to= (audit.ParseFilter:
// RFC 3339 times or whole days).
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := audit.ParseFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := maxAudit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAudit {
			writeError(w, http.StatusBadRequest, "limit: 1 to "+strconv.Itoa(maxAudit))
			return
		}
		limit = n
	}
	if !a.audit(w, r, audit.Record{Action: audit.ListAudit, Patient: f.Patient, Detail: f.Staff}) {
		return
	}
	recs, err := a.Audit.AuditRecords(r.Context(), f, limit)
	if err != nil {
		a.internal(w, "audit log not read", err)
		return
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}
