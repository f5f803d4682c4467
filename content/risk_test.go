package content_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tendcare/tend/content"
)

// TestRiskTable: a pack without risk.yaml gets the bundled table; a pack's
// own table is checked as strictly as a flow, naming risk.yaml and the line.
func TestRiskTable(t *testing.T) {
	t.Parallel()
	p, _, err := content.Load(validPack(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Risk == nil || len(p.Risk.Rows) == 0 || p.Risk.Tiers.High != 6 {
		t.Fatalf("bundled table not loaded: %+v", p.Risk)
	}
	fsys := validPack(t)
	fsys["risk.yaml"] = &fstest.MapFile{Data: []byte("tiers: {medium: 3, high: 6}\nreachability: {days: 14, prompts: 3}\npoints:\n  - input: emergency\n    within: 30d\n    points: 3\n    colour: red\n")}
	_, problems, err := content.Load(fsys)
	if err == nil {
		t.Fatal("a table with an unknown field loaded")
	}
	found := false
	for _, pr := range problems {
		if pr.File == "risk.yaml" && pr.Line == 7 && strings.Contains(pr.Msg, "colour") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v, want risk.yaml:7 naming colour", problems)
	}
}

// TestCheckinsLint: a program's check-ins name a check-in flow, a local
// time and known tiers at least a day apart.
func TestCheckinsLint(t *testing.T) {
	t.Parallel()
	cases := []struct{ checkins, want string }{
		{"checkins:\n  flow: nowhere\n  at: \"11:00\"\n  every: {low: 7d}\n", `unknown flow "nowhere"`},
		{"checkins:\n  flow: salt\n  at: \"11:00\"\n  every: {low: 7d}\n", "purpose check-in"},
		{"checkins:\n  flow: salt\n  at: \"25:00\"\n  every: {low: 7d}\n", "checkins.at"},
		{"checkins:\n  flow: salt\n  at: \"11:00\"\n  every: {acute: 1d}\n", `"acute" is not low, medium or high`},
		{"checkins:\n  flow: salt\n  at: \"11:00\"\n  every: {high: 12h}\n", "at least 1d"},
		{"checkins:\n  flow: salt\n  at: \"11:00\"\n", "names no tier"},
	}
	for _, c := range cases {
		fsys := validPack(t)
		appendTo("programs/care.yaml", "\n"+c.checkins)(t, fsys)
		_, problems, _ := content.Load(fsys)
		found := false
		for _, pr := range problems {
			if strings.Contains(pr.Msg, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: problems %v, want one saying %q", c.checkins, problems, c.want)
		}
	}
}
