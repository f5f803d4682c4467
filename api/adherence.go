package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/nyaruka/phonenumbers"

	"github.com/tendcare/tend/adherence"
	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/store"
)

// Adherence records pharmacy fills and reads adherence (the Runner).
type Adherence interface {
	Dispense(ctx context.Context, patientID string, ds []enrollment.Dispense) (recorded int, err error)
	Adherence(ctx context.Context, patientID string, from, to adherence.Day) (adherence.Report, error)
	Today(p *store.Patient) adherence.Day
}

// OtherConditions are the conditions a clinic may name that no bundled
// program is for; a program's id is a condition too (hypertension,
// heart-failure, type2-diabetes).
var OtherConditions = []string{"copd", "chronic-kidney-disease"}

// validateConditions checks that every condition is a program's id or one
// of OtherConditions, once.
func (a *API) validateConditions(p *store.Patient) error {
	for i, c := range p.Conditions {
		if a.Engine.Pack.Programs[c] == nil && !slices.Contains(OtherConditions, c) {
			known := append(slices.Sorted(mapKeys(a.Engine.Pack.Programs)), OtherConditions...)
			return fmt.Errorf("conditions[%d]: unknown condition %q (known: %s)", i, c, strings.Join(known, ", "))
		}
		if slices.Contains(p.Conditions[:i], c) {
			return fmt.Errorf("conditions[%d]: %q appears twice", i, c)
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// validCountry checks an ISO 3166-1 alpha-2 code, in either case, against
// the countries that have telephone numbering (libphonenumber's regions,
// which are ISO's codes), and returns it in upper case.
func validCountry(s string) (string, error) {
	c := strings.ToUpper(s)
	if len(c) != 2 || !phonenumbers.GetSupportedRegions()[c] {
		if c == "UK" {
			return "", fmt.Errorf("%q is not an ISO 3166-1 code: the United Kingdom is GB", s)
		}
		return "", fmt.Errorf("%q is not an ISO 3166-1 alpha-2 country code (such as US, MX, GB)", s)
	}
	return c, nil
}

// maxDaysSupply bounds a fill's supply: pharmacies dispense at most a
// year's supply, and a bigger number is a feed gone wrong.
const maxDaysSupply = 365

var medicationRE = regexp.MustCompile(`^[\pL\pN][\pL\pN .,/()+'-]{0,99}$`)

// validDispenses checks fills: a medication's name, a date that is not in
// the future (the patient's today, a day's grace), days' supply 1-365.
// The errors name the field as field[i].name.
func validDispenses(field string, ds []enrollment.Dispense, today time.Time) error {
	tomorrow := adherence.DayOf(today) + 1
	for i, d := range ds {
		if !medicationRE.MatchString(strings.TrimSpace(d.Medication)) {
			return fmt.Errorf("%s[%d].medication: required, the medication's name (1-100 letters, digits, spaces and . , / ( ) + ' -)", field, i)
		}
		day, err := adherence.ParseDay(d.Date)
		if err != nil {
			return fmt.Errorf("%s[%d].date: %v", field, i, err)
		}
		if day > tomorrow {
			return fmt.Errorf("%s[%d].date: %s is in the future", field, i, d.Date)
		}
		if d.DaysSupply < 1 || d.DaysSupply > maxDaysSupply {
			return fmt.Errorf("%s[%d].days_supply: %d is not 1 to %d days", field, i, d.DaysSupply, maxDaysSupply)
		}
	}
	return nil
}

// maxDispenses bounds one request's fills.
const maxDispenses = 100

// dispenses is the body of POST /patients/{id}/dispenses: one fill, or
// {"dispenses":[...]}.
type dispenses struct {
	enrollment.Dispense
	Dispenses []enrollment.Dispense `json:"dispenses"`
}

// postDispenses answers POST /patients/{id}/dispenses: the fills are
// checked (400 naming the field; nothing is recorded when one is wrong)
// and recorded as dispense events in one commit, each once.
func (a *API) postDispenses(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req dispenses
	if !decodeStrict(w, r, &req) {
		return
	}
	list, field := req.Dispenses, "dispenses"
	single := req.Dispense != (enrollment.Dispense{})
	switch {
	case single && len(list) > 0:
		writeError(w, http.StatusBadRequest, "dispenses: give one fill or a list, not both")
		return
	case single:
		list, field = []enrollment.Dispense{req.Dispense}, "dispense"
	case len(list) == 0:
		writeError(w, http.StatusBadRequest, "medication: required (one fill: medication, date, days_supply; or dispenses: [...])")
		return
	case len(list) > maxDispenses:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("dispenses: %d fills, at most %d a request", len(list), maxDispenses))
		return
	}
	p, ok := a.patient(w, r, id)
	if !ok {
		return
	}
	if err := validDispenses(field, list, a.today(p)); err != nil {
		msg := err.Error()
		if single {
			msg = strings.TrimPrefix(msg, "dispense[0].") // one fill: its fields are the body's
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	n, err := a.Adherence.Dispense(r.Context(), id, list)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "dispenses not recorded", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.Dispense, Patient: id, Detail: fmt.Sprint(n)}) {
		return
	}
	status := http.StatusCreated
	if n == 0 {
		status = http.StatusOK // all recorded before: a retry
	}
	writeJSON(w, status, map[string]any{"recorded": n, "duplicates": len(list) - n})
}

// today is the patient's local time now.
func (a *API) today(p store.Patient) time.Time {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	return a.now().In(loc)
}

// patient reads an enrolled patient, answering 404 or 500 when it cannot.
func (a *API) patient(w http.ResponseWriter, r *http.Request, id string) (store.Patient, bool) {
	p, err := a.Runner.Patient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return p, false
	}
	if err != nil {
		a.internal(w, "patient not read", err)
		return p, false
	}
	return p, true
}

// DefaultAdherenceDays is the period an adherence report covers when the
// request names none: a year, as PQA's measures and Star Ratings count.
const DefaultAdherenceDays = 365

// Report is GET /patients/{id}/adherence's answer.
type Report struct {
	From        string             `json:"from"`
	To          string             `json:"to"`
	Medications []MedicationReport `json:"medications"`
	Classes     []ClassReport      `json:"classes"`
	Doses       DoseTotals         `json:"doses"`
}

// DoseTotals are the dose replies of every medication together.
type DoseTotals struct {
	adherence.Doses
	Rates adherence.Rates `json:"rates"`
}

// MedicationReport is one medication: its class's PDC (null when the
// class is not in the measure) and its dose replies.
type MedicationReport struct {
	Medication string          `json:"medication"`
	Class      string          `json:"class"`
	PDC        *float64        `json:"pdc"`
	Adherent   *bool           `json:"adherent"`
	Doses      adherence.Doses `json:"doses"`
	Rates      adherence.Rates `json:"rates"`
}

// ClassReport is one class's PDC with how it was counted.
type ClassReport struct {
	Class     string       `json:"class"`
	Threshold float64      `json:"threshold"`
	PDC       *float64     `json:"pdc"`
	Adherent  *bool        `json:"adherent"`
	Reason    string       `json:"reason,omitempty"`
	Index     string       `json:"index_fill,omitempty"`
	Days      int          `json:"days"`
	Covered   int          `json:"days_covered"`
	Fills     []FillReport `json:"fills"`
}

// FillReport is a fill as PDC counted it.
type FillReport struct {
	Medication string `json:"medication"`
	Date       string `json:"date"`
	First      string `json:"first_day"`
	Last       string `json:"last_day"`
}

// getAdherence answers GET /patients/{id}/adherence?from=&to=: dates
// (YYYY-MM-DD, the patient's) bound the period, to defaulting to today and
// from to DefaultAdherenceDays before it.
func (a *API) getAdherence(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	p, ok := a.patient(w, r, id)
	if !ok {
		return
	}
	to := a.Adherence.Today(&p)
	if s := r.URL.Query().Get("to"); s != "" {
		d, err := adherence.ParseDay(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "to: "+err.Error())
			return
		}
		to = d
	}
	from := to - DefaultAdherenceDays + 1
	if s := r.URL.Query().Get("from"); s != "" {
		d, err := adherence.ParseDay(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "from: "+err.Error())
			return
		}
		from = d
	}
	if from > to {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("from: %s is after to (%s)", from, to))
		return
	}
	if to-from >= 3*366 {
		writeError(w, http.StatusBadRequest, "from: the period is longer than three years")
		return
	}
	rep, err := a.Adherence.Adherence(r.Context(), id, from, to)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("patient %q not found", id))
		return
	}
	if err != nil {
		a.internal(w, "adherence not read", err)
		return
	}
	if !a.audit(w, r, audit.Record{Action: audit.ViewAdherence, Patient: id}) {
		return
	}
	writeJSON(w, http.StatusOK, reportOf(rep))
}

func reportOf(rep adherence.Report) Report {
	out := Report{From: rep.From.String(), To: rep.To.String(), Medications: []MedicationReport{}, Classes: []ClassReport{}}
	seen := map[string]bool{}
	for _, m := range rep.Medications {
		mr := MedicationReport{Medication: m.Medication, Class: m.Class, Doses: m.Doses, Rates: m.Doses.Rates()}
		out.Doses.Doses.Add(m.Doses)
		if m.PDC != nil {
			mr.PDC, mr.Adherent = pdcOf(m.PDC)
			if !seen[m.Class] {
				seen[m.Class] = true
				out.Classes = append(out.Classes, classOf(m.PDC))
			}
		}
		out.Medications = append(out.Medications, mr)
	}
	out.Doses.Rates = out.Doses.Doses.Rates()
	return out
}

func pdcOf(res *adherence.Result) (*float64, *bool) {
	if !res.Eligible {
		return nil, nil
	}
	pdc, adherent := res.PDC, res.Adherent
	return &pdc, &adherent
}

func classOf(res *adherence.Result) ClassReport {
	c := ClassReport{Class: res.Class, Threshold: res.Threshold, Reason: res.Reason, Days: res.Days, Covered: res.Covered, Fills: []FillReport{}}
	c.PDC, c.Adherent = pdcOf(res)
	if res.Fills > 0 {
		c.Index = res.Index.String()
	}
	for _, s := range res.Supply {
		c.Fills = append(c.Fills, FillReport{Medication: s.Medication, Date: s.Filled.String(), First: s.First.String(), Last: s.Last.String()})
	}
	return c
}
