package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

// Default caps of one enrollment (TEND_MAX_MEDICATIONS, TEND_MAX_TIMES):
// each medication time is a reminder a day, and nobody takes twenty
// medicines six times a day; an enrollment past them is a feed gone wrong.
const (
	DefaultMaxMedications = 20
	DefaultMaxTimes       = 6
)

func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

func (a *API) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

// enrollment is the request as the Runner takes it. The body has the
// shape the API answers with, so that what a GET returns may be sent back
// as it is; telegram and enrolled_at are not the clinic's to set (the
// patient links their chat, the Runner keeps the enrollment time) and are
// dropped. Anything else unknown is refused (decodeStrict): a misspelt
// field must not become a silent default.
func (p Patient) enrollment() store.Patient {
	return store.Patient{
		ID: p.ID, Phone: p.Phone, Language: p.Language, Timezone: p.Timezone,
		Channel: p.Channel, Team: p.Team, Channels: p.Channels, SlowSpeech: p.SlowSpeech,
		EmergencyNumber: p.EmergencyNumber, CrisisLine: p.CrisisLine,
		Programs: p.Programs, Conditions: p.Conditions, Country: p.Country, PHIOK: p.PHIOK, Medications: p.Medications, Refills: p.Refills,
		Appointments: p.Appointments, Dispenses: p.Dispenses, SocialNeeds: p.SocialNeeds,
	}
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validate checks an enrollment and normalizes it; the error names the field.
func (a *API) validate(p *store.Patient) error {
	pack := a.Engine.Pack
	maxMeds, maxTimes := orDefault(a.MaxMedications, DefaultMaxMedications), orDefault(a.MaxTimes, DefaultMaxTimes)
	if !idRE.MatchString(p.ID) {
		return errors.New("id: required, 1-64 letters, digits, '.', '_' or '-'")
	}
	phone, err := channels.E164(p.Phone)
	if err != nil {
		return fmt.Errorf("phone: %v", err)
	}
	p.Phone = phone
	// No language: the runner keeps the patient's, or takes the pack's
	// first for a new enrollment.
	if p.Language != "" {
		lang, ok := pack.MatchLanguage(p.Language)
		if !ok {
			return fmt.Errorf("language: %q is not bundled and no bundled language is near it (have %s)", p.Language, strings.Join(pack.Languages, ", "))
		}
		p.Language = lang
	}
	if p.Timezone == "" {
		return errors.New("timezone: required (an IANA name such as America/Chicago)")
	}
	if p.Team != "" && !staff.ValidTeam(p.Team) {
		return fmt.Errorf("team: %q: use letters, digits, - and _ (at most 64); leave it out for the default team", p.Team)
	}
	if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
		return fmt.Errorf("timezone: %q is not an IANA time zone", p.Timezone)
	}
	for _, n := range []struct{ field, value string }{{"emergency_number", p.EmergencyNumber}, {"crisis_line", p.CrisisLine}} {
		if n.value != "" && !locales.ValidServiceNumber(n.value) {
			return fmt.Errorf("%s: %q is not a phone number to call (2 to 15 digits, spaces allowed)", n.field, n.value)
		}
	}
	if err := a.validateChannels(p); err != nil {
		return err
	}
	if len(p.Programs) == 0 {
		return errors.New("programs: at least one program is required")
	}
	for i, id := range p.Programs {
		if pack.Programs[id] == nil {
			return fmt.Errorf("programs: unknown program %q", id)
		}
		if slices.Contains(p.Programs[:i], id) {
			return fmt.Errorf("programs[%d]: %q appears twice", i, id)
		}
	}
	if err := a.validateConditions(p); err != nil {
		return err
	}
	if p.Country != "" {
		country, err := validCountry(p.Country)
		if err != nil {
			return fmt.Errorf("country: %v", err)
		}
		p.Country = country
	}
	if len(p.Medications) > maxMeds {
		return fmt.Errorf("medications: %d medications, at most %d (TEND_MAX_MEDICATIONS)", len(p.Medications), maxMeds)
	}
	seen := map[string]bool{}
	for i, m := range p.Medications {
		if !idRE.MatchString(m.ID) {
			return fmt.Errorf("medications[%d].id: required, 1-64 letters, digits, '.', '_' or '-'", i)
		}
		if seen[m.ID] {
			return fmt.Errorf("medications[%d].id: %q appears twice", i, m.ID)
		}
		seen[m.ID] = true
		if err := enrollment.CheckDisplay(m.Display); err != nil {
			return fmt.Errorf("medications[%d].display: %v", i, err)
		}
		if len(m.Times) > maxTimes {
			return fmt.Errorf("medications[%d].times: %d times, at most %d (TEND_MAX_TIMES)", i, len(m.Times), maxTimes)
		}
		for j, t := range m.Times {
			if _, _, err := content.ParseClock(t); err != nil {
				return fmt.Errorf("medications[%d].times[%d]: %v", i, j, err)
			}
			if slices.Contains(m.Times[:j], t) {
				return fmt.Errorf("medications[%d].times[%d]: %q appears twice", i, j, t)
			}
		}
	}
	for i, rf := range p.Refills {
		if !seen[rf.Medication] {
			return fmt.Errorf("refills[%d].medication: %q is not an enrolled medication", i, rf.Medication)
		}
		if _, err := time.Parse("2006-01-02", rf.Date); err != nil {
			return fmt.Errorf("refills[%d].date: %q is not YYYY-MM-DD", i, rf.Date)
		}
	}
	for i, n := range p.SocialNeeds {
		if !slices.Contains(enrollment.SocialNeedIDs(), n) {
			return fmt.Errorf("social_needs[%d]: %q is not one of %s", i, n, strings.Join(enrollment.SocialNeedIDs(), ", "))
		}
		if slices.Contains(p.SocialNeeds[:i], n) {
			return fmt.Errorf("social_needs[%d]: %q appears twice", i, n)
		}
	}
	tz, _ := time.LoadLocation(p.Timezone) // checked above
	now := a.now()
	if err := validDispenses("dispenses", p.Dispenses, now.In(tz)); err != nil {
		return err
	}
	for i, ap := range p.Appointments {
		if !idRE.MatchString(ap.ID) {
			return fmt.Errorf("appointments[%d].id: required, 1-64 letters, digits, '.', '_' or '-'", i)
		}
		if slices.ContainsFunc(p.Appointments[:i], func(o store.Appointment) bool { return o.ID == ap.ID }) {
			return fmt.Errorf("appointments[%d].id: %q appears twice", i, ap.ID)
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", ap.At, tz)
		if err != nil {
			return fmt.Errorf("appointments[%d].at: %q is not YYYY-MM-DDTHH:MM (local time)", i, ap.At)
		}
		if at.Before(now) {
			return fmt.Errorf("appointments[%d].at: %q is in the past (%s)", i, ap.At, p.Timezone)
		}
	}
	return nil
}

// validateChannels checks the fallback chain; channel, when given with
// channels, must be its first. Addresses (the Telegram chat) are never set
// here: only the patient links them, by following their link.
func (a *API) validateChannels(p *store.Patient) error {
	p.Addresses = nil
	if len(p.Channels) == 0 {
		if p.Channel == "" {
			p.Channel = conversations.SMS
		}
		if !contains(a.Channels, p.Channel) {
			return fmt.Errorf("channel: %q is not supported (have %s)", p.Channel, strings.Join(a.Channels, ", "))
		}
		return nil
	}
	if p.Channel != "" && p.Channel != p.Channels[0] {
		return fmt.Errorf("channel: %q is not the first of channels %v (leave channel out, or make it the first)", p.Channel, p.Channels)
	}
	seen := map[string]bool{}
	for i, ch := range p.Channels {
		if !contains(a.Channels, ch) {
			return fmt.Errorf("channels[%d]: %q is not supported (have %s)", i, ch, strings.Join(a.Channels, ", "))
		}
		if seen[ch] {
			return fmt.Errorf("channels[%d]: %q appears twice", i, ch)
		}
		seen[ch] = true
	}
	p.Channel = p.Channels[0]
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) putPatient(w http.ResponseWriter, r *http.Request) {
	var req Patient
	if !decodeStrict(w, r, &req) {
		return
	}
	p := req.enrollment()
	if err := a.validate(&p); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	created, err := a.Runner.Enroll(r.Context(), p)
	switch {
	case errors.Is(err, store.ErrPhoneTaken):
		writeError(w, http.StatusConflict, "phone: already enrolled for another patient")
		return
	case err != nil:
		a.internal(w, "enrollment not saved", err)
		return
	}
	stored, err := a.Runner.Patient(r.Context(), p.ID)
	if err != nil {
		a.internal(w, "enrollment not read back", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if !a.audit(w, r, audit.Record{Action: audit.Enroll, Patient: p.ID}) {
		return
	}
	writeJSON(w, status, enrolled{Patient: patientOf(stored), Warnings: languageWarnings(a.Engine.Pack, stored, req.Language)})
}

// enrolled is the answer to an enrollment: the patient as stored, and what
// the clinic should know before messages go (languageWarnings).
type enrolled struct {
	Patient
	Warnings []string `json:"warnings,omitempty"`
}

// languageWarnings says when the language asked for became another
// bundled one, and when the patient's language is an unreviewed draft.
func languageWarnings(p *content.Pack, stored store.Patient, asked string) []string {
	lang := stored.Language
	var out []string
	if asked != "" && asked != lang {
		out = append(out, fmt.Sprintf("language: %q is not bundled; the patient gets %q, the nearest bundled language", asked, lang))
	}
	if w := p.Words[lang]; w != nil && w.Review.Status == locales.ReviewDraft {
		out = append(out, fmt.Sprintf("language: %s is a draft translation (%s, %s): have a speaker of the language check its messages before patients get them (tend content lint lists every language's review)", lang, w.Review.By, w.Review.Date))
	}
	calls := stored.Channel == "voice" || slices.Contains(stored.Channels, "voice")
	if _, ok := p.Voice[lang]; !ok && calls {
		out = append(out, fmt.Sprintf("channels: calls in %s have no voice or recordings (content channels.yaml): Twilio's default voice may not speak it; prefer SMS, WhatsApp or Telegram", lang))
	}
	if a := p.Audio[lang]; a != nil && calls {
		if missing := a.Missing(); len(missing) > 0 {
			out = append(out, fmt.Sprintf("channels: calls in %s play recordings, and %d are missing (tend content audio %s): those messages are said by a voice that may not speak %s", lang, len(missing), lang, lang))
		}
	}
	return out
}
