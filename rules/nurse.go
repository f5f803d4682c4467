package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/tendcare/tend/content"
)

// InputError is a nurse's threshold or snooze that cannot apply; Field
// names what is wrong (the API answers 400 with it).
type InputError struct{ Field, Problem string }

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// Ops a threshold may replace.
var ops = []string{"at_least", "above", "below", "at_most"}

// MaxSnooze bounds a snooze: a rule silenced for longer is a rule the
// clinic should change for the patient with a threshold instead.
const MaxSnooze = 90 * 24 * time.Hour

// CheckThreshold reports whether a threshold names a rule and one of its
// tests (measure, baseline and operator), so that a nurse's number
// always replaces a number that is there. An acute rule's floor cannot be
// moved: it is the safety net.
func (rs *Rules) CheckThreshold(th Threshold) error {
	rule, _ := rs.Rule(th.Rule)
	if rule == nil {
		return &InputError{"rule", fmt.Sprintf("unknown rule %q", th.Rule)}
	}
	if rule.Level == content.LevelAcute {
		return &InputError{"rule", fmt.Sprintf("%s is a safety floor: it cannot be changed per patient", th.Rule)}
	}
	if !slices.Contains(ops, th.Op) {
		return &InputError{"op", fmt.Sprintf("%q is not one of at_least, above, below, at_most", th.Op)}
	}
	for _, t := range rule.When {
		if normMeasure(t.Measure) != normMeasure(th.Measure) || t.From != th.From {
			continue
		}
		var v *float64
		switch th.Op {
		case "at_least":
			v = t.AtLeast
		case "above":
			v = t.Above
		case "below":
			v = t.Below
		case "at_most":
			v = t.AtMost
		}
		if v != nil {
			return nil
		}
	}
	return &InputError{"measure", fmt.Sprintf("rule %s has no %s test of %s%s", th.Rule, th.Op, normMeasure(th.Measure), fromText(th.From))}
}

func fromText(from string) string {
	if from == "" {
		return ""
	}
	return " from " + from
}

// CheckSnooze reports whether a rule may be snoozed until then: a known
// rule that is not acute, a time in the future, within MaxSnooze, and a
// reason (the audit log and the console show it).
func (rs *Rules) CheckSnooze(z Snooze, now time.Time) error {
	rule, _ := rs.Rule(z.Rule)
	switch {
	case rule == nil:
		return &InputError{"rule", fmt.Sprintf("unknown rule %q", z.Rule)}
	case rule.Level == content.LevelAcute:
		return &InputError{"rule", fmt.Sprintf("%s is a safety floor: it cannot be snoozed", z.Rule)}
	case z.Until <= now.Unix():
		return &InputError{"until", "in the past"}
	case z.Until > now.Add(MaxSnooze).Unix():
		return &InputError{"until", fmt.Sprintf("more than %d days ahead: set a threshold instead", int(MaxSnooze.Hours()/24))}
	case z.Reason == "":
		return &InputError{"reason", "missing"}
	case len(z.Reason) > 500:
		return &InputError{"reason", "longer than 500 characters"}
	}
	return nil
}

// SetSnooze adds a snooze (replacing the rule's earlier one) and drops the
// expired ones.
func (s *State) SetSnooze(z Snooze, now time.Time) {
	s.Snoozes = slices.DeleteFunc(s.Snoozes, func(x Snooze) bool { return x.Rule == z.Rule || x.Until <= now.Unix() })
	s.Snoozes = append(s.Snoozes, z)
}
