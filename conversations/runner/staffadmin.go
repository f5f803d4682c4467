package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Managing staff accounts: the rules tend staff on the command line and
// the console's admin page share, each change audited here so that
// neither can forget to.

// Actor is who changes a staff account and from where, for the audit log:
// an admin's email and their browser's address, or "cli" and the host for
// tend on the command line.
type Actor struct{ Staff, From string }

// Errors of the staff changes.
var (
	// ErrLastAdmin: the change would leave no enabled admin to manage
	// staff from the console (the command line still can).
	ErrLastAdmin = errors.New("the last enabled admin cannot be disabled or lose the admin role")
	// ErrNotAudited: the change was made but its audit record was not
	// written; the caller says so (and still shows a one-time password).
	ErrNotAudited = errors.New("done, but the audit record was not written")
	// ErrTOTPCode: not the authenticator's code now (or the account has
	// no TOTP, or is disabled).
	ErrTOTPCode = errors.New("wrong code")
	// ErrTOTPUsed: the right code, but it was used already (RFC 6238
	// 5.2: a code is accepted once).
	ErrTOTPUsed = errors.New("that code was used already: wait for the next one")
	// ErrTOTPOn: the account has TOTP already; an admin clears it first.
	ErrTOTPOn = errors.New("two-step sign-in is on already")
)

func (r *Runner) staffParams() staff.Params {
	if r.StaffParams == (staff.Params{}) {
		return staff.DefaultParams
	}
	return r.StaffParams
}

// StaffAccounts lists every account in email order (with their hashes and
// secrets: callers show neither).
func (r *Runner) StaffAccounts(ctx context.Context) ([]staff.Account, error) {
	return r.Store.StaffAccounts(ctx)
}

func (r *Runner) auditStaff(ctx context.Context, by Actor, action, detail string) error {
	if err := r.Audit(ctx, audit.Record{Staff: by.Staff, From: by.From, Action: action, Detail: detail}); err != nil {
		return fmt.Errorf("%w: %w", ErrNotAudited, err)
	}
	return nil
}

// AddStaff creates an account. With password "" it gets a one-time
// password, returned to be shown once and changed at the first sign-in;
// otherwise password (at least staff.MinPassword characters) is theirs.
// Errors: staff.ErrInvalid, staff.ErrExists, ErrNotAudited (the account
// exists and oneTime is set).
func (r *Runner) AddStaff(ctx context.Context, by Actor, a staff.Account, password string) (oneTime string, err error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	a.TOTPSecret, a.Disabled, a.SessionsAfter, a.CreatedAt = "", false, time.Time{}, r.Clock().UTC()
	if password == "" {
		oneTime = staff.NewPassword()
		password = oneTime
	} else if err := staff.CheckStrength(password); err != nil {
		return "", fmt.Errorf("%w: %v", staff.ErrInvalid, err)
	}
	a.PasswordHash, a.MustChange = staff.Hash(password, r.staffParams()), oneTime != ""
	if err := r.Store.PutStaff(ctx, a, true); err != nil {
		return "", err
	}
	return oneTime, r.auditStaff(ctx, by, audit.StaffAdd, accessDetail(a))
}

// accessDetail names an account and what it may see, for the audit.
func accessDetail(a staff.Account) string {
	return strings.TrimSpace(a.Email + " " + a.Role + " " + strings.Join(a.Teams, ","))
}

// changeStaff reads email's account, lets change edit it (and say what to
// audit), writes it back and audits action. Errors: store.ErrNotFound,
// staff.ErrInvalid, what change returns, ErrNotAudited.
func (r *Runner) changeStaff(ctx context.Context, by Actor, email, action string, change func(*staff.Account) (string, error)) error {
	email, err := staff.NormalizeEmail(email)
	if err != nil {
		return err
	}
	r.staffMu.Lock()
	defer r.staffMu.Unlock()
	a, err := r.Store.StaffAccount(ctx, email)
	if err != nil {
		return err
	}
	detail, err := change(&a)
	if err != nil {
		return err
	}
	if err := r.Store.PutStaff(ctx, a, false); err != nil {
		return err
	}
	return r.auditStaff(ctx, by, action, detail)
}

// keepsAnAdmin refuses a change that leaves email, now an enabled admin,
// without the role or disabled when no other enabled admin exists.
func (r *Runner) keepsAnAdmin(ctx context.Context, email string) error {
	all, err := r.Store.StaffAccounts(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Email != email && o.Role == staff.Admin && !o.Disabled {
			return nil
		}
	}
	return ErrLastAdmin
}

// DisableStaff disables an account: no sign-in, and its sessions end at
// their next request. The last enabled admin stays (ErrLastAdmin).
func (r *Runner) DisableStaff(ctx context.Context, by Actor, email string) error {
	return r.changeStaff(ctx, by, email, audit.StaffDisable, func(a *staff.Account) (string, error) {
		if a.Role == staff.Admin && !a.Disabled {
			if err := r.keepsAnAdmin(ctx, a.Email); err != nil {
				return "", err
			}
		}
		a.Disabled = true
		return a.Email, nil
	})
}

// EnableStaff enables a disabled account again.
func (r *Runner) EnableStaff(ctx context.Context, by Actor, email string) error {
	return r.changeStaff(ctx, by, email, audit.StaffEnable, func(a *staff.Account) (string, error) {
		a.Disabled = false
		return a.Email, nil
	})
}

// ResetStaffPassword gives an account a new one-time password, returned to
// be shown once, and ends its sessions: whoever holds one cannot choose
// the next password in the owner's place. TOTP stays as it is (a forgotten
// password is not a lost phone: ClearTOTP is its own change).
func (r *Runner) ResetStaffPassword(ctx context.Context, by Actor, email string) (string, error) {
	pw := staff.NewPassword()
	err := r.changeStaff(ctx, by, email, audit.StaffReset, func(a *staff.Account) (string, error) {
		a.PasswordHash, a.MustChange, a.SessionsAfter = staff.Hash(pw, r.staffParams()), true, r.Clock().UTC()
		return a.Email, nil
	})
	if err != nil && !errors.Is(err, ErrNotAudited) {
		return "", err
	}
	return pw, err
}

// SetStaffAccess changes an account's role and teams (taking effect at
// its next request). The last enabled admin keeps the role (ErrLastAdmin).
func (r *Runner) SetStaffAccess(ctx context.Context, by Actor, email, role string, teams []string) error {
	return r.changeStaff(ctx, by, email, audit.StaffAccess, func(a *staff.Account) (string, error) {
		if a.Role == staff.Admin && role != staff.Admin && !a.Disabled {
			if err := r.keepsAnAdmin(ctx, a.Email); err != nil {
				return "", err
			}
		}
		a.Role, a.Teams = role, teams
		if err := a.Validate(); err != nil {
			return "", err
		}
		return accessDetail(*a), nil
	})
}

// ClearTOTP turns an account's two-step sign-in off (a lost phone): its
// next sign-in asks for the password only, and the member may enrol again.
func (r *Runner) ClearTOTP(ctx context.Context, by Actor, email string) error {
	return r.changeStaff(ctx, by, email, audit.TOTPOff, func(a *staff.Account) (string, error) {
		a.TOTPSecret = ""
		return a.Email, nil
	})
}

// EnableTOTP turns on two-step sign-in for email with secret, once code
// shows that the member's app has the secret (the code is then used up).
// Errors: ErrTOTPCode, ErrTOTPUsed, ErrTOTPOn, staff.ErrTOTPSecret.
func (r *Runner) EnableTOTP(ctx context.Context, by Actor, email, secret, code string) error {
	if _, err := staff.TOTPCode(secret, r.Clock()); err != nil {
		return err
	}
	return r.changeStaff(ctx, by, email, audit.TOTPOn, func(a *staff.Account) (string, error) {
		if a.TOTPSecret != "" {
			return "", ErrTOTPOn
		}
		if err := r.useTOTP(ctx, a.Email, secret, code); err != nil {
			return "", err
		}
		a.TOTPSecret = secret
		return a.Email, nil
	})
}

// CheckTOTP checks the second step of a sign-in: code is email's current
// code and was not used before. A disabled account, or one without TOTP,
// gets ErrTOTPCode.
func (r *Runner) CheckTOTP(ctx context.Context, email, code string) error {
	a, err := r.Store.StaffAccount(ctx, email)
	if errors.Is(err, store.ErrNotFound) || err == nil && (a.Disabled || a.TOTPSecret == "") {
		return ErrTOTPCode
	}
	if err != nil {
		return err
	}
	return r.useTOTP(ctx, a.Email, a.TOTPSecret, code)
}

// useTOTP matches code and records its time step as used, in the store so
// that every replica refuses a replay: the record outlives the three
// steps in which the code could match.
func (r *Runner) useTOTP(ctx context.Context, email, secret, code string) error {
	now := r.Clock()
	step, ok := staff.MatchTOTP(secret, code, now)
	if !ok {
		return ErrTOTPCode
	}
	fresh, err := r.Store.Once(ctx, fmt.Sprintf("totp|%s|%d", email, step), 3*staff.TOTPPeriod, now)
	if err != nil {
		return err
	}
	if !fresh {
		return ErrTOTPUsed
	}
	return nil
}

// AuditNewest returns up to n records f selects, newest first, among
// those before sequence number before (0: the newest): a page of a search,
// the next page starting before the last record of this one. It reads the
// whole log (it keeps only n records).
func (r *Runner) AuditNewest(ctx context.Context, f audit.Filter, before uint64, n int) ([]audit.Record, error) {
	if n <= 0 {
		return nil, nil
	}
	ring := make([]audit.Record, 0, n)
	next := 0
	err := r.Store.AuditRecords(ctx, func(rec audit.Record) error {
		if before > 0 && rec.Seq >= before || !f.Match(rec) {
			return nil
		}
		if len(ring) < n {
			ring = append(ring, rec)
		} else {
			ring[next] = rec
		}
		next = (next + 1) % n
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]audit.Record, 0, len(ring))
	for i := range ring {
		out = append(out, ring[(next-1-i+2*len(ring))%len(ring)])
	}
	return out, nil
}
