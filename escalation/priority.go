package escalation

import "time"

// Priorities, most urgent first.
const (
	Acute  = "acute"  // a possible emergency: the patient was told to call 911
	High   = "high"   // a problem with treatment: answer within the hour
	Medium = "medium" // the patient asked for a person, or a pattern of misses
	Low    = "low"    // a comprehension gap or replies not understood
)

// deadlines are the response times a care team commits to per priority,
// unless configured otherwise (Deadlines).
var deadlines = map[string]time.Duration{
	Acute:  15 * time.Minute,
	High:   1 * time.Hour,
	Medium: 4 * time.Hour,
	Low:    24 * time.Hour,
}

// Valid reports whether p is a known priority.
func Valid(p string) bool {
	_, ok := deadlines[p]
	return ok
}

// Deadline is how soon a ticket of priority p must be answered by default;
// a team's own deadlines are its Deadlines.
func Deadline(p string) time.Duration {
	if d, ok := deadlines[p]; ok {
		return d
	}
	return deadlines[Low]
}

// ResponseHours is the default deadline in whole hours, as patients are
// told (see Deadlines.ResponseHours).
func ResponseHours(p string) int { return Deadlines{}.ResponseHours(p) }

// Rank orders priorities: a higher rank is more urgent; an unknown
// priority ranks below Low.
func Rank(p string) int {
	switch p {
	case Acute:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}
