package audit

import (
	"fmt"
	"net/url"
	"time"
)

// ParseFilter reads a search from a query (patient, staff, from, to), as
// GET /api/v1/audit and the console's audit page take it. A time is RFC
// 3339 (2026-03-02T09:00:00Z) or a date alone (2026-03-02, UTC), which
// covers the whole day: from the day's start, to its end. The error names
// the parameter.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{Patient: q.Get("patient"), Staff: q.Get("staff")}
	var err error
	if f.From, err = parseTime("from", q.Get("from"), false); err != nil {
		return f, err
	}
	f.To, err = parseTime("to", q.Get("to"), true)
	return f, err
}

func parseTime(name, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-03-02T09:00:00Z, or a date such as 2026-03-02", name)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
