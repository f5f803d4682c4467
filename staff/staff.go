package staff

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Roles. A coach and a nurse work the tickets of their teams; a nurse may
// also take tickets a rule reserves for nurses; an admin manages staff and
// sees every team.
const (
	Coach = "coach"
	Nurse = "nurse"
	Admin = "admin"
)

// Roles lists the roles in order of reach.
func Roles() []string { return []string{Coach, Nurse, Admin} }

// DefaultTeam is the team of a patient enrolled without one.
const DefaultTeam = "default"

// Account is one staff member as the store keeps it.
type Account struct {
	Email string   `json:"email"` // lower case; the account's id
	Name  string   `json:"name,omitempty"`
	Role  string   `json:"role"`
	Teams []string `json:"teams"`
	// PasswordHash is the argon2id hash (PHC format); never the password.
	PasswordHash string `json:"password_hash"`
	// MustChange: the password was given by someone else (tend staff add
	// prints a one-time one) and must be changed at the next sign-in.
	MustChange bool `json:"must_change,omitempty"`
	// TOTPSecret, when set, asks for a code from an authenticator app at
	// sign-in (RFC 6238). It is a secret: the store seals it like PHI
	// (store/seal) and nothing logs or shows it once it is set.
	TOTPSecret string    `json:"totp_secret,omitempty"`
	Disabled   bool      `json:"disabled,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// SessionsAfter ends the sessions that began before it at their next
	// request: a password reset sets it, so that whoever held a session
	// cannot choose the new password in the owner's place.
	SessionsAfter time.Time `json:"sessions_after,omitzero"`
}

// Errors of Validate and the account store.
var (
	ErrInvalid  = errors.New("staff: invalid account")
	ErrNotFound = errors.New("staff: no such account")
	ErrExists   = errors.New("staff: account exists")
)

// NormalizeEmail trims and lower-cases an address and checks that it is a
// bare address (no display name).
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("%w: email %q is not an address like coach@clinic.org", ErrInvalid, s)
	}
	return s, nil
}

// Validate normalizes the email and teams and checks the role.
func (a *Account) Validate() error {
	email, err := NormalizeEmail(a.Email)
	if err != nil {
		return err
	}
	a.Email = email
	if !slices.Contains(Roles(), a.Role) {
		return fmt.Errorf("%w: role %q is not one of %s", ErrInvalid, a.Role, strings.Join(Roles(), ", "))
	}
	teams := a.Teams[:0:0]
	for _, t := range a.Teams {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !ValidTeam(t) {
			return fmt.Errorf("%w: team %q: use letters, digits, - and _ (at most 64)", ErrInvalid, t)
		}
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	if len(teams) == 0 && a.Role != Admin {
		return fmt.Errorf("%w: a %s needs at least one team", ErrInvalid, a.Role)
	}
	a.Teams = teams
	return nil
}

// SplitTeams splits a list of teams typed as "north, south" or
// "north south" (Validate checks each).
func SplitTeams(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// ValidTeam reports whether t can name a team.
func ValidTeam(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Sees reports whether the account may see the patients of team. An admin
// sees every team.
func (a *Account) Sees(team string) bool {
	if team == "" {
		team = DefaultTeam
	}
	return a.Role == Admin || slices.Contains(a.Teams, team)
}
