package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	if d := c.teams.Default; err != nil || len(d.OnCall) != 2 || d.OnCall[0] != "+15550001111" || d.Every() != 5*time.Minute || d.Deadlines.Of("acute") != 15*time.Minute {
		t.Fatalf("teams %+v %v", c.teams, err)
	}
	if c, err := parseConfig("t", []string{"--require-totp", "admin"}); err != nil || c.RequireTOTP != "admin" {
		t.Fatalf("require-totp admin: %+v %v", c.RequireTOTP, err)
	}
	if c.reopenWithin != 24*time.Hour {
		t.Errorf("TEND_REOPEN_WITHIN by default: %v, want 24h", c.reopenWithin)
	}
	teams := filepath.Join(t.TempDir(), "teams.yaml")
	os.WriteFile(teams, []byte("north:\n  deadlines: {low: 8h}\n  oncall: [\"+15550003333\"]\n"), 0o600)
	c, err = parseConfig("t", []string{"--deadlines", "acute=10m,low=48h", "--teams", teams, "--reopen-within", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.teams.Of("default"); d.Deadlines.Of("acute") != 10*time.Minute || d.Deadlines.Of("low") != 48*time.Hour || len(d.OnCall) != 0 {
		t.Errorf("default team %+v", d)
	}
	if n := c.teams.Of("north"); n.Deadlines.Of("low") != 8*time.Hour || n.Deadlines.Of("acute") != 10*time.Minute || len(n.OnCall) != 1 || c.reopenWithin != 0 {
		t.Errorf("north %+v, reopen within %v", n, c.reopenWithin)
	}
	badTeams := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badTeams, []byte("north:\n  page_every: 5m\n  oncall: [nurse]\n"), 0o600)
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--oncall", "nurse"}, "TEND_ONCALL"},
		{[]string{"--oncall", "+15550001111", "--page-every", "10s"}, "TEND_PAGE_EVERY"},
		{[]string{"--oncall", "+15550001111", "--page-every", "soon"}, "TEND_PAGE_EVERY"},
		{[]string{"--deadlines", "high=2h,medium=1h"}, "TEND_DEADLINES"},
		{[]string{"--deadlines", "urgent=1m"}, "TEND_DEADLINES"},
		{[]string{"--reopen-within", "-1h"}, "TEND_REOPEN_WITHIN"},
		{[]string{"--teams", filepath.Join(t.TempDir(), "missing.yaml")}, "TEND_TEAMS"},
		{[]string{"--teams", badTeams}, "TEND_TEAMS: " + badTeams + ":3: north: oncall"},
		{[]string{"--require-totp", "coach"}, "TEND_REQUIRE_TOTP"},
	} {
		if _, err := parseConfig("t", bad.args); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want an error naming %s", bad.args, err, bad.want)
		}
	}
}
