package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/live"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Backend is what the console asks of the Runner: sign-in and sessions,
// the tickets and what they show, and the actions on them.
type Backend interface {
	StaffAccount(ctx context.Context, email string) (staff.Account, error)
	SetPassword(ctx context.Context, email, hash string) error
	PutLogin(ctx context.Context, id string, l store.Login) error
	Login(ctx context.Context, id string, now time.Time) (store.Login, error)
	DeleteLogin(ctx context.Context, id string) error

	Escalations(ctx context.Context, status string) ([]store.Escalation, error)
	Ticket(ctx context.Context, id string) (store.Escalation, error)
	Patient(ctx context.Context, id string) (store.Patient, error)
	Timeline(ctx context.Context, id string) ([]store.Event, error)
	Claim(ctx context.Context, ticketID, who string) (store.Escalation, error)
	Release(ctx context.Context, ticketID, who string) error
	Reassign(ctx context.Context, ticketID, from, to string) error
	Reply(ctx context.Context, ticketID, who, text, dedupe string) (string, error)
	ReplyCanned(ctx context.Context, ticketID, who, cannedID, dedupe string) (string, error)
	Composer(ctx context.Context, ticketID string) (runner.Composer, error)
	Note(ctx context.Context, ticketID, who, text string) (string, error)
	Resolve(ctx context.Context, ticketID, who, followUp string) error
	Audit(ctx context.Context, rec audit.Record) error
	Admin // admin.go
}

// Defaults of the session limits (HIPAA 164.312(a)(2)(iii) automatic
// logoff).
const (
	DefaultIdle     = 15 * time.Minute
	DefaultLifetime = 12 * time.Hour
)

// Console serves /console/.
type Console struct {
	Backend Backend
	Clock   func() time.Time
	Log     *slog.Logger
	// Secure marks the session cookie Secure (Tend is served over https).
	Secure bool
	// Idle and Lifetime end sessions (DefaultIdle, DefaultLifetime when 0).
	Idle, Lifetime time.Duration
	// Flows are the flows a hand-back may start (the pack's).
	Flows []string
	// Params are argon2id's (staff.DefaultParams when zero).
	Params staff.Params
	// Live, when set, feeds the pages' live updates (GET /console/events).
	Live *live.Hub
	// Heartbeat and LiveGap pace the live stream (DefaultHeartbeat,
	// DefaultLiveGap when 0).
	Heartbeat, LiveGap time.Duration
	// RequireTOTP says who must turn two-step sign-in on before anything
	// else: RequireTOTPAdmin, RequireTOTPAll, or nobody ("" or
	// RequireTOTPNone; see totp.go).
	RequireTOTP string

	once   sync.Once
	pages  map[string]*template.Template
	limits limiter
	gate   auditGate
	cache  ticketCache
	stop   chan struct{}
	halt   sync.Once
}

// Stop ends the live streams, so that a server shutting down is not held
// by pages that would never hang up (http.Server.RegisterOnShutdown).
func (c *Console) Stop() {
	c.init()
	c.halt.Do(func() { close(c.stop); c.closeCache() })
}

const cookieName = "tend_session"

func (c *Console) init() {
	c.once.Do(func() {
		c.pages = map[string]*template.Template{}
		for _, name := range []string{"login", "password", "inbox", "ticket", "admin_staff", "admin_audit", "totp", "login_code"} {
			c.pages[name] = template.Must(template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
		}
		if c.Idle <= 0 {
			c.Idle = DefaultIdle
		}
		if c.Lifetime <= 0 {
			c.Lifetime = DefaultLifetime
		}
		if c.Heartbeat <= 0 {
			c.Heartbeat = DefaultHeartbeat
		}
		if c.LiveGap <= 0 {
			c.LiveGap = DefaultLiveGap
		}
		if c.Params == (staff.Params{}) {
			c.Params = staff.DefaultParams
		}
		c.limits = limiter{seen: map[string][]time.Time{}}
		c.stop = make(chan struct{})
	})
}

// Handler serves the console's routes (under /console/) behind the
// cross-origin protection of the standard library.
func (c *Console) Handler() http.Handler {
	c.init()
	r := chi.NewRouter()
	static, _ := fs.Sub(staticFiles, "static")
	r.Handle("/console/static/*", cacheStatic(http.StripPrefix("/console/static/", http.FileServer(http.FS(static)))))
	r.Get("/console/login", c.loginPage)
	r.Post("/console/login", c.login)
	r.Get("/console/login/code", c.codePage)
	r.Post("/console/login/code", c.signInCode)
	r.Group(func(r chi.Router) {
		r.Use(c.signedIn)
		r.Post("/console/logout", c.logout)
		r.Get("/console/password", c.passwordPage)
		r.Post("/console/password", c.setPassword)
		r.Get("/console/totp", c.totpPage)
		r.Post("/console/totp", c.enableTOTP)
		r.Get("/console/", c.inbox)
		r.Get("/console/events", c.events)
		r.Get("/console/tickets/{id}", c.ticketPage)
		r.Post("/console/tickets/{id}/segments", c.segments)
		r.Post("/console/tickets/{id}/{action}", c.act)
		r.With(c.adminOnly).Get("/console/admin/staff", c.staffPage)
		r.With(c.adminOnly).Post("/console/admin/staff", c.addStaff)
		r.With(c.adminOnly).Post("/console/admin/staff/{action}", c.changeStaff)
		r.With(c.adminOnly).Get("/console/admin/audit", c.auditPage)
	})
	return http.NewCrossOriginProtection().Handler(noStore(r))
}

// noStore keeps pages that show PHI out of the browser's cache (Back after
// sign-out shows nothing).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// cacheStatic lets browsers keep the vendored libraries, whose names carry
// their version, and makes them ask again for Tend's own script and style.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/console/static/vendor/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets; a page's own data embeds it.
type page struct {
	Title string
	Staff *staff.Account
	Flash string
	Error string
	Email string
	// Next is where a sign-in goes (the page the member was sent from).
	Next string
	// Live is the SSE stream URL when the page updates itself.
	Live string
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages[name].ExecuteTemplate(w, "layout", data); err != nil {
		c.log().Error("rendering a console page", "page", name, "err", err)
	}
}

// renderPart renders one part of a page, for htmx to swap in.
func (c *Console) renderPart(w http.ResponseWriter, page, part string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages[page].ExecuteTemplate(w, part, data); err != nil {
		c.log().Error("rendering a console page", "page", page, "part", part, "err", err)
	}
}

func (c *Console) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Console) fail(w http.ResponseWriter, what string, err error) {
	c.log().Error(what, "err", err)
	http.Error(w, what, http.StatusInternalServerError)
}

// ---- sessions ----

type ctxKey struct{}

// current is the signed-in staff member of a request (signedIn put it).
func current(r *http.Request) *staff.Account {
	a, _ := r.Context().Value(ctxKey{}).(*staff.Account)
	return a
}

func hashID(secret string) string {
	sum := sha256.Sum256([]byte("console-session|" + secret))
	return hex.EncodeToString(sum[:])
}

// errSignedOut is a session that is missing, ended or idle, or whose
// account is disabled.
var errSignedOut = errors.New("signed out")

// session finds a request's live session and its account. An idle or
// disabled one is deleted on the way.
func (c *Console) session(r *http.Request, now time.Time) (string, store.Login, staff.Account, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return "", store.Login{}, staff.Account{}, errSignedOut
	}
	id := hashID(ck.Value)
	l, err := c.Backend.Login(r.Context(), id, now)
	if err == nil && (now.Sub(l.Seen) >= c.Idle || l.SecondStep) {
		// A half sign-in (password right, code to come) opens nothing.
		c.Backend.DeleteLogin(r.Context(), id)
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return id, l, staff.Account{}, errSignedOut
	}
	if err != nil {
		return id, l, staff.Account{}, err
	}
	a, err := c.Backend.StaffAccount(r.Context(), l.Email)
	if err != nil || a.Disabled || l.Created.Before(a.SessionsAfter) { // a reset ends older sessions
		c.Backend.DeleteLogin(r.Context(), id)
		return id, l, a, errSignedOut
	}
	return id, l, a, nil
}

// signedIn lets a request through with a live session of an account that
// is not disabled; any other goes to the sign-in page (a form post gets
// 401: its draft stays in the browser's page, which can sign in again in
// another tab). A page's own live refresh (liveHeader) is not activity: it
// does not keep the session from idling out.
func (c *Console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := c.Clock()
		id, l, a, err := c.session(r, now)
		if errors.Is(err, errSignedOut) {
			c.toLogin(w, r)
			return
		}
		if err != nil {
			c.fail(w, "session not read", err)
			return
		}
		if r.Header.Get(liveHeader) == "" && r.URL.Path != "/console/events" && now.Sub(l.Seen) >= time.Minute { // a write a minute at most
			l.Seen = now
			if err := c.Backend.PutLogin(r.Context(), id, l); err != nil {
				c.fail(w, "session not kept", err)
				return
			}
		}
		if a.MustChange && r.URL.Path != "/console/password" && r.URL.Path != "/console/logout" {
			http.Redirect(w, r, "/console/password", http.StatusSeeOther)
			return
		}
		if !a.MustChange && c.mustEnrol(&a) && r.URL.Path != "/console/totp" && r.URL.Path != "/console/logout" {
			http.Redirect(w, r, "/console/totp", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &a)))
	})
}

func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	c.forget(w)
	switch {
	case r.Header.Get("HX-Request") != "" || r.URL.Path == "/console/events":
		// A page's own request: the page hears "signedout", keeps its
		// drafts and goes to the sign-in page itself.
		w.Header().Set("HX-Trigger", "signedout")
		http.Error(w, "signed out", http.StatusUnauthorized)
	case r.Method != http.MethodGet:
		http.Error(w, "signed out: sign in again (your text is still in the page)", http.StatusUnauthorized)
	default:
		http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
}

// nextPage is where a sign-in goes: back to the console page the member
// was sent away from, never to another site.
func nextPage(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "/console/login") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "login", page{Title: "Sign in", Next: nextPage(r.URL.Query().Get("next"))})
}

// errSignIn is the one answer to a failed sign-in: it does not say whether
// the email has an account.
const errSignIn = "Wrong email or password, or too many tries: wait a few minutes."

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	now := c.Clock()
	email, _ := staff.NormalizeEmail(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	addr := audit.From(r)
	refuse := func() {
		c.limits.fail(now, "email:"+email, "addr:"+addr)
		c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: email, Action: "sign_in_failed", From: addr})
		c.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: errSignIn, Email: email, Next: nextPage(r.PostForm.Get("next"))})
	}
	if c.limits.blocked(now, "email:"+email, "addr:"+addr) {
		staff.DummyCheck(password)
		refuse()
		return
	}
	a, err := c.Backend.StaffAccount(r.Context(), email)
	if err != nil || a.Disabled || email == "" {
		staff.DummyCheck(password)
		refuse()
		return
	}
	ok, rehash := staff.Check(a.PasswordHash, password, c.Params)
	if !ok {
		refuse()
		return
	}
	if rehash {
		if err := c.Backend.SetPassword(r.Context(), a.Email, staff.Hash(password, c.Params)); err != nil {
			c.log().Warn("password not rehashed", "err", err)
		}
	}
	if a.TOTPSecret != "" {
		c.startSecondStep(w, r, a.Email, now) // totp.go
		return
	}
	c.startSession(w, r, a.Email, now, "")
}

// randomSecret is a cookie's secret: 256 random bits.
func randomSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// startSession signs email in (the password, and the code when asked for,
// were right) and goes to the inbox.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, email string, now time.Time, detail string) {
	secret := randomSecret()
	l := store.Login{Email: email, Created: now, Seen: now, Expires: now.Add(c.Lifetime)}
	if err := c.Backend.PutLogin(r.Context(), hashID(secret), l); err != nil {
		c.fail(w, "session not started", err)
		return
	}
	c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: email, Action: "sign_in", From: audit.From(r), Detail: detail})
	// A browser-session cookie: the server ends the session (idle,
	// lifetime, sign-out) whatever the browser keeps.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/console/", HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, nextPage(r.PostForm.Get("next")), http.StatusSeeOther)
}

// forget clears the session cookie in the browser.
func (c *Console) forget(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.Backend.DeleteLogin(r.Context(), hashID(ck.Value))
	}
	c.forget(w)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "password", page{Title: "Choose your password", Staff: current(r)})
}

func (c *Console) setPassword(w http.ResponseWriter, r *http.Request) {
	a := current(r)
	pw, again := r.PostFormValue("password"), r.PostFormValue("again")
	errText := ""
	if err := staff.CheckStrength(pw); err != nil {
		errText = err.Error()
	} else if pw != again {
		errText = "The two passwords differ."
	}
	if errText != "" {
		c.render(w, http.StatusBadRequest, "password", page{Title: "Choose your password", Staff: a, Error: errText})
		return
	}
	if err := c.Backend.SetPassword(r.Context(), a.Email, staff.Hash(pw, c.Params)); err != nil {
		c.fail(w, "password not saved", err)
		return
	}
	c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: "password_changed", From: audit.From(r)})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// limiter throttles sign-in failures: 10 for an email, or 50 from an
// address (a clinic's staff may share one), in 15 minutes block further
// tries until the oldest ages out. It is per replica; an attacker spreading
// tries over replicas gets a few times more.
type limiter struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

const (
	maxFailures     = 10
	maxAddrFailures = 50
	failureWindow   = 15 * time.Minute
)

func maxFor(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return maxAddrFailures
	}
	return maxFailures
}

func (l *limiter) recent(now time.Time, key string) []time.Time {
	ts := l.seen[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= failureWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.seen, key)
		return nil
	}
	l.seen[key] = ts
	return ts
}

func (l *limiter) blocked(now time.Time, keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if len(l.recent(now, k)) >= maxFor(k) {
			return true
		}
	}
	return false
}

func (l *limiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.seen[k] = append(l.recent(now, k), now)
	}
}
