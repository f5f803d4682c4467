package console

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Two-step sign-in (TOTP, RFC 6238). A staff member turns it on at
// /console/totp: Tend shows a new secret and its otpauth:// URI, and keeps
// the secret only once a code from the app proves the app has it. From
// then on a right password does not sign in: it starts a second step, a
// login that is marked SecondStep, lives secondStepTTL, is known by its
// own cookie under its own hash (signedIn never finds it) and only lets
// the browser post a code to /console/login/code. A wrong or used code
// counts as a failed sign-in for the limiter.

// Values of Console.RequireTOTP (TEND_REQUIRE_TOTP).
const (
	RequireTOTPNone  = "none"
	RequireTOTPAdmin = "admin"
	RequireTOTPAll   = "all"
)

// secondStepTTL is how long the code may take after the password.
const secondStepTTL = 5 * time.Minute

const secondStepCookie = "tend_code"

// totpIssuer labels the account in the authenticator app.
const totpIssuer = "Tend"

func secondStepID(secret string) string { return hashID("second-step|" + secret) }

// mustEnrol reports whether a must turn TOTP on before anything else.
func (c *Console) mustEnrol(a *staff.Account) bool {
	if a.TOTPSecret != "" {
		return false
	}
	return c.RequireTOTP == RequireTOTPAll || c.RequireTOTP == RequireTOTPAdmin && a.Role == staff.Admin
}

type totpData struct {
	page
	On       bool
	Required bool
	// Secret is the new secret, also in the form: the page shows it
	// anyway, and the Runner keeps it only with a code that matches it.
	Secret, Grouped, URI string
}

// totpPage shows whether two-step sign-in is on and, when it is not, a
// new secret to add to an authenticator app.
func (c *Console) totpPage(w http.ResponseWriter, r *http.Request) {
	c.showTOTP(w, http.StatusOK, current(r), staff.NewTOTPSecret(), "")
}

func (c *Console) showTOTP(w http.ResponseWriter, status int, a *staff.Account, secret, errText string) {
	d := totpData{page: page{Title: "Two-step sign-in", Staff: a, Error: errText}, On: a.TOTPSecret != "", Required: c.mustEnrol(a)}
	if !d.On {
		d.Secret, d.Grouped, d.URI = secret, staff.GroupSecret(secret), staff.TOTPURI(totpIssuer, a.Email, secret)
	}
	c.render(w, status, "totp", d)
}

// enableTOTP keeps the secret of the form once its code matches.
func (c *Console) enableTOTP(w http.ResponseWriter, r *http.Request) {
	a := current(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	secret, code := r.PostFormValue("secret"), r.PostFormValue("code")
	err := c.Backend.EnableTOTP(r.Context(), actor(r), a.Email, secret, code)
	switch {
	case err == nil, errors.Is(err, runner.ErrNotAudited), errors.Is(err, runner.ErrTOTPOn):
		http.Redirect(w, r, "/console/?flash="+url.QueryEscape("Two-step sign-in is on."), http.StatusSeeOther)
	case errors.Is(err, runner.ErrTOTPCode), errors.Is(err, runner.ErrTOTPUsed):
		c.showTOTP(w, http.StatusBadRequest, a, secret, "That is not the app's code now: check the phone's clock, and type the code it shows.")
	case errors.Is(err, staff.ErrTOTPSecret):
		c.showTOTP(w, http.StatusBadRequest, a, staff.NewTOTPSecret(), "That secret was damaged: here is a new one.")
	default:
		c.fail(w, "two-step sign-in not turned on", err)
	}
}

// startSecondStep answers a right password of an account with TOTP: a
// login that grants nothing but the code page, for secondStepTTL.
func (c *Console) startSecondStep(w http.ResponseWriter, r *http.Request, email string, now time.Time) {
	secret := randomSecret()
	l := store.Login{Email: email, Created: now, Seen: now, Expires: now.Add(secondStepTTL), SecondStep: true}
	if err := c.Backend.PutLogin(r.Context(), secondStepID(secret), l); err != nil {
		c.fail(w, "sign-in not started", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: secondStepCookie, Value: secret, Path: "/console/login/code", MaxAge: int(secondStepTTL / time.Second),
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/console/login/code", http.StatusSeeOther)
}

// secondStep reads the half-done sign-in of the request's cookie.
func (c *Console) secondStep(r *http.Request) (id string, l store.Login, ok bool) {
	ck, err := r.Cookie(secondStepCookie)
	if err != nil {
		return "", l, false
	}
	id = secondStepID(ck.Value)
	l, err = c.Backend.Login(r.Context(), id, c.Clock())
	return id, l, err == nil && l.SecondStep
}

func (c *Console) forgetSecondStep(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: secondStepCookie, Value: "", Path: "/console/login/code", MaxAge: -1, HttpOnly: true, Secure: c.Secure,
		SameSite: http.SameSiteLaxMode})
}

func (c *Console) codePage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.secondStep(r); !ok {
		c.forgetSecondStep(w)
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login_code", page{Title: "Code"})
}

// errCode is the one answer to a wrong, used or throttled code.
const errCode = "Wrong code, or too many tries: wait for the next code, or a few minutes."

// signInCode finishes a sign-in with the authenticator's code.
func (c *Console) signInCode(w http.ResponseWriter, r *http.Request) {
	now, addr := c.Clock(), audit.From(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	id, l, ok := c.secondStep(r)
	if ok { // a password reset since the first step ends it too
		a, err := c.Backend.StaffAccount(r.Context(), l.Email)
		ok = err == nil && !l.Created.Before(a.SessionsAfter)
	}
	if !ok {
		c.forgetSecondStep(w)
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	keys := []string{"email:" + l.Email, "addr:" + addr}
	err := runner.ErrTOTPCode
	if !c.limits.blocked(now, keys...) {
		err = c.Backend.CheckTOTP(r.Context(), l.Email, r.PostFormValue("code"))
	}
	switch {
	case err == nil:
	case errors.Is(err, runner.ErrTOTPCode), errors.Is(err, runner.ErrTOTPUsed):
		c.limits.fail(now, keys...)
		detail := "code: wrong or throttled"
		if errors.Is(err, runner.ErrTOTPUsed) {
			detail = "code: used already"
		}
		c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: l.Email, Action: "sign_in_failed", From: addr, Detail: detail})
		c.render(w, http.StatusUnauthorized, "login_code", page{Title: "Code", Error: errCode})
		return
	default:
		c.fail(w, "code not checked", err)
		return
	}
	c.Backend.DeleteLogin(r.Context(), id)
	c.forgetSecondStep(w)
	c.startSession(w, r, l.Email, now, "with a TOTP code")
}
