package escalation_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/escalation"
)

func TestParseDeadlines(t *testing.T) {
	t.Parallel()
	d, err := escalation.ParseDeadlines("acute=10m, high=45m,low=36h", escalation.Deadlines{})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]time.Duration{"acute": 10 * time.Minute, "high": 45 * time.Minute, "medium": 4 * time.Hour, "low": 36 * time.Hour, "bogus": 36 * time.Hour} {
		if got := d.Of(p); got != want {
			t.Errorf("Of(%q) = %v, want %v", p, got, want)
		}
	}
	if d.String() != "acute=10m0s,high=45m0s,medium=4h0m0s,low=36h0m0s" {
		t.Errorf("String() = %q", d.String())
	}
	if d, err := escalation.ParseDeadlines("", escalation.Deadlines{}); err != nil || d.Of("low") != 24*time.Hour {
		t.Errorf("empty: %+v %v, want the defaults", d, err)
	}
	for _, bad := range []string{"urgent=1h", "high", "high=soon", "high=30s", "acute=2h", "low=2h"} {
		if _, err := escalation.ParseDeadlines(bad, escalation.Deadlines{}); err == nil {
			t.Errorf("ParseDeadlines(%q): no error", bad)
		}
	}
}

// Patients are told whole hours, rounded up: never sooner than the team
// commits to.
func TestTeamResponseHours(t *testing.T) {
	t.Parallel()
	d := escalation.Deadlines{Low: 90 * time.Minute, Medium: 30 * time.Minute}
	if got := d.ResponseHours("low"); got != 2 {
		t.Errorf("90 minutes: told %d hours, want 2", got)
	}
	if got := d.ResponseHours("medium"); got != 1 {
		t.Errorf("30 minutes: told %d hours, want 1", got)
	}
	if got := (escalation.Deadlines{Low: 48 * time.Hour}).ResponseHours("low"); got != 48 {
		t.Errorf("48 hours: told %d", got)
	}
}

func phone(s string) (string, error) {
	s = strings.ReplaceAll(s, " ", "")
	if !strings.HasPrefix(s, "+1") || len(s) != 12 {
		return "", errors.New("not a number")
	}
	return s, nil
}

func TestParseTeams(t *testing.T) {
	t.Parallel()
	base := escalation.Team{Deadlines: escalation.Deadlines{Low: 12 * time.Hour}, OnCall: []string{"+15550000000"}, PageEvery: 10 * time.Minute}
	file := `# the clinic's teams
north:
  deadlines: {acute: 10m, high: 30m}
  oncall: ["+1 555 000 1111", "+15550002222"]
  page_every: 5m
south:
  oncall: []
east:
`
	teams, err := escalation.ParseTeams("teams.yaml", []byte(file), base, phone)
	if err != nil {
		t.Fatal(err)
	}
	north := teams["north"]
	if north.Deadlines.Of("acute") != 10*time.Minute || north.Deadlines.Of("high") != 30*time.Minute || north.Deadlines.Of("low") != 12*time.Hour ||
		!slices.Equal(north.OnCall, []string{"+15550001111", "+15550002222"}) || north.Every() != 5*time.Minute {
		t.Errorf("north %+v", north)
	}
	if south := teams["south"]; len(south.OnCall) != 0 || south.Every() != 10*time.Minute || south.Deadlines.Of("low") != 12*time.Hour {
		t.Errorf("south %+v, want no ladder and the base's deadlines", south)
	}
	if east := teams["east"]; !slices.Equal(east.OnCall, base.OnCall) {
		t.Errorf("east %+v, want the base's ladder", east)
	}
	ts := escalation.Teams{Default: base, Named: teams}
	if ts.Of("north").Every() != 5*time.Minute || !slices.Equal(ts.Of("west").OnCall, base.OnCall) || !slices.Equal(ts.Of("").OnCall, base.OnCall) {
		t.Errorf("Of: north %+v, west %+v", ts.Of("north"), ts.Of("west"))
	}
	if !ts.Pages() || (escalation.Teams{}).Pages() {
		t.Errorf("Pages")
	}
	if got, err := escalation.ParseTeams("empty.yaml", []byte("# nothing yet\n"), base, phone); err != nil || len(got) != 0 {
		t.Errorf("an empty file: %v %v", got, err)
	}

	for _, c := range []struct{ file, want string }{
		{"north:\n  deadlines: {high: 1x}\n", "teams.yaml:2: north: deadlines: high:"},
		{"north:\n  deadlines:\n    acute: 2h\n", "teams.yaml:3: north: deadlines:"},
		{"north:\n  oncall:\n    - \"+15550001111\"\n    - nurse\n", "teams.yaml:4: north: oncall: \"nurse\""},
		{"north:\n  page_every: 10s\n", "teams.yaml:2: north: page_every:"},
		{"north:\n  pager: 1\n", "teams.yaml:2: north: \"pager\" is not a setting"},
		{"no such team!:\n  page_every: 5m\n", "teams.yaml:1:"},
		{"north:\n  oncall: \"+15550001111\"\n", "teams.yaml:2: north: oncall: want a list"},
		{"- north\n", "teams.yaml:1: want a mapping"},
		{"north: [\n", "teams.yaml:"},
	} {
		_, err := escalation.ParseTeams("teams.yaml", []byte(c.file), base, phone)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error starting %q", c.file, err, c.want)
		}
	}
}
