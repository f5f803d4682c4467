package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Admin is what the admin pages and two-step sign-in ask of the Runner:
// the same staff changes tend staff makes on the command line, each
// audited by the Runner, and the audit log's search.
type Admin interface {
	StaffAccounts(ctx context.Context) ([]staff.Account, error)
	AddStaff(ctx context.Context, by runner.Actor, a staff.Account, password string) (string, error)
	DisableStaff(ctx context.Context, by runner.Actor, email string) error
	EnableStaff(ctx context.Context, by runner.Actor, email string) error
	ResetStaffPassword(ctx context.Context, by runner.Actor, email string) (string, error)
	SetStaffAccess(ctx context.Context, by runner.Actor, email, role string, teams []string) error
	ClearTOTP(ctx context.Context, by runner.Actor, email string) error
	EnableTOTP(ctx context.Context, by runner.Actor, email, secret, code string) error
	CheckTOTP(ctx context.Context, email, code string) error
	AuditNewest(ctx context.Context, f audit.Filter, before uint64, n int) ([]audit.Record, error)
}

// actor is the signed-in staff member and their address, for the Runner's
// audit of a staff change.
func actor(r *http.Request) runner.Actor {
	return runner.Actor{Staff: current(r).Email, From: audit.From(r)}
}

// adminOnly lets admins through; anyone else gets the 404 of a page that
// does not exist (nothing tells them it does), and the attempt is audited.
func (c *Console) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := current(r)
		if a.Role != staff.Admin {
			err := c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: audit.AdminPage, From: audit.From(r),
				Detail: "refused: not an admin: " + r.Method + " " + r.URL.Path})
			if err != nil {
				c.log().Error("audit record not written", "err", err)
			}
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type staffRow struct {
	Email, Name, Role, Teams   string
	Disabled, MustChange, TOTP bool
	Self                       bool
}

type staffData struct {
	page
	Rows  []staffRow
	Roles []string
	// OneTime is a new one-time password, for OneTimeFor: shown on this
	// response only, never stored or redirected through a URL.
	OneTime, OneTimeFor string
	// Form keeps what was typed into the add form after a refusal.
	Form struct{ Email, Name, Role, Teams string }
}

// staffPage lists the staff accounts with what an admin can do to each.
func (c *Console) staffPage(w http.ResponseWriter, r *http.Request) {
	c.showStaff(w, r, http.StatusOK, staffData{page: page{Flash: r.URL.Query().Get("flash")}})
}

// showStaff renders the staff page with d's message, password or form,
// after auditing the view (the page lists who may see patients).
func (c *Console) showStaff(w http.ResponseWriter, r *http.Request, status int, d staffData) {
	a := current(r)
	d.Title, d.Staff, d.Roles = "Staff", a, staff.Roles()
	all, err := c.Backend.StaffAccounts(r.Context())
	if err != nil {
		c.fail(w, "staff not read", err)
		return
	}
	for _, s := range all {
		d.Rows = append(d.Rows, staffRow{Email: s.Email, Name: s.Name, Role: s.Role, Teams: strings.Join(s.Teams, ", "),
			Disabled: s.Disabled, MustChange: s.MustChange, TOTP: s.TOTPSecret != "", Self: s.Email == a.Email})
	}
	if err := c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: audit.ListStaff, From: audit.From(r)}); err != nil {
		c.fail(w, "audit record not written", err)
		return
	}
	c.render(w, status, "admin_staff", d)
}

// staffError is what a refused staff change says on the page; "" for an
// error that is not the admin's to fix.
func staffError(err error) string {
	switch {
	case errors.Is(err, staff.ErrInvalid), errors.Is(err, runner.ErrLastAdmin):
		return strings.TrimPrefix(err.Error(), "staff: invalid account: ")
	case errors.Is(err, staff.ErrExists):
		return "That email has an account already."
	case errors.Is(err, store.ErrNotFound), errors.Is(err, staff.ErrNotFound):
		return "No such account."
	}
	return ""
}

// addStaff creates an account with a one-time password, shown once on
// this response.
func (c *Console) addStaff(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	a := staff.Account{Email: f.Get("email"), Name: strings.TrimSpace(f.Get("name")), Role: f.Get("role"), Teams: staff.SplitTeams(f.Get("teams"))}
	pw, err := c.Backend.AddStaff(r.Context(), actor(r), a, "")
	d := staffData{}
	d.Form.Email, d.Form.Name, d.Form.Role, d.Form.Teams = f.Get("email"), f.Get("name"), f.Get("role"), f.Get("teams")
	switch {
	case err == nil || errors.Is(err, runner.ErrNotAudited):
		a.Validate()
		d.OneTime, d.OneTimeFor = pw, a.Email
		d.Flash = "Added " + a.Email + "."
		d.Form.Email, d.Form.Name, d.Form.Role, d.Form.Teams = "", "", "", ""
		if err != nil {
			d.Error = "The account was added, but its audit record was not written: tell whoever runs Tend."
		}
		c.showStaff(w, r, http.StatusOK, d)
	case staffError(err) != "":
		d.Error = "Not added: " + staffError(err)
		c.showStaff(w, r, http.StatusBadRequest, d)
	default:
		c.fail(w, "staff not added", err)
	}
}

// changeStaff disables, enables, resets the password of, changes the
// role and teams of, or turns TOTP off for the account named in the form.
func (c *Console) changeStaff(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	ctx, by, email := r.Context(), actor(r), r.PostForm.Get("email")
	var err error
	var pw, done string
	switch chi.URLParam(r, "action") {
	case "disable":
		err, done = c.Backend.DisableStaff(ctx, by, email), "Disabled "+email+": their sessions end now."
	case "enable":
		err, done = c.Backend.EnableStaff(ctx, by, email), "Enabled "+email+"."
	case "reset":
		pw, err = c.Backend.ResetStaffPassword(ctx, by, email)
		done = "New one-time password for " + email + ": their sessions end now."
	case "access":
		err = c.Backend.SetStaffAccess(ctx, by, email, r.PostForm.Get("role"), staff.SplitTeams(r.PostForm.Get("teams")))
		done = "Saved the role and teams of " + email + "."
	case "totp-off":
		err, done = c.Backend.ClearTOTP(ctx, by, email), "Two-step sign-in is off for "+email+": they sign in with the password alone."
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case pw != "":
		d := staffData{OneTime: pw, OneTimeFor: email}
		d.Flash = done
		if err != nil {
			d.Error = "Done, but the audit record was not written: tell whoever runs Tend."
		}
		c.showStaff(w, r, http.StatusOK, d)
		return
	case errors.Is(err, runner.ErrNotAudited):
		done += " (The audit record was not written: tell whoever runs Tend.)"
	case staffError(err) != "":
		done = "Not changed: " + staffError(err)
	case err != nil:
		c.fail(w, "staff not changed", err)
		return
	}
	http.Redirect(w, r, "/console/admin/staff?flash="+url.QueryEscape(done), http.StatusSeeOther)
}

// auditPageSize is how many records one page of the audit search shows.
const auditPageSize = 100

type auditData struct {
	page
	Q       struct{ Patient, Staff, From, To string }
	Records []audit.Record
	// Older is the link to the next page, "" on the last.
	Older string
}

// auditPage searches the audit log as GET /api/v1/audit does (the same
// filter), newest first, a page at a time; the search is audited first.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	a, q := current(r), r.URL.Query()
	d := auditData{page: page{Title: "Audit log", Staff: a}}
	d.Q.Patient, d.Q.Staff, d.Q.From, d.Q.To = q.Get("patient"), q.Get("staff"), q.Get("from"), q.Get("to")
	f, err := audit.ParseFilter(q)
	if err != nil {
		d.Error = err.Error()
		c.render(w, http.StatusBadRequest, "admin_audit", d)
		return
	}
	var before uint64
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseUint(v, 10, 64); err != nil || before == 0 {
			http.Error(w, "before: a record number", http.StatusBadRequest)
			return
		}
	}
	if err := c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: audit.ListAudit, Patient: f.Patient,
		Detail: f.Staff, From: audit.From(r)}); err != nil {
		c.fail(w, "audit record not written", err)
		return
	}
	recs, err := c.Backend.AuditNewest(r.Context(), f, before, auditPageSize+1)
	if err != nil {
		c.fail(w, "audit log not read", err)
		return
	}
	if len(recs) > auditPageSize {
		recs = recs[:auditPageSize]
		next := url.Values{}
		for k, v := range map[string]string{"patient": d.Q.Patient, "staff": d.Q.Staff, "from": d.Q.From, "to": d.Q.To} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", strconv.FormatUint(recs[len(recs)-1].Seq, 10))
		d.Older = "/console/admin/audit?" + next.Encode()
	}
	d.Records = recs
	c.render(w, http.StatusOK, "admin_audit", d)
}
