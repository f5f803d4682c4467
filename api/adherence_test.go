package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/store"
)

// TestEnrollConditionsCountry: conditions must be known ids, once; the
// country an ISO 3166-1 code, stored in upper case, and it gives the
// emergency number.
func TestEnrollConditionsCountry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, c := range []struct {
		name  string
		set   func(p map[string]any)
		want  []string
		valid bool
	}{
		{"known conditions", func(p map[string]any) { p["conditions"] = []any{"copd", "type2-diabetes"} }, nil, true},
		{"unknown condition", func(p map[string]any) { p["conditions"] = []any{"copd", "asthma"} }, []string{"conditions[1]:", `"asthma"`, "copd"}, false},
		{"condition twice", func(p map[string]any) { p["conditions"] = []any{"copd", "copd"} }, []string{"conditions[1]:", "twice"}, false},
		{"country", func(p map[string]any) { p["country"] = "gb" }, nil, true},
		{"country UK", func(p map[string]any) { p["country"] = "UK" }, []string{"country:", "GB"}, false},
		{"country not a code", func(p map[string]any) { p["country"] = "USA" }, []string{"country:", "ISO 3166-1"}, false},
		{"country ZZ", func(p map[string]any) { p["country"] = "ZZ" }, []string{"country:"}, false},
	} {
		p := patient("p-"+c.name[:4], fmt.Sprintf("+1555123%04d", i))
		c.set(p)
		status, body := e.call("POST", "/patients", jsonOf(t, p))
		if c.valid {
			if status != http.StatusCreated && status != http.StatusOK {
				t.Errorf("%s: status %d %s", c.name, status, body)
			}
			continue
		}
		wantError(t, status, body, http.StatusBadRequest, c.want...)
	}
	_, body := e.call("GET", "/patients/p-coun", "")
	var got api.Patient
	if err := json.Unmarshal(body, &got); err != nil || got.Country != "GB" {
		t.Errorf("country %q (%v), want GB", got.Country, err)
	}
	p, err := e.runner.Patient(context.Background(), "p-coun")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.runner.Render.Numbers(&p); n.Emergency != "999" {
		t.Errorf("a patient living in GB is told %+v, want 999", n)
	}
}

// TestDispensesAndAdherence: fills come in with the enrollment and by
// POST /dispenses, bad ones are refused naming the field with nothing
// recorded, a retry records nothing twice, and GET /adherence reports the
// PDC of each class and the dose replies.
func TestDispensesAndAdherence(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // today is 2026-03-02 in Chicago
	p := patient("p1", "+15551230001")
	p["dispenses"] = []any{map[string]any{"medication": "lisinopril", "date": "2025-09-01", "days_supply": 90}}
	e.enroll(p)

	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"no medication", `{"date":"2026-01-01","days_supply":30}`, []string{"medication:"}},
		{"bad date", `{"medication":"lisinopril","date":"2026-13-01","days_supply":30}`, []string{"date:"}},
		{"future date", `{"medication":"lisinopril","date":"2026-03-09","days_supply":30}`, []string{"date:", "future"}},
		{"no supply", `{"medication":"lisinopril","date":"2026-01-01"}`, []string{"days_supply:"}},
		{"supply too long", `{"medication":"lisinopril","date":"2026-01-01","days_supply":400}`, []string{"days_supply:"}},
		{"second of a list bad", `{"dispenses":[{"medication":"lisinopril","date":"2025-12-01","days_supply":90},{"medication":"statin","date":"2026-01-01","days_supply":0}]}`, []string{"dispenses[1].days_supply:"}},
		{"unknown field", `{"medication":"lisinopril","date":"2026-01-01","days":30}`, []string{"unknown field"}},
		{"empty", `{}`, []string{"medication:"}},
	} {
		status, body := e.call("POST", "/patients/p1/dispenses", c.body)
		wantError(t, status, body, http.StatusBadRequest, c.want...)
	}
	if n := count(e.timeline("p1"), "dispense"); n != 1 {
		t.Fatalf("%d dispense events after the refused requests, want the enrollment's 1", n)
	}
	status, body := e.call("POST", "/patients/p1/dispenses", `{"medication":"lisinopril","date":"2025-12-01","days_supply":90}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d %s", status, body)
	}
	if status, body := e.call("POST", "/patients/p1/dispenses", `{"medication":"lisinopril","date":"2025-12-01","days_supply":90}`); status != http.StatusOK {
		t.Fatalf("retry: status %d %s, want 200", status, body)
	}
	status, body = e.call("POST", "/patients/p1/dispenses", `{"dispenses":[{"medication":"atorvastatin","date":"2026-01-05","days_supply":30},{"medication":"atorvastatin","date":"2026-02-20","days_supply":30}]}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d %s", status, body)
	}
	if status, body := e.call("POST", "/patients/nobody/dispenses", `{"medication":"lisinopril","date":"2025-12-01","days_supply":90}`); status != http.StatusNotFound {
		t.Errorf("unknown patient: %d %s", status, body)
	}

	// Dose replies: one taken, one reported not taken, one unanswered.
	ctx := context.Background()
	err := e.st.Commit(ctx, store.Commit{PatientID: "p1", Version: sessionVersion(t, e, "p1"), Events: []store.Event{
		{ID: "d1", Type: "adherence", At: t0.Add(-72 * time.Hour), Medication: "lisinopril", Status: "taken"},
		{ID: "d2", Type: "adherence", At: t0.Add(-48 * time.Hour), Medication: "lisinopril", Status: "not_taken"},
		{ID: "d3", Type: "adherence", At: t0.Add(-24 * time.Hour), Medication: "lisinopril", Status: "no_answer"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	status, body = e.call("GET", "/patients/p1/adherence?from=2025-09-01&to=2026-03-01", "")
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	var rep struct {
		Medications []struct {
			Medication string   `json:"medication"`
			Class      string   `json:"class"`
			PDC        *float64 `json:"pdc"`
			Adherent   *bool    `json:"adherent"`
			Doses      struct {
				Taken, NotTaken, NoAnswer int
			} `json:"doses"`
		} `json:"medications"`
		Classes []struct {
			Class  string `json:"class"`
			Reason string `json:"reason"`
			Days   int    `json:"days"`
			Cov    int    `json:"days_covered"`
		} `json:"classes"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Medications) != 2 {
		t.Fatalf("medications %s", body)
	}
	ator, lis := rep.Medications[0], rep.Medications[1]
	// Sep 1 - Mar 1 is 182 days; 90 + 90 covered (Sep 1 - Nov 29, Dec 1 - Feb 28).
	if lis.Medication != "lisinopril" || lis.Class != "ras_antagonists" || lis.PDC == nil || *lis.PDC != 180.0/182 || !*lis.Adherent {
		t.Errorf("lisinopril %+v, want PDC 180/182, adherent; body %s", lis, body)
	}
	if ator.Class != "statins" || ator.PDC != nil || ator.Adherent != nil {
		t.Errorf("atorvastatin %+v: its index fill is fewer than 91 days before the end, want no PDC", ator)
	}
	if len(rep.Classes) != 2 || rep.Classes[0].Reason != "short_period" {
		t.Errorf("classes %+v", rep.Classes)
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	doses := raw["medications"].([]any)[1].(map[string]any)["doses"].(map[string]any)
	if doses["taken"] != 1.0 || doses["not_taken"] != 1.0 || doses["no_answer"] != 1.0 {
		t.Errorf("doses %v, want one of each", doses)
	}
	for _, q := range []string{"from=2026-03-01&to=2026-02-01", "from=2026-02-30", "to=yesterday"} {
		status, body := e.call("GET", "/patients/p1/adherence?"+q, "")
		wantError(t, status, body, http.StatusBadRequest)
	}
	if status, _ := e.call("GET", "/patients/p1/adherence", ""); status != http.StatusOK {
		t.Errorf("default period: %d", status)
	}
	if status, _ := e.call("GET", "/patients/nobody/adherence", ""); status != http.StatusNotFound {
		t.Errorf("unknown patient: %d", status)
	}
}

func count(events []store.Event, typ string) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func sessionVersion(t *testing.T, e *env, id string) uint64 {
	t.Helper()
	_, ss, err := e.st.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ss.Version
}
