package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/console"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store/seal"
)

const admin = "admin@clinic.org"

// adminEnv is newEnv with an admin account, the runner hashing cheaply,
// and the console configured by configure (nil: as newEnv's).
func adminEnv(t *testing.T, configure func(*console.Console)) *env {
	t.Helper()
	e := newEnv(t)
	e.Runner.StaffParams = cheap
	a := staff.Account{Email: admin, Role: staff.Admin, PasswordHash: staff.Hash(password, cheap)}
	if err := e.Store.PutStaff(t.Context(), a, true); err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		c := &console.Console{Backend: e.Runner, Clock: e.Clock.Now, Params: cheap}
		configure(c)
		srv := httptest.NewServer(c.Handler())
		t.Cleanup(srv.Close)
		e2 := *e
		e2.srv = srv
		return &e2
	}
	return e
}

func (e *env) signedIn(email, pw string) *browser {
	e.t.Helper()
	b := e.browser()
	if status, body := b.login(email, pw); status != http.StatusOK || !strings.Contains(body, "Inbox") {
		e.t.Fatalf("%s signing in: %d\n%s", email, status, body)
	}
	return b
}

// records lists the audit log as "staff action detail" lines.
func (e *env) records() []audit.Record {
	var out []audit.Record
	e.Store.AuditRecords(e.t.Context(), func(r audit.Record) error {
		out = append(out, r)
		return nil
	})
	return out
}

func (e *env) audited(staffEmail, action, detail string) bool {
	for _, r := range e.records() {
		if r.Staff == staffEmail && r.Action == action && strings.Contains(r.Detail, detail) && r.From != "" {
			return true
		}
	}
	return false
}

var oneTimePassword = regexp.MustCompile(`<code class="secret">([a-z2-7]{20})</code>`)

// Only an admin sees the admin pages: anyone else gets a 404 for them, as
// for a page that does not exist, and the attempt is audited.
func TestAdminOnly(t *testing.T) {
	t.Parallel()
	e := adminEnv(t, nil)
	coach := e.signedIn("north@clinic.org", password)
	for _, path := range []string{"/console/admin/staff", "/console/admin/audit"} {
		if status, _ := coach.get(path); status != http.StatusNotFound {
			t.Errorf("a coach GET %s: %d, want 404", path, status)
		}
	}
	if status, _ := coach.post("/console/admin/staff/disable", url.Values{"email": {"south@clinic.org"}}); status != http.StatusNotFound {
		t.Errorf("a coach disabling a colleague: %d, want 404", status)
	}
	if a, _ := e.Store.StaffAccount(t.Context(), "south@clinic.org"); a.Disabled {
		t.Fatal("a coach disabled an account")
	}
	if _, inbox := coach.get("/console/"); strings.Contains(inbox, "/console/admin/") {
		t.Error("a coach's pages link to the admin pages")
	}
	if !e.audited("north@clinic.org", audit.AdminPage, "refused: not an admin: GET /console/admin/staff") ||
		!e.audited("north@clinic.org", audit.AdminPage, "refused: not an admin: POST /console/admin/staff/disable") {
		t.Errorf("refusals not audited: %+v", e.records())
	}
	adm := e.signedIn(admin, password)
	status, body := adm.get("/console/admin/staff")
	if status != http.StatusOK || !strings.Contains(body, "north@clinic.org") || !strings.Contains(body, "south@clinic.org") ||
		strings.Contains(body, "$argon2id") {
		t.Fatalf("the staff page for an admin: %d\n%s", status, body)
	}
	if !e.audited(admin, audit.ListStaff, "") {
		t.Error("the staff page view not audited")
	}
}

// An admin adds an account (its one-time password shown once), disables,
// enables and resets one (the holder's session ends), and changes a
// role and teams; the last admin stays one; every change is audited with
// who and from where.
func TestAdminStaff(t *testing.T) {
	t.Parallel()
	e := adminEnv(t, nil)
	adm := e.signedIn(admin, password)

	status, body := adm.post("/console/admin/staff", url.Values{"email": {"New.Nurse@Clinic.org"}, "role": {"nurse"}, "teams": {"north, south"}})
	m := oneTimePassword.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil || !strings.Contains(body, "new.nurse@clinic.org") {
		t.Fatalf("adding: %d\n%s", status, body)
	}
	if _, again := adm.get("/console/admin/staff"); strings.Contains(again, m[1]) {
		t.Fatal("the one-time password is shown again")
	}
	nurse := e.browser()
	if _, page := nurse.login("new.nurse@clinic.org", m[1]); !strings.Contains(page, "Choose your password") {
		t.Fatalf("the new account's first sign-in:\n%s", page)
	}
	if status, body := adm.post("/console/admin/staff", url.Values{"email": {"new.nurse@clinic.org"}, "role": {"coach"}, "teams": {"x"}}); status != http.StatusBadRequest || !strings.Contains(body, "has an account already") {
		t.Fatalf("adding twice: %d\n%s", status, body)
	}
	if status, body := adm.post("/console/admin/staff", url.Values{"email": {"c@clinic.org"}, "role": {"coach"}}); status != http.StatusBadRequest || !strings.Contains(body, "needs at least one team") || !strings.Contains(body, `value="c@clinic.org"`) {
		t.Fatalf("a coach without a team: %d\n%s", status, body)
	}

	// Disable ends the coach's session at once; enable lets them back.
	north := e.signedIn("north@clinic.org", password)
	if _, page := adm.post("/console/admin/staff/disable", url.Values{"email": {"north@clinic.org"}}); !strings.Contains(page, "Disabled north@clinic.org") {
		t.Fatalf("disable:\n%s", page)
	}
	if _, page := north.get("/console/"); !strings.Contains(page, "Sign in") {
		t.Fatal("a disabled coach's session goes on")
	}
	if status, _ := e.browser().login("north@clinic.org", password); status != http.StatusUnauthorized {
		t.Fatalf("a disabled coach signs in: %d", status)
	}
	adm.post("/console/admin/staff/enable", url.Values{"email": {"north@clinic.org"}})
	north = e.signedIn("north@clinic.org", password)

	// A reset shows a new one-time password and ends the coach's session:
	// whoever held it cannot choose the next password.
	e.Clock.Add(time.Second)
	_, page := adm.post("/console/admin/staff/reset", url.Values{"email": {"north@clinic.org"}})
	m = oneTimePassword.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("reset shows no password:\n%s", page)
	}
	if _, page := north.get("/console/password"); !strings.Contains(page, "Sign in") {
		t.Fatal("the session from before the reset goes on")
	}
	if status, _ := e.browser().login("north@clinic.org", password); status != http.StatusUnauthorized {
		t.Fatal("the old password still works")
	}
	if _, page := e.browser().login("north@clinic.org", m[1]); !strings.Contains(page, "Choose your password") {
		t.Fatal("the reset password does not lead to choosing one")
	}

	// Role and teams: south now works team north too.
	if _, page := adm.post("/console/admin/staff/access", url.Values{"email": {"south@clinic.org"}, "role": {"nurse"}, "teams": {"south north"}}); !strings.Contains(page, "Saved") {
		t.Fatalf("access:\n%s", page)
	}
	south := e.signedIn("south@clinic.org", password)
	if _, inbox := south.get("/console/"); !strings.Contains(inbox, "p-north") || !strings.Contains(inbox, "nurse") {
		t.Fatalf("after the change south does not see team north:\n%s", inbox)
	}
	// The last admin stays one.
	if _, page := adm.post("/console/admin/staff/disable", url.Values{"email": {admin}}); !strings.Contains(page, "Not changed: the last enabled admin") {
		t.Fatalf("disabling the last admin:\n%s", page)
	}
	if _, page := adm.post("/console/admin/staff/access", url.Values{"email": {admin}, "role": {"coach"}, "teams": {"north"}}); !strings.Contains(page, "Not changed: the last enabled admin") {
		t.Fatalf("demoting the last admin:\n%s", page)
	}
	if status, _ := adm.post("/console/admin/staff/delete", url.Values{"email": {"south@clinic.org"}}); status != http.StatusNotFound {
		t.Fatalf("an unknown action: %d", status)
	}

	for _, want := range [][2]string{
		{audit.StaffAdd, "new.nurse@clinic.org nurse north,south"}, {audit.StaffDisable, "north@clinic.org"}, {audit.StaffEnable, "north@clinic.org"},
		{audit.StaffReset, "north@clinic.org"}, {audit.StaffAccess, "south@clinic.org nurse south,north"},
	} {
		if !e.audited(admin, want[0], want[1]) {
			t.Errorf("not audited: %s %s", want[0], want[1])
		}
	}
	for _, r := range e.records() {
		if strings.Contains(r.Detail, m[1]) {
			t.Errorf("a password on the audit log: %+v", r)
		}
	}
}

var auditRow = regexp.MustCompile(`<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>`)

// The audit page filters as GET /api/v1/audit does, newest first, a
// hundred at a time, and the search itself is on the log.
func TestAuditSearch(t *testing.T) {
	t.Parallel()
	e := adminEnv(t, nil)
	north := e.signedIn("north@clinic.org", password)
	_, inbox := north.get("/console/")
	north.get("/console/tickets/" + ticketLink.FindStringSubmatch(inbox)[1])
	adm := e.signedIn(admin, password)

	rows := func(query string) (status int, out [][]string, body string) {
		t.Helper()
		status, body = adm.get("/console/admin/audit?" + query)
		for _, m := range auditRow.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1:])
		}
		return status, out, body
	}
	_, got, _ := rows("patient=p-north")
	if len(got) == 0 {
		t.Fatal("no records of p-north")
	}
	for i, r := range got {
		if r[3] != "p-north" {
			t.Errorf("a record of another patient: %v", r)
		}
		if i > 0 && r[0] >= got[i-1][0] && len(r[0]) == len(got[i-1][0]) {
			t.Errorf("not newest first: %v after %v", r, got[i-1])
		}
	}
	if got[0][1] != admin || got[0][2] != audit.ListAudit {
		t.Errorf("the newest record of p-north is not this search: %v", got[0])
	}
	if !strings.Contains(fmt.Sprint(got), "north@clinic.org view_timeline p-north") {
		t.Errorf("the coach's view is missing: %v", got)
	}
	_, got, _ = rows("staff=north@clinic.org")
	for _, r := range got {
		if r[1] != "north@clinic.org" {
			t.Errorf("another staff member's record: %v", r)
		}
	}
	today := e.Clock.Now().UTC().Format("2006-01-02")
	if _, got, _ := rows("staff=north@clinic.org&from=" + today + "&to=" + today); len(got) == 0 {
		t.Error("nothing from today")
	}
	if _, got, _ := rows("staff=north@clinic.org&to=2000-01-01"); len(got) != 0 {
		t.Errorf("records before 2000: %v", got)
	}
	if status, _, body := rows("from=yesterday"); status != http.StatusBadRequest || !strings.Contains(body, "from: want an RFC 3339 time") {
		t.Fatalf("a bad time: %d\n%s", status, body)
	}

	// Pages of a hundred.
	for i := range 150 {
		if err := e.Runner.Audit(t.Context(), audit.Record{Staff: "api", Action: "view_patient", Patient: fmt.Sprintf("bulk-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, first, body := rows("staff=api")
	older := regexp.MustCompile(`href="/console/admin/audit\?([^"]+)">Older`).FindStringSubmatch(body)
	if len(first) != 100 || older == nil || first[0][3] != "bulk-149" {
		t.Fatalf("first page: %d rows, older %v, first %v", len(first), older, first[0])
	}
	_, second, body := rows(strings.ReplaceAll(older[1], "&amp;", "&"))
	if len(second) != 50 || second[0][3] != "bulk-049" || second[49][3] != "bulk-000" || !strings.Contains(body, "No older records") {
		t.Fatalf("second page: %d rows, %v … %v", len(second), second[0], second[len(second)-1])
	}
}

// secretField finds the secret in the TOTP page's form.
var secretField = regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := staff.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A coach turns TOTP on (a code proves the app has the secret, which the
// store keeps sealed); sign-in then asks for a code, and until it is given
// nothing else opens; a wrong code is refused and throttled, a used one
// refused; an admin turns it off for a lost phone.
func TestTOTP(t *testing.T) {
	t.Parallel()
	e := adminEnv(t, nil)
	line, err := seal.GenerateKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.ParseKeyring("keys", strings.NewReader(line+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.Runner.Store = seal.Wrap(e.Store, ring) // what tend serve runs on

	b := e.signedIn("north@clinic.org", password)
	_, page := b.get("/console/totp")
	m := secretField.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "otpauth://totp/Tend:north@clinic.org?") {
		t.Fatalf("the TOTP page:\n%s", page)
	}
	secret := m[1]
	wrong := fmt.Sprintf("%06d", (atoi(code(t, secret, e.Clock.Now()))+1)%1000000)
	if status, page := b.post("/console/totp", url.Values{"secret": {secret}, "code": {wrong}}); status != http.StatusBadRequest || !strings.Contains(page, secret) {
		t.Fatalf("enrolling with a wrong code: %d", status)
	}
	enrolled := code(t, secret, e.Clock.Now())
	if _, page := b.post("/console/totp", url.Values{"secret": {secret}, "code": {enrolled}}); !strings.Contains(page, "Two-step sign-in is on") {
		t.Fatalf("enrolling:\n%s", page)
	}
	raw, _ := e.Store.StaffAccount(t.Context(), "north@clinic.org")
	if !strings.HasPrefix(raw.TOTPSecret, "seal:k1:") {
		t.Fatalf("the stored secret is not sealed: %q", raw.TOTPSecret)
	}
	if _, page := b.get("/console/totp"); strings.Contains(page, secret) || secretField.MatchString(page) {
		t.Fatal("the TOTP page shows the secret again")
	}
	b.post("/console/logout", nil)

	// The password alone leads to the code page, which opens nothing else.
	b = e.browser()
	if status, page := b.login("north@clinic.org", password); status != http.StatusOK || !strings.Contains(page, "authenticator app shows") {
		t.Fatalf("the password of a TOTP account: %d\n%s", status, page)
	}
	for _, path := range []string{"/console/", "/console/totp", "/console/tickets/x", "/console/password"} {
		if _, page := b.get(path); !strings.Contains(page, "Sign in") {
			t.Errorf("half signed in, %s opens", path)
		}
	}
	// Its cookie is no session cookie either.
	u, _ := url.Parse(e.srv.URL + "/console/login/code")
	var half string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "tend_code" {
			half = c.Value
		}
	}
	if half == "" {
		t.Fatal("no second-step cookie")
	}
	forged := e.browser()
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "tend_session", Value: half, Path: "/console/"}})
	if _, page := forged.get("/console/"); !strings.Contains(page, "Sign in") {
		t.Fatal("the second-step cookie opens the inbox as a session cookie")
	}
	// The code used to enrol is used up; a wrong one is refused.
	if status, _ := b.post("/console/login/code", url.Values{"code": {enrolled}}); status != http.StatusUnauthorized {
		t.Fatalf("the enrolment code replayed: %d", status)
	}
	if status, _ := b.post("/console/login/code", url.Values{"code": {wrong}}); status != http.StatusUnauthorized {
		t.Fatalf("a wrong code: %d", status)
	}
	e.Clock.Add(staff.TOTPPeriod)
	next := code(t, secret, e.Clock.Now())
	if status, page := b.post("/console/login/code", url.Values{"code": {next}}); status != http.StatusOK || !strings.Contains(page, "Inbox") {
		t.Fatalf("the right code: %d\n%s", status, page)
	}
	// The same code, right away, in another browser: refused.
	other := e.browser()
	other.login("north@clinic.org", password)
	if status, _ := other.post("/console/login/code", url.Values{"code": {next}}); status != http.StatusUnauthorized {
		t.Fatalf("a code used twice: %d", status)
	}

	// Ten failures throttle: the next right code is refused too.
	e.Clock.Add(staff.TOTPPeriod)
	for range 10 {
		other.post("/console/login/code", url.Values{"code": {wrong}})
	}
	if status, _ := other.post("/console/login/code", url.Values{"code": {code(t, secret, e.Clock.Now())}}); status != http.StatusUnauthorized {
		t.Fatalf("the right code after 10 failures: %d, want throttled", status)
	}
	// The second step expires.
	e.Clock.Add(16 * time.Minute)
	late := e.browser()
	late.login("north@clinic.org", password)
	e.Clock.Add(6 * time.Minute)
	if _, page := late.post("/console/login/code", url.Values{"code": {code(t, secret, e.Clock.Now())}}); !strings.Contains(page, "Sign in") || strings.Contains(page, "Inbox") {
		t.Fatal("a second step six minutes old still signs in")
	}
	if !e.audited("north@clinic.org", audit.TOTPOn, "north@clinic.org") || !e.audited("north@clinic.org", "sign_in", "with a TOTP code") ||
		!e.audited("north@clinic.org", "sign_in_failed", "code: used already") {
		t.Errorf("audit: %+v", e.records())
	}
	for _, r := range e.records() {
		if strings.Contains(r.Detail, secret) || strings.Contains(r.Detail, next) {
			t.Errorf("a secret or code on the audit log: %+v", r)
		}
	}

	// A password reset between the password and the code ends the second step.
	pending := e.browser()
	pending.login("north@clinic.org", password)
	e.Clock.Add(time.Second)
	adm := e.signedIn(admin, password)
	if _, page := adm.get("/console/admin/staff"); !strings.Contains(page, "TOTP on") {
		t.Fatal("the staff page does not show TOTP on")
	}
	_, page = adm.post("/console/admin/staff/reset", url.Values{"email": {"north@clinic.org"}})
	reset := oneTimePassword.FindStringSubmatch(page)
	if _, page := pending.post("/console/login/code", url.Values{"code": {code(t, secret, e.Clock.Now())}}); !strings.Contains(page, "Sign in") || strings.Contains(page, "Inbox") {
		t.Fatal("a second step begun before a reset still signs in")
	}

	// A lost phone: an admin turns TOTP off; the password alone signs in.
	adm.post("/console/admin/staff/totp-off", url.Values{"email": {"north@clinic.org"}})
	if _, page := e.browser().login("north@clinic.org", reset[1]); !strings.Contains(page, "Choose your password") {
		t.Fatalf("after totp-off, the password alone:\n%s", page)
	}
	if !e.audited(admin, audit.TOTPOff, "north@clinic.org") {
		t.Error("totp-off not audited")
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TEND_REQUIRE_TOTP=admin: an admin without TOTP turns it on before any
// other page; a coach is not asked.
func TestRequireTOTP(t *testing.T) {
	t.Parallel()
	e := adminEnv(t, func(c *console.Console) { c.RequireTOTP = console.RequireTOTPAdmin })
	adm := e.browser()
	if _, page := adm.login(admin, password); !strings.Contains(page, "Your clinic asks you to turn two-step sign-in on") {
		t.Fatalf("an admin without TOTP:\n%s", page)
	}
	if _, page := adm.get("/console/admin/staff"); !strings.Contains(page, "Your clinic asks") {
		t.Fatal("the staff page opened before TOTP was on")
	}
	secret := secretField.FindStringSubmatch(func() string { _, p := adm.get("/console/totp"); return p }())[1]
	adm.post("/console/totp", url.Values{"secret": {secret}, "code": {code(t, secret, e.Clock.Now())}})
	if status, page := adm.get("/console/admin/staff"); status != http.StatusOK || !strings.Contains(page, "Add a staff member") {
		t.Fatalf("after turning TOTP on: %d", status)
	}
	e.signedIn("north@clinic.org", password)
}
