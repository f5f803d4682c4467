package conversations

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/enrollment"
)

// locations caches time zones: time.LoadLocation parses the zone's data on
// every call, and every timer and every send needs the patient's zone.
var locations sync.Map // name → *time.Location

// LoadLocation is time.LoadLocation, cached.
func LoadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

// QuietHours is the daily window, in the patient's local time, in which
// messages that are not a direct reply may go out (TCPA: 08:00–21:00).
type QuietHours struct {
	Off        bool
	Start, End int // minutes after local midnight; sending is allowed in [Start, End)
}

// DefaultQuietHours allows sending from 08:00 to 21:00 local time. A
// function, not a variable: nobody can change the default for everyone.
func DefaultQuietHours() QuietHours { return QuietHours{Start: 8 * 60, End: 21 * 60} }

// ParseQuietHours reads "HH:MM-HH:MM" (the sending window) or "off".
func ParseQuietHours(s string) (QuietHours, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return QuietHours{Off: true}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM or off", s)
	}
	h1, m1, err1 := content.ParseClock(strings.TrimSpace(from))
	h2, m2, err2 := content.ParseClock(strings.TrimSpace(to))
	if err1 != nil || err2 != nil || h1*60+m1 >= h2*60+m2 {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM with start before end, or off", s)
	}
	return QuietHours{Start: h1*60 + m1, End: h2*60 + m2}, nil
}

// Allowed reports whether t is inside the sending window in loc.
func (q QuietHours) Allowed(t time.Time, loc *time.Location) bool {
	if q.Off {
		return true
	}
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	return m >= q.Start && m < q.End
}

// NextOpen is the earliest time at or after t inside the window.
func (q QuietHours) NextOpen(t time.Time, loc *time.Location) time.Time {
	if q.Allowed(t, loc) {
		return t
	}
	l := t.In(loc)
	open := time.Date(l.Year(), l.Month(), l.Day(), q.Start/60, q.Start%60, 0, 0, loc)
	if !open.After(t) {
		open = time.Date(l.Year(), l.Month(), l.Day()+1, q.Start/60, q.Start%60, 0, 0, loc)
	}
	return open
}

// Spread is a stable offset in [0, window) for key, so that messages held
// overnight are released gradually rather than all at the opening minute,
// and the same patient always gets the same offset.
func Spread(key string, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return time.Duration(h.Sum64() % uint64(window/time.Second) * uint64(time.Second))
}

// Timer names say what a timer starts, so that firing one needs nothing but
// the name: kind|flow|arg|arg.
const (
	timerMed      = "med"
	timerRefill   = "refill"
	timerAppt     = "appt"
	timerLesson   = "lesson"
	timerFollowup = "followup"
	// timerCapped is a start a cap deferred: capped|flow|key=value|...
	timerCapped = "capped"
)

// Timer is a timer the schedule asks for: its name says what it starts
// (IsSchedule) and Due when, in UTC.
type Timer struct {
	Name string
	Due  time.Time
}

// Scheduled is a flow start a timer stands for.
type Scheduled struct {
	Flow   string
	Params []Param
	Daily  bool // re-arm for the same local time tomorrow
}

// ParseTimer tells what a schedule timer starts. ok is false for the flow
// timer and for names it does not know.
func ParseTimer(name string) (Scheduled, bool) {
	parts := strings.Split(name, "|")
	switch {
	case parts[0] == timerMed && len(parts) == 4:
		// The dose time tells tonight's reminder from tomorrow morning's,
		// so one waiting for a late answer does not swallow the next.
		return Scheduled{Flow: parts[1], Params: []Param{{"medication", parts[2]}, {"dose", parts[3]}}, Daily: true}, true
	case parts[0] == timerRefill && len(parts) == 4:
		return Scheduled{Flow: parts[1], Params: []Param{{"medication", parts[2]}, {"date", parts[3]}}}, true
	case parts[0] == timerAppt && len(parts) == 4:
		date, clock, _ := strings.Cut(parts[3], "T")
		return Scheduled{Flow: parts[1], Params: []Param{{"appointment", parts[2]}, {"date", date}, {"time", clock}}}, true
	case (parts[0] == timerLesson || parts[0] == timerFollowup) && len(parts) == 2:
		return Scheduled{Flow: parts[1]}, true
	case parts[0] == timerReview && len(parts) == 3:
		// A spaced review: the lesson, started at the item's question.
		return Scheduled{Flow: parts[1], Params: []Param{{ParamReview, parts[2]}}}, true
	case parts[0] == timerCapped && len(parts) >= 2:
		sc := Scheduled{Flow: parts[1]}
		for _, kv := range parts[2:] {
			k, v, _ := strings.Cut(kv, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return Scheduled{}, false
			}
			sc.Params = append(sc.Params, Param{k, v})
		}
		return sc, true
	}
	return Scheduled{}, false
}

// DeferredTimer names the timer of a start a cap deferred to another day.
// It is not part of the schedule, so a re-enrollment keeps it.
func DeferredTimer(flow string, params []Param) string {
	parts := []string{timerCapped, flow}
	for _, p := range params {
		parts = append(parts, url.QueryEscape(p.Key)+"="+url.QueryEscape(p.Value))
	}
	return join(parts...)
}

// IsSchedule reports whether a timer name belongs to the enrollment's
// schedule (rebuilt when the enrollment changes), not to a conversation.
func IsSchedule(name string) bool {
	k, _, _ := strings.Cut(name, "|")
	return k == timerMed || k == timerRefill || k == timerAppt || k == timerLesson
}

// NextLocal is the first moment after now when the clock in loc reads
// hour:min. It is computed on the local calendar, so a 08:00 reminder stays
// at 08:00 across daylight-saving changes; a time that does not exist on the
// day clocks spring forward moves forward by the gap, as time.Date does.
func NextLocal(now time.Time, loc *time.Location, hour, min int) time.Time {
	l := now.In(loc)
	t := localTime(l.Year(), l.Month(), l.Day(), hour, min, loc)
	for d := 1; !t.After(now); d++ {
		t = localTime(l.Year(), l.Month(), l.Day()+d, hour, min, loc)
	}
	return t
}

// localTime is time.Date with one rule time.Date leaves open: a clock time
// skipped by a spring-forward change (02:30) is read with the offset in force
// before the change, which moves it forward by the gap (03:30).
func localTime(y int, m time.Month, d, hour, min int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, hour, min, 0, 0, loc)
	if t.Hour() == hour && t.Minute() == min {
		return t
	}
	_, before := time.Date(y, m, d, 0, 0, 0, 0, loc).Zone()
	return time.Date(y, m, d, hour, min, 0, 0, time.UTC).Add(-time.Duration(before) * time.Second).In(loc)
}

// Schedule lists the timers an enrollment needs from now on: each
// medication time every day, refill and appointment reminders before their
// dates, and each lesson once after enrollment.
func Schedule(p *content.Pack, pt *enrollment.Patient, now time.Time) ([]Timer, error) {
	loc, err := LoadLocation(pt.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", pt.Timezone, err)
	}
	var out []Timer
	seen := map[string]bool{}
	add := func(name string, due time.Time) {
		if !seen[name] && due.After(now) {
			seen[name] = true
			out = append(out, Timer{Name: name, Due: due})
		}
	}
	for _, id := range pt.Programs {
		prog := p.Programs[id]
		if prog == nil {
			return nil, fmt.Errorf("unknown program %q", id)
		}
		if prog.Medications != "" {
			for _, m := range pt.Medications {
				for _, at := range m.Times {
					h, mi, err := content.ParseClock(at)
					if err != nil {
						return nil, fmt.Errorf("medication %q: %w", m.ID, err)
					}
					add(join(timerMed, prog.Medications, m.ID, at), NextLocal(now, loc, h, mi))
				}
			}
		}
		if r := prog.Refills; r != nil {
			for _, rf := range pt.Refills {
				due, err := daysBefore(rf.Date, r.DaysBefore, r.At, loc)
				if err != nil {
					return nil, fmt.Errorf("refill %q: %w", rf.Medication, err)
				}
				add(join(timerRefill, r.Flow, rf.Medication, rf.Date), due)
			}
		}
		if r := prog.Appointments; r != nil {
			for _, a := range pt.Appointments {
				date, _, _ := strings.Cut(a.At, "T")
				due, err := daysBefore(date, r.DaysBefore, r.At, loc)
				if err != nil {
					return nil, fmt.Errorf("appointment %q: %w", a.ID, err)
				}
				add(join(timerAppt, r.Flow, a.ID, a.At), due)
			}
		}
		for _, l := range prog.Education {
			h, mi, err := content.ParseClock(l.At)
			if err != nil {
				return nil, err
			}
			e := pt.EnrolledAt.In(loc)
			add(join(timerLesson, l.Flow), time.Date(e.Year(), e.Month(), e.Day()+l.Day, h, mi, 0, 0, loc))
		}
	}
	return out, nil
}

func daysBefore(date string, days int, at string, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad date %q (want YYYY-MM-DD)", date)
	}
	h, m, err := content.ParseClock(at)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day()-days, h, m, 0, 0, loc), nil
}

func join(parts ...string) string { return strings.Join(parts, "|") }
