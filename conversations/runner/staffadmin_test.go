package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

var cheapParams = staff.Params{Memory: 64, Time: 1, Threads: 1}

// The staff changes the command line and the admin page share: each is
// audited with who and from where, the last enabled admin stays one, a
// reset ends older sessions and keeps TOTP.
func TestStaffChanges(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	r.StaffParams = cheapParams
	ctx := context.Background()
	by := Actor{Staff: "cli", From: "host1"}
	pw, err := r.AddStaff(ctx, by, staff.Account{Email: "Admin@Clinic.org", Role: staff.Admin}, "")
	if err != nil || len(pw) != 20 {
		t.Fatalf("AddStaff: %q %v", pw, err)
	}
	a, _ := st.StaffAccount(ctx, "admin@clinic.org")
	if ok, _ := staff.Check(a.PasswordHash, pw, cheapParams); !ok || !a.MustChange || !a.CreatedAt.Equal(at15) {
		t.Fatalf("the new admin: %+v", a)
	}
	if _, err := r.AddStaff(ctx, by, staff.Account{Email: "admin@clinic.org", Role: staff.Coach, Teams: []string{"x"}}, ""); !errors.Is(err, staff.ErrExists) {
		t.Fatalf("adding twice: %v", err)
	}
	if _, err := r.AddStaff(ctx, by, staff.Account{Email: "c@clinic.org", Role: staff.Coach}, ""); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("a coach without a team: %v", err)
	}
	if _, err := r.AddStaff(ctx, by, staff.Account{Email: "c@clinic.org", Role: staff.Coach, Teams: []string{"north"}}, "short"); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("a short password: %v", err)
	}
	if pw, err := r.AddStaff(ctx, by, staff.Account{Email: "c@clinic.org", Role: staff.Coach, Teams: []string{"north"}, TOTPSecret: "JBSWY3DPEHPK3PXP"}, "a long enough passphrase"); pw != "" || err != nil {
		t.Fatalf("a chosen password: %q %v", pw, err)
	}
	if c, _ := st.StaffAccount(ctx, "c@clinic.org"); c.MustChange || c.TOTPSecret != "" {
		t.Fatalf("a chosen password is not one-time, and TOTP is enrolled only by its owner: %+v", c)
	}

	if err := r.DisableStaff(ctx, by, "admin@clinic.org"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if err := r.SetStaffAccess(ctx, by, "admin@clinic.org", staff.Coach, []string{"north"}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := r.SetStaffAccess(ctx, by, "c@clinic.org", staff.Admin, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DisableStaff(ctx, by, "admin@clinic.org"); err != nil {
		t.Fatalf("disabling one of two admins: %v", err)
	}
	if err := r.SetStaffAccess(ctx, by, "c@clinic.org", staff.Nurse, nil); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last enabled admin: %v", err)
	}
	if err := r.SetStaffAccess(ctx, by, "admin@clinic.org", "owner", nil); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("an unknown role: %v", err)
	}
	if err := r.EnableStaff(ctx, by, "admin@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if err := r.EnableStaff(ctx, by, "nobody@clinic.org"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown account: %v", err)
	}

	// TOTP on, then a reset: a new one-time password, older sessions end, TOTP stays.
	secret := staff.NewTOTPSecret()
	code, _ := staff.TOTPCode(secret, clock.Now())
	if err := r.EnableTOTP(ctx, by, "c@clinic.org", secret, "000000"); !errors.Is(err, ErrTOTPCode) && code != "000000" {
		t.Fatalf("enrolling with a wrong code: %v", err)
	}
	if err := r.EnableTOTP(ctx, by, "c@clinic.org", secret, code); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	pw, err = r.ResetStaffPassword(ctx, by, "c@clinic.org")
	c, _ := st.StaffAccount(ctx, "c@clinic.org")
	if ok, _ := staff.Check(c.PasswordHash, pw, cheapParams); err != nil || !ok || !c.MustChange || !c.SessionsAfter.Equal(clock.Now()) || c.TOTPSecret != secret {
		t.Fatalf("after a reset: %v %+v", err, c)
	}
	if err := r.ClearTOTP(ctx, by, "c@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.StaffAccount(ctx, "c@clinic.org"); c.TOTPSecret != "" {
		t.Fatal("ClearTOTP left the secret")
	}

	var got []string
	st.AuditRecords(ctx, func(rec audit.Record) error {
		if rec.Staff != "cli" || rec.From != "host1" {
			t.Errorf("record %+v: want cli from host1", rec)
		}
		got = append(got, rec.Action+" "+rec.Detail)
		return nil
	})
	want := []string{"staff_add admin@clinic.org admin", "staff_add c@clinic.org coach north", "staff_access c@clinic.org admin",
		"staff_disable admin@clinic.org", "staff_enable admin@clinic.org", "totp_on c@clinic.org", "staff_reset c@clinic.org", "totp_off c@clinic.org"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A code signs in once: the same code again, on any replica, is a replay,
// even in the next step; the next step's code works.
func TestCheckTOTP(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	ctx := context.Background()
	secret := staff.NewTOTPSecret()
	if err := st.PutStaff(ctx, staff.Account{Email: "n@clinic.org", Role: staff.Nurse, Teams: []string{"north"}, TOTPSecret: secret}, true); err != nil {
		t.Fatal(err)
	}
	code, _ := staff.TOTPCode(secret, clock.Now())
	if err := r.CheckTOTP(ctx, "n@clinic.org", code); err != nil {
		t.Fatal(err)
	}
	clock.Add(staff.TOTPPeriod)
	if err := r.CheckTOTP(ctx, "n@clinic.org", code); !errors.Is(err, ErrTOTPUsed) {
		t.Fatalf("a replay one step later: %v", err)
	}
	next, _ := staff.TOTPCode(secret, clock.Now())
	if err := r.CheckTOTP(ctx, "n@clinic.org", next); err != nil {
		t.Fatalf("the next code: %v", err)
	}
	clock.Add(3 * staff.TOTPPeriod)
	if err := r.CheckTOTP(ctx, "n@clinic.org", code); !errors.Is(err, ErrTOTPCode) {
		t.Fatalf("an old code: %v", err)
	}
	if err := r.CheckTOTP(ctx, "nobody@clinic.org", code); !errors.Is(err, ErrTOTPCode) {
		t.Fatalf("an unknown account: %v", err)
	}
}

// AuditNewest pages newest first.
func TestAuditNewest(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRunner(t, at15)
	ctx := context.Background()
	for i := range 7 {
		who := "a"
		if i%2 == 1 {
			who = "b"
		}
		if err := r.Audit(ctx, audit.Record{Staff: who, Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(recs []audit.Record) (out []uint64) {
		for _, rec := range recs {
			out = append(out, rec.Seq)
		}
		return out
	}
	page, err := r.AuditNewest(ctx, audit.Filter{Staff: "a"}, 0, 3)
	if got := seqs(page); err != nil || len(got) != 3 || got[0] != 7 || got[1] != 5 || got[2] != 3 {
		t.Fatalf("first page %v %v", got, err)
	}
	page, _ = r.AuditNewest(ctx, audit.Filter{Staff: "a"}, 3, 3)
	if got := seqs(page); len(got) != 1 || got[0] != 1 {
		t.Fatalf("second page %v", got)
	}
	if page, _ := r.AuditNewest(ctx, audit.Filter{}, 0, 100); len(page) != 7 || page[0].Seq != 7 || page[6].Seq != 1 {
		t.Fatalf("all %v", seqs(page))
	}
}
