package escalation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendcare/tend/staff"
)

// DefaultPageEvery is the time between two steps of the re-page ladder.
const DefaultPageEvery = 10 * time.Minute

// minPageEvery is the shortest time between two pages: an on-call nurse
// needs a moment to open the console before the next number is woken.
const minPageEvery = time.Minute

// Team is what one care team commits to and whom it wakes: its response
// times and its re-page ladder.
type Team struct {
	Deadlines Deadlines
	// OnCall is the re-page ladder, first paged first (E.164 numbers);
	// empty, the team's tickets page nobody.
	OnCall []string
	// PageEvery is the time between two steps of the ladder
	// (DefaultPageEvery when 0).
	PageEvery time.Duration
}

// Every is the time between two steps of the team's ladder.
func (t Team) Every() time.Duration {
	if t.PageEvery > 0 {
		return t.PageEvery
	}
	return DefaultPageEvery
}

// Teams are every team's settings: Default for a team the teams file does
// not name (the settings of the environment), Named for those it does.
// The zero value is the default deadlines and no paging.
type Teams struct {
	Default Team
	Named   map[string]Team
}

// Of returns a team's settings; "" is staff.DefaultTeam.
func (ts Teams) Of(team string) Team {
	if team == "" {
		team = staff.DefaultTeam
	}
	if t, ok := ts.Named[team]; ok {
		return t
	}
	return ts.Default
}

// Pages reports whether any team pages: whether tickets need paging
// timers at all.
func (ts Teams) Pages() bool {
	if len(ts.Default.OnCall) > 0 {
		return true
	}
	for _, t := range ts.Named {
		if len(t.OnCall) > 0 {
			return true
		}
	}
	return false
}

// ParseTeams reads a teams file (TEND_TEAMS), YAML keyed by team name:
//
//	north:
//	  deadlines: {acute: 10m, high: 30m}
//	  oncall: ["+15550001111", "+15550002222"]
//	  page_every: 5m
//
// What a team leaves out is base's (the settings of the environment): a
// deadline per priority, the ladder, the time between pages; an empty
// oncall list ([]) pages nobody for that team. phone checks an on-call
// number and returns it in E.164 (escalation knows no phone formats).
// An error names the file and line.
func ParseTeams(file string, data []byte, base Team, phone func(string) (string, error)) (map[string]Team, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]Team{}, nil // an empty file names no team
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	bad := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, n.Line, fmt.Sprintf(format, args...))
	}
	if len(doc.Content) == 0 {
		return map[string]Team{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "want a mapping of team names to their settings")
	}
	teams := map[string]Team{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		name := key.Value
		if !staff.ValidTeam(name) {
			return nil, bad(key, "%q is not a team name (letters, digits, - and _)", name)
		}
		if _, dup := teams[name]; dup {
			return nil, bad(key, "team %s is named twice", name)
		}
		t, err := parseTeam(val, base, phone, func(n *yaml.Node, format string, args ...any) error {
			return bad(n, "%s: %s", name, fmt.Sprintf(format, args...))
		})
		if err != nil {
			return nil, err
		}
		teams[name] = t
	}
	return teams, nil
}

// parseTeam reads one team's settings over base's.
func parseTeam(n *yaml.Node, base Team, phone func(string) (string, error), bad func(*yaml.Node, string, ...any) error) (Team, error) {
	t := base
	t.OnCall = slices.Clone(base.OnCall)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return t, nil // a team named with nothing of its own
	}
	if n.Kind != yaml.MappingNode {
		return t, bad(n, "want deadlines, oncall or page_every")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch key.Value {
		case "deadlines":
			if val.Kind != yaml.MappingNode {
				return t, bad(val, "deadlines: want priority: duration, such as high: 1h")
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				if err := t.Deadlines.Set(val.Content[j].Value, val.Content[j+1].Value); err != nil {
					return t, bad(val.Content[j], "deadlines: %v", err)
				}
			}
			if err := t.Deadlines.Check(); err != nil {
				return t, bad(val, "deadlines: %v", err)
			}
		case "oncall":
			if val.Kind != yaml.SequenceNode {
				return t, bad(val, "oncall: want a list of phone numbers, first paged first")
			}
			t.OnCall = []string{}
			for _, item := range val.Content {
				num, err := phone(item.Value)
				if item.Kind != yaml.ScalarNode || err != nil {
					return t, bad(item, "oncall: %q is not a phone number", item.Value)
				}
				t.OnCall = append(t.OnCall, num)
			}
		case "page_every":
			every, err := time.ParseDuration(val.Value)
			if val.Kind != yaml.ScalarNode || err != nil || every < minPageEvery {
				return t, bad(val, "page_every: %q is not a duration of a minute or more (such as 10m)", val.Value)
			}
			t.PageEvery = every
		default:
			return t, bad(key, "%q is not a setting (deadlines, oncall, page_every)", key.Value)
		}
	}
	return t, nil
}
