package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// This file checks the Staff role: accounts by email, created once.

func testStaff(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.StaffAccount(ctx, "nobody@clinic.org")
	wantErr(t, "StaffAccount(unknown)", err, store.ErrNotFound)
	a := staff.Account{Email: "nurse@clinic.org", Role: staff.Nurse, Teams: []string{"north"}, PasswordHash: "$argon2id$x", MustChange: true, CreatedAt: t0,
		TOTPSecret: "JBSWY3DPEHPK3PXP", SessionsAfter: t0}
	b := staff.Account{Email: "admin@clinic.org", Role: staff.Admin, PasswordHash: "$argon2id$y", CreatedAt: t0}
	// Two creates of one email at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = s.PutStaff(ctx, a, true) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), staff.ErrExists) {
		t.Fatalf("two creates of one account: %v, %v; want one ErrExists", errs[0], errs[1])
	}
	noErr(t, "PutStaff(admin)", s.PutStaff(ctx, b, true))
	got, err := s.StaffAccount(ctx, a.Email)
	noErr(t, "StaffAccount", err)
	got.CreatedAt = got.CreatedAt.UTC()
	check(t, "StaffAccount", got, a)
	a.MustChange, a.PasswordHash = false, "$argon2id$z"
	noErr(t, "PutStaff(update)", s.PutStaff(ctx, a, false))
	all, err := s.StaffAccounts(ctx)
	noErr(t, "StaffAccounts", err)
	if len(all) != 2 || all[0].Email != b.Email || all[1].Email != a.Email || all[1].MustChange || all[1].PasswordHash != "$argon2id$z" {
		t.Fatalf("StaffAccounts = %+v", all)
	}
}
