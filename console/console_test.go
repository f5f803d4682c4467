package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/console"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/live"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

var cheap = staff.Params{Memory: 64, Time: 1, Threads: 1}

const password = "correct horse battery"

// env is the console on the real runner and embedded store, served by
// httptest, with one patient per team who asked for a person.
type env struct {
	*channeltest.Core
	t   *testing.T
	srv *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Core: channeltest.New(t, channeltest.Options{}), t: t}
	hub := &live.Hub{}
	e.Runner.Changed = func(ticket, team string) { hub.Publish(live.Change{Ticket: ticket, Team: team}) }
	c := &console.Console{Backend: e.Runner, Clock: e.Clock.Now, Params: cheap, Flows: []string{"hf-daily-weight", "med-reminder"},
		Live: hub, Heartbeat: 100 * time.Millisecond, LiveGap: 10 * time.Millisecond}
	e.srv = httptest.NewServer(c.Handler())
	t.Cleanup(e.srv.Close)
	ctx := t.Context()
	for _, a := range []staff.Account{
		{Email: "north@clinic.org", Role: staff.Coach, Teams: []string{"north"}},
		{Email: "north2@clinic.org", Role: staff.Nurse, Teams: []string{"north"}},
		{Email: "south@clinic.org", Role: staff.Coach, Teams: []string{"south"}},
		{Email: "new@clinic.org", Role: staff.Coach, Teams: []string{"north"}, MustChange: true},
	} {
		a.PasswordHash = staff.Hash(password, cheap)
		if err := e.Store.PutStaff(ctx, a, true); err != nil {
			t.Fatal(err)
		}
	}
	for i, team := range []string{"north", "south"} {
		id := "p-" + team
		_, err := e.Runner.Enroll(ctx, store.Patient{ID: id, Phone: "+1555123000" + string(rune('1'+i)), Language: "en", Timezone: "America/Chicago",
			Channel: conversations.SMS, Team: team, Programs: []string{"hypertension"},
			Medications: []store.Medication{{ID: "lisinopril", Times: []string{"08:00"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Runner.Receive(ctx, id, runner.Message{Channel: conversations.SMS, Text: "HUMAN", Dedupe: "h-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// browser is one staff member's cookie jar.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar}}
}

func (b *browser) get(path string) (int, string) {
	b.e.t.Helper()
	res, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.e.t.Helper()
	res, err := b.c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) login(email, pw string) (int, string) {
	return b.post("/console/login", url.Values{"email": {email}, "password": {pw}})
}

var ticketLink = regexp.MustCompile(`/console/tickets/([A-Za-z0-9_-]+)"`)

func (e *env) auditActions(patient string) []string {
	var out []string
	e.Store.AuditRecords(e.t.Context(), func(r audit.Record) error {
		if r.Patient == patient {
			out = append(out, r.Staff+":"+r.Action)
		}
		return nil
	})
	return out
}

// A coach signs in, sees only their team's ticket, opens it, claims it,
// replies, notes and hands it back; the other team's ticket is a 404.
func TestWorkATicket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	if status, body := b.get("/console/"); status != http.StatusOK || !strings.Contains(body, "Sign in") {
		t.Fatalf("before sign-in: %d, want the sign-in page", status)
	}
	if status, body := b.login("north@clinic.org", password); status != http.StatusOK || !strings.Contains(body, "Inbox") {
		t.Fatalf("sign-in: %d %s", status, body)
	}
	_, inbox := b.get("/console/")
	if !strings.Contains(inbox, "p-north") || strings.Contains(inbox, "p-south") {
		t.Fatalf("inbox shows another team's patient or misses its own:\n%s", inbox)
	}
	m := ticketLink.FindStringSubmatch(inbox)
	if m == nil {
		t.Fatal("no ticket link in the inbox")
	}
	id := m[1]
	status, page := b.get("/console/tickets/" + id)
	if status != http.StatusOK || !strings.Contains(page, "HUMAN") || !strings.Contains(page, "America/Chicago") || !strings.Contains(page, ">Claim<") {
		t.Fatalf("ticket page %d:\n%s", status, page)
	}
	if status, _ := b.post("/console/tickets/"+id+"/reply", url.Values{"text": {"hi"}}); status != http.StatusOK {
		t.Fatalf("reply before claiming: %d", status)
	}
	if _, page := b.post("/console/tickets/"+id+"/claim", nil); !strings.Contains(page, "Claimed") || !strings.Contains(page, "Send") {
		t.Fatalf("after the claim:\n%s", page)
	}
	// A colleague of the same team is told who has it.
	other := e.browser()
	other.login("north2@clinic.org", password)
	if _, page := other.post("/console/tickets/"+id+"/claim", nil); !strings.Contains(page, "north@clinic.org has this conversation") {
		t.Fatalf("a second claim:\n%s", page)
	}
	form := url.Values{"text": {"Hi, this is your coach. How are you?"}, "request_id": {"r1"}}
	b.post("/console/tickets/"+id+"/reply", form)
	b.post("/console/tickets/"+id+"/reply", form) // a double submit
	b.post("/console/tickets/"+id+"/note", url.Values{"text": {"sounds well"}})
	if _, page := b.get("/console/tickets/" + id); !strings.Contains(page, "How are you?") || !strings.Contains(page, "sounds well") {
		t.Fatalf("timeline after reply and note:\n%s", page)
	}
	staffed := 0
	for _, ev := range e.Timeline("p-north") {
		if ev.Type == "message.out" && ev.Staff == "north@clinic.org" {
			staffed++
		}
	}
	if staffed != 1 {
		t.Fatalf("%d replies on the timeline after a double submit, want 1", staffed)
	}
	if status, _ := b.post("/console/tickets/"+id+"/resolve", url.Values{"follow_up": {"hf-daily-weight"}}); status != http.StatusOK {
		t.Fatalf("resolve: %d", status)
	}
	if tk, _ := e.Runner.Ticket(t.Context(), id); tk.Status != store.TicketResolved {
		t.Fatalf("ticket after resolve %+v", tk)
	}

	// Another team's ticket: 404, and the attempt is on the audit log.
	south := e.browser()
	south.login("south@clinic.org", password)
	if status, _ := south.get("/console/tickets/" + id); status != http.StatusNotFound {
		t.Fatalf("another team's ticket: %d, want 404", status)
	}
	got := strings.Join(e.auditActions("p-north"), " ")
	for _, want := range []string{"north@clinic.org:view_timeline", "north@clinic.org:claim", "north@clinic.org:reply", "north@clinic.org:note", "north@clinic.org:resolve", "south@clinic.org:view_patient"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit of p-north %q lacks %s", got, want)
		}
	}
}

// Wrong passwords get one answer whether or not the email exists, and
// too many are throttled; a cross-site post is refused; a session ends
// after 15 idle minutes; a one-time password must be changed first.
func TestSignInRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	_, wrong := b.login("north@clinic.org", "not the password!")
	_, unknown := b.login("nobody@clinic.org", "not the password!")
	strip := func(s string) string { return regexp.MustCompile(`value="[^"]*"`).ReplaceAllString(s, "") }
	if strip(wrong) != strip(unknown) || !strings.Contains(wrong, "Wrong email or password") {
		t.Fatalf("an unknown email is answered differently from a wrong password")
	}
	for range 10 {
		b.login("south@clinic.org", "guess guess guess")
	}
	if status, _ := b.login("south@clinic.org", password); status != http.StatusUnauthorized {
		t.Fatalf("the right password after 10 failures: %d, want throttled", status)
	}

	// Cross-site form posts are refused before anything runs.
	b2 := e.browser()
	b2.login("north@clinic.org", password)
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/logout", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := b2.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d, want 403", res.StatusCode)
	}
	if status, body := b2.get("/console/"); status != http.StatusOK || !strings.Contains(body, "Inbox") {
		t.Fatal("the cross-site post signed the coach out")
	}

	// Idle logoff; a form posted after it keeps the draft in the page (401).
	e.Clock.Add(16 * time.Minute)
	if status, body := b2.get("/console/"); status != http.StatusOK || !strings.Contains(body, "Sign in") {
		t.Fatalf("after 16 idle minutes: %d, want the sign-in page", status)
	}
	b2.login("north@clinic.org", password)
	e.Clock.Add(16 * time.Minute)
	if status, _ := b2.post("/console/tickets/x/note", url.Values{"text": {"draft"}}); status != http.StatusUnauthorized {
		t.Fatalf("a post after the idle logoff: %d, want 401", status)
	}

	// A one-time password leads to choosing one.
	n := e.browser()
	if _, page := n.login("new@clinic.org", password); !strings.Contains(page, "Choose your password") {
		t.Fatalf("first sign-in with a one-time password:\n%s", page)
	}
	if _, page := n.get("/console/"); !strings.Contains(page, "Choose your password") {
		t.Fatal("the inbox opened before the password was changed")
	}
	if _, page := n.post("/console/password", url.Values{"password": {"short"}, "again": {"short"}}); !strings.Contains(page, "at least 12") {
		t.Fatal("a short password was accepted")
	}
	if _, page := n.post("/console/password", url.Values{"password": {"a brand new passphrase"}, "again": {"a brand new passphrase"}}); !strings.Contains(page, "Inbox") {
		t.Fatalf("after choosing a password:\n%s", page)
	}
	if a, _ := e.Store.StaffAccount(t.Context(), "new@clinic.org"); a.MustChange {
		t.Fatal("MustChange still set")
	}
}

func (e *env) session(t *testing.T, id string) conversations.Session {
	t.Helper()
	_, ss, err := e.Store.Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var s conversations.Session
	if err := s.Decode(ss.Data); err != nil {
		t.Fatal(err)
	}
	return s
}
