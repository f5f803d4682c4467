package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/staff"
)

func TestStaffAdd(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEND_STORE", "embedded")
	t.Setenv("TEND_DATA_DIR", dir)
	var out bytes.Buffer
	if err := staffCmd([]string{"add", "--email", "Nurse@Clinic.org", "--role", "nurse", "--team", "north,south"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`one-time password .*: ([a-z2-7]{20})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no one-time password in %q", out.String())
	}
	err := staffCmd([]string{"add", "--email", "nurse@clinic.org", "--role", "coach", "--team", "x"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "has an account already") {
		t.Fatalf("adding an account twice: %v", err)
	}
	for _, bad := range [][]string{
		{"add", "--email", "x@clinic.org", "--role", "owner", "--team", "t"},
		{"add", "--email", "x@clinic.org", "--role", "coach"},
		{"add", "--email", "nope", "--role", "coach", "--team", "t"},
		{"remove"},
	} {
		if err := staffCmd(bad, nil, &out); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if err := staffCmd([]string{"add", "--email", "admin@clinic.org", "--role", "admin", "--password-stdin"}, strings.NewReader("short\n"), &out); err == nil {
		t.Error("a short password from stdin passed")
	}
	if err := staffCmd([]string{"add", "--email", "admin@clinic.org", "--role", "admin", "--password-stdin"}, strings.NewReader("a long enough passphrase\n"), &out); err != nil {
		t.Fatal(err)
	}
	c, _ := parseConfig("t", nil)
	st, err := openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.StaffAccount(context.Background(), "nurse@clinic.org")
	if err != nil || a.Role != staff.Nurse || !a.MustChange || strings.Join(a.Teams, ",") != "north,south" {
		t.Fatalf("stored account %+v %v", a, err)
	}
	if ok, _ := staff.Check(a.PasswordHash, m[1], staff.DefaultParams); !ok {
		t.Fatal("the printed one-time password does not match the stored hash")
	}
	admin, _ := st.StaffAccount(context.Background(), "admin@clinic.org")
	if ok, _ := staff.Check(admin.PasswordHash, "a long enough passphrase", staff.DefaultParams); !ok || admin.MustChange {
		t.Fatalf("the stdin password: ok %v, must change %v", ok, admin.MustChange)
	}
	st.Close()

	// Offboarding and a forgotten password.
	out.Reset()
	if err := staffCmd([]string{"disable", "--email", "nurse@clinic.org"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := staffCmd([]string{"reset", "--email", "admin@clinic.org"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	reset := regexp.MustCompile(`one-time password .*: ([a-z2-7]{20})\n`).FindStringSubmatch(out.String())
	if reset == nil {
		t.Fatalf("no one-time password after reset in %q", out.String())
	}
	if err := staffCmd([]string{"disable", "--email", "nobody@clinic.org"}, nil, &out); err == nil {
		t.Error("disabling an unknown account passed")
	}
	st, err = openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := st.StaffAccount(context.Background(), "nurse@clinic.org"); !a.Disabled {
		t.Error("disable did not disable")
	}
	admin, _ = st.StaffAccount(context.Background(), "admin@clinic.org")
	if ok, _ := staff.Check(admin.PasswordHash, reset[1], staff.DefaultParams); !ok || !admin.MustChange {
		t.Error("reset did not set a one-time password")
	}

	// A lost phone: totp-off. The last admin cannot be disabled.
	admin.TOTPSecret = staff.NewTOTPSecret()
	if err := st.PutStaff(context.Background(), admin, false); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	if err := staffCmd([]string{"list"}, nil, &out); err != nil || !strings.Contains(out.String(), "admin@clinic.org\tadmin\t\tone-time password, TOTP\n") ||
		!strings.Contains(out.String(), "nurse@clinic.org\tnurse\tnorth,south\tdisabled, one-time password\n") {
		t.Fatalf("list: %v\n%s", err, out.String())
	}
	if err := staffCmd([]string{"totp-off", "--email", "admin@clinic.org"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := staffCmd([]string{"disable", "--email", "admin@clinic.org"}, nil, &out); err == nil || !strings.Contains(err.Error(), "last enabled admin") {
		t.Fatalf("disabling the last admin: %v", err)
	}
	st, err = openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if a, _ := st.StaffAccount(context.Background(), "admin@clinic.org"); a.TOTPSecret != "" {
		t.Error("totp-off left the secret")
	}
	host, _ := os.Hostname()
	var actions []string
	st.AuditRecords(context.Background(), func(r audit.Record) error {
		if r.Staff != "cli" || r.From != host {
			t.Errorf("record %+v, want cli from %s", r, host)
		}
		actions = append(actions, r.Action)
		return nil
	})
	if got := strings.Join(actions, " "); got != "staff_add staff_add staff_disable staff_reset totp_off" {
		t.Errorf("audited %s", got)
	}
}

func TestOnCallConfig(t *testing.T) {
	c, err := parseConfig("t", []string{"--oncall", "+1 (555) 000-1111, +15550002222", "--page-every", "5m"})
	if err != nil || c.pager == nil || len(c.pager.Ladder) != 2 || c.pager.Ladder[0] != "+15550001111" || c.pager.Every != 5*time.Minute {
		t.Fatalf("pager %+v %v", c.pager, err)
	}
	if c, err := parseConfig("t", []string{"--require-totp", "admin"}); err != nil || c.RequireTOTP != "admin" {
		t.Fatalf("require-totp admin: %+v %v", c.RequireTOTP, err)
	}
	for _, bad := range [][]string{{"--oncall", "nurse"}, {"--oncall", "+15550001111", "--page-every", "10s"}, {"--oncall", "+15550001111", "--page-every", "soon"}, {"--require-totp", "coach"}} {
		if _, err := parseConfig("t", bad); err == nil || !strings.Contains(err.Error(), "TEND_") {
			t.Errorf("%v: %v, want an error naming the setting", bad, err)
		}
	}
}
