package conversations

import (
	"testing"
	"time"

	"github.com/tendcare/tend/enrollment"
)

func TestNextLocalAcrossDST(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	cases := []struct {
		now       time.Time
		hour, min int
		want      string // local
	}{
		// Spring forward: 2026-03-08 02:00 CST → 03:00 CDT.
		{time.Date(2026, 3, 7, 9, 0, 0, 0, chicago), 8, 0, "2026-03-08 08:00 CDT"},
		{time.Date(2026, 3, 8, 9, 0, 0, 0, chicago), 8, 0, "2026-03-09 08:00 CDT"},
		// 02:30 does not exist on 2026-03-08: it moves forward by the gap.
		{time.Date(2026, 3, 7, 9, 0, 0, 0, chicago), 2, 30, "2026-03-08 03:30 CDT"},
		// Fall back: 2026-11-01 02:00 CDT → 01:00 CST.
		{time.Date(2026, 10, 31, 9, 0, 0, 0, chicago), 8, 0, "2026-11-01 08:00 CST"},
		{time.Date(2026, 11, 1, 0, 30, 0, 0, chicago), 1, 30, "2026-11-01 01:30 CDT"},
		{time.Date(2026, 3, 2, 7, 59, 0, 0, chicago), 8, 0, "2026-03-02 08:00 CST"},
		{time.Date(2026, 3, 2, 8, 0, 0, 0, chicago), 8, 0, "2026-03-03 08:00 CST"},
	}
	for _, c := range cases {
		got := NextLocal(c.now, chicago, c.hour, c.min).In(chicago).Format("2006-01-02 15:04 MST")
		if got != c.want {
			t.Errorf("NextLocal(%v, %02d:%02d) = %s, want %s", c.now, c.hour, c.min, got, c.want)
		}
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	q, err := ParseQuietHours("08:00-21:00")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, ny) }
	for _, c := range []struct {
		t     time.Time
		allow bool
		open  time.Time
	}{
		{at(7, 59), false, at(8, 0)},
		{at(8, 0), true, at(8, 0)},
		{at(20, 59), true, at(20, 59)},
		{at(21, 0), false, at(8, 0).AddDate(0, 0, 1)},
		{at(23, 30), false, at(8, 0).AddDate(0, 0, 1)},
	} {
		if q.Allowed(c.t, ny) != c.allow || !q.NextOpen(c.t, ny).Equal(c.open) {
			t.Errorf("%v: allowed %v next %v, want %v %v", c.t, q.Allowed(c.t, ny), q.NextOpen(c.t, ny), c.allow, c.open)
		}
	}
	for _, bad := range []string{"", "8-21", "21:00-08:00", "08:00"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q): no error", bad)
		}
	}
	if q, err := ParseQuietHours("off"); err != nil || !q.Allowed(at(3, 0), ny) {
		t.Error("off does not allow 03:00")
	}
}

func TestScheduleFromEnrollment(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, chicago)
	p := enrollment.Patient{ID: "p1", Timezone: "America/Chicago", Programs: []string{"heart-failure", "hypertension"}, EnrolledAt: now,
		Medications:  []enrollment.Medication{{ID: "m", Times: []string{"08:00", "20:00"}}},
		Refills:      []enrollment.Refill{{Medication: "m", Date: "2026-03-20"}, {Medication: "m", Date: "2026-03-01"}},
		Appointments: []enrollment.Appointment{{ID: "a1", At: "2026-03-10T09:15"}}}
	timers, err := Schedule(e.Pack, &p, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tm := range timers {
		got[tm.Name] = tm.Due.In(chicago).Format("01-02 15:04")
	}
	want := map[string]string{
		"med|med-reminder|m|08:00":                      "03-04 08:00",
		"med|med-reminder|m|20:00":                      "03-03 20:00",
		"refill|refill-reminder|m|2026-03-20":           "03-17 10:00",
		"appt|appointment-reminder|a1|2026-03-10T09:15": "03-09 17:00",
		"lesson|hf-daily-weight":                        "03-05 18:00",
		"lesson|bp-measuring":                           "03-06 18:00",
		"lesson|salt-and-fluids":                        "03-12 18:00",
		"lesson|why-take-pills":                         "03-13 18:00",
		"lesson|stroke-signs":                           "03-19 18:00",
	}
	if len(got) != len(want) {
		t.Fatalf("timers %v, want %v (a refill in the past gets none; two programs share one schedule, and a lesson both schedule starts once)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s due %s, want %s", k, got[k], v)
		}
	}
	sc, ok := ParseTimer("appt|appointment-reminder|a1|2026-03-10T09:15")
	if !ok || sc.Flow != "appointment-reminder" || lookup(sc.Params, "time") != "09:15" || lookup(sc.Params, "date") != "2026-03-10" {
		t.Fatalf("ParseTimer = %+v", sc)
	}
}
