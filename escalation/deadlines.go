package escalation

import (
	"fmt"
	"strings"
	"time"
)

// Deadlines are the response times one care team commits to, per priority.
// A zero field is the default of its priority (Deadline), so the zero
// value is the defaults.
type Deadlines struct {
	Acute, High, Medium, Low time.Duration
}

// field is the setting of priority p; an unknown priority is Low's.
func (d *Deadlines) field(p string) *time.Duration {
	switch p {
	case Acute:
		return &d.Acute
	case High:
		return &d.High
	case Medium:
		return &d.Medium
	}
	return &d.Low
}

// Of is how soon a ticket of priority p must be answered; an unknown
// priority gets the most lenient deadline, Low's.
func (d Deadlines) Of(p string) time.Duration {
	if v := *d.field(p); v > 0 {
		return v
	}
	if !Valid(p) {
		p = Low
	}
	return Deadline(p)
}

// ResponseHours is Of(p) in whole hours as patients are told it ("someone
// will read it within 24 hours"): rounded up, at least 1, so a patient is
// never promised an answer sooner than the team commits to.
func (d Deadlines) ResponseHours(p string) int {
	return max(1, int((d.Of(p)+time.Hour-1)/time.Hour))
}

// minDeadline is the shortest response time a team may set: paging starts
// when a quarter of it is left.
const minDeadline = time.Minute

// ParseDeadlines reads response times written as TEND_DEADLINES is:
// "acute=15m,high=1h,medium=4h,low=24h". A priority left out keeps base's.
// Each is a minute or more, and no priority may be given longer than a
// less urgent one: a raised ticket's deadline only comes forward.
func ParseDeadlines(s string, base Deadlines) (Deadlines, error) {
	d := base
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, v, ok := strings.Cut(part, "=")
		if !ok {
			return d, fmt.Errorf("%q: want priority=duration, such as high=1h", part)
		}
		if err := d.Set(strings.TrimSpace(p), strings.TrimSpace(v)); err != nil {
			return d, err
		}
	}
	return d, d.Check()
}

// Set sets priority p's response time from a duration such as "4h".
func (d *Deadlines) Set(p, value string) error {
	if !Valid(p) {
		return fmt.Errorf("%q is not a priority (acute, high, medium, low)", p)
	}
	v, err := time.ParseDuration(value)
	if err != nil || v < minDeadline {
		return fmt.Errorf("%s: %q is not a duration of a minute or more (such as 4h)", p, value)
	}
	*d.field(p) = v
	return nil
}

// Check refuses deadlines where a more urgent priority has longer to be
// answered than a less urgent one.
func (d Deadlines) Check() error {
	order := []string{Acute, High, Medium, Low}
	for i := 1; i < len(order); i++ {
		urgent, lenient := order[i-1], order[i]
		if d.Of(urgent) > d.Of(lenient) {
			return fmt.Errorf("%s (%v) is longer than %s (%v): a more urgent priority must not wait longer", urgent, d.Of(urgent), lenient, d.Of(lenient))
		}
	}
	return nil
}

// String writes the deadlines as ParseDeadlines reads them.
func (d Deadlines) String() string {
	var parts []string
	for _, p := range []string{Acute, High, Medium, Low} {
		parts = append(parts, p+"="+d.Of(p).String())
	}
	return strings.Join(parts, ",")
}
