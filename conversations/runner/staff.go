package runner

import (
	"context"
	"time"

	"github.com/tendcare/tend/store"
)

// SetPassword replaces a staff member's password hash (a new password, or
// a stronger hash of the same at sign-in) and clears MustChange.
func (r *Runner) SetPassword(ctx context.Context, email, hash string) error {
	r.staffMu.Lock()
	defer r.staffMu.Unlock()
	a, err := r.Store.StaffAccount(ctx, email)
	if err != nil {
		return err
	}
	a.PasswordHash, a.MustChange = hash, false
	return r.Store.PutStaff(ctx, a, false)
}

// PutLogin keeps a console session (see store.Logins).
func (r *Runner) PutLogin(ctx context.Context, id string, l store.Login) error {
	return r.Store.PutLogin(ctx, id, l)
}

// Login reads a console session; store.ErrNotFound when unknown or over.
func (r *Runner) Login(ctx context.Context, id string, now time.Time) (store.Login, error) {
	return r.Store.Login(ctx, id, now)
}

// DeleteLogin ends a console session.
func (r *Runner) DeleteLogin(ctx context.Context, id string) error {
	return r.Store.DeleteLogin(ctx, id)
}
