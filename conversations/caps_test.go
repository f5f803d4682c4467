package conversations

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/enrollment"
)

// TestDecideCap is the cap decision as a table: the daily cap across
// purposes, the FCC caps per purpose and per week, the local day, and a
// stale start dropped rather than deferred.
func TestDecideCap(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	at := func(day, hour int) int64 { return time.Date(2026, 3, day, hour, 0, 0, 0, chicago).Unix() }
	now := time.Date(2026, 3, 10, 9, 30, 0, 0, chicago)
	four, two := 4, 2
	plain := content.Caps{PerDay: &four}
	fcc := content.Caps{PerDay: &four, FCC: true}
	started := func(purpose string, times ...int64) Tally {
		return Tally{Name: content.StartTally + purpose, Times: times}
	}
	never := time.Time{}
	cases := []struct {
		name    string
		tallies []Tally
		caps    content.Caps
		purpose string
		stale   time.Time
		want    CapDecision
	}{
		{name: "nothing yet", caps: plain, purpose: "medication", want: CapDecision{Allowed: true}},
		{name: "three today", caps: plain, purpose: "medication",
			tallies: []Tally{started("medication", at(10, 8), at(10, 9)), started("refill", at(10, 9))}, want: CapDecision{Allowed: true}},
		{name: "four today, all purposes count", caps: plain, purpose: "education",
			tallies: []Tally{started("medication", at(10, 8), at(10, 9)), started("refill", at(10, 9)), started("", at(10, 9))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapPerDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "yesterday's do not count", caps: plain, purpose: "medication",
			tallies: []Tally{started("medication", at(9, 8), at(9, 12), at(9, 16), at(9, 20))}, want: CapDecision{Allowed: true}},
		{name: "other tallies do not count", caps: content.Caps{PerDay: &two}, purpose: "medication",
			tallies: []Tally{{Name: "missed-doses", Times: []int64{at(10, 8), at(10, 9)}}}, want: CapDecision{Allowed: true}},
		{name: "a smaller daily cap", caps: content.Caps{PerDay: &two}, purpose: "medication",
			tallies: []Tally{started("medication", at(10, 8), at(10, 9))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapPerDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "dose reminder over the cap is dropped", caps: plain, purpose: "medication", stale: now.Add(2 * time.Hour),
			tallies: []Tally{started("medication", at(10, 8), at(10, 8), at(10, 9), at(10, 9))},
			want:    CapDecision{Outcome: CapDropped, Rule: CapPerDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "stale later than tomorrow: deferred", caps: plain, purpose: "refill", stale: now.Add(72 * time.Hour),
			tallies: []Tally{started("medication", at(10, 8), at(10, 8), at(10, 9), at(10, 9))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapPerDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "fcc: one a day per purpose", caps: fcc, purpose: "medication",
			tallies: []Tally{started("medication", at(10, 8))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapFCCDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "fcc: another purpose the same day", caps: fcc, purpose: "refill",
			tallies: []Tally{started("medication", at(10, 8)), started("appointment", at(10, 9))}, want: CapDecision{Allowed: true}},
		{name: "fcc: three in seven days defers past the oldest", caps: fcc, purpose: "education",
			tallies: []Tally{started("education", at(4, 18), at(6, 18), at(8, 18))},
			// The 4th leaves the week on the 11th (4th..10th is the week of the 10th).
			want: CapDecision{Outcome: CapDeferred, Rule: CapFCCWeek, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
		{name: "fcc: the week's third-newest decides", caps: fcc, purpose: "education",
			tallies: []Tally{started("education", at(3, 18), at(7, 18), at(8, 18), at(9, 18))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapFCCWeek, Until: time.Date(2026, 3, 14, 9, 30, 0, 0, chicago)}},
		{name: "fcc: a start seven days ago is out of the week", caps: fcc, purpose: "education",
			tallies: []Tally{started("education", at(3, 18), at(6, 18), at(8, 18))}, want: CapDecision{Allowed: true}},
		{name: "fcc: week and day both broken, the later day wins", caps: fcc, purpose: "education",
			tallies: []Tally{started("education", at(8, 18), at(9, 18), at(10, 8))},
			want:    CapDecision{Outcome: CapDeferred, Rule: CapFCCWeek, Until: time.Date(2026, 3, 15, 9, 30, 0, 0, chicago)}},
		{name: "fcc off: per purpose not counted", caps: plain, purpose: "education",
			tallies: []Tally{started("education", at(8, 18), at(9, 18), at(10, 8))}, want: CapDecision{Allowed: true}},
		{name: "fcc dose reminder dropped", caps: fcc, purpose: "medication", stale: now.Add(time.Hour),
			tallies: []Tally{started("medication", at(10, 8))},
			want:    CapDecision{Outcome: CapDropped, Rule: CapFCCDay, Until: time.Date(2026, 3, 11, 9, 30, 0, 0, chicago)}},
	}
	for _, c := range cases {
		stale := c.stale
		if stale.IsZero() {
			stale = never
		}
		got := DecideCap(c.tallies, c.caps, c.purpose, stale, now, chicago)
		if got.Allowed != c.want.Allowed || got.Outcome != c.want.Outcome || got.Rule != c.want.Rule || !got.Until.Equal(c.want.Until) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestDecideCapLocalDay: the day is the patient's. At 23:30 in Chicago
// (05:30 UTC the next day) the starts of the Chicago day count; the first
// start of the next Chicago morning is a new day.
func TestDecideCapLocalDay(t *testing.T) {
	t.Parallel()
	chicago, _ := time.LoadLocation("America/Chicago")
	one := 1
	caps := content.Caps{PerDay: &one}
	morning := time.Date(2026, 3, 10, 8, 0, 0, 0, chicago)
	var s Session
	s.CountStart("medication", morning)
	late := time.Date(2026, 3, 10, 23, 30, 0, 0, chicago)
	if d := DecideCap(s.Tallies, caps, "refill", time.Time{}, late, chicago); d.Allowed {
		t.Fatalf("23:30 local, same day as the 08:00 start: allowed")
	}
	if d := DecideCap(s.Tallies, caps, "refill", time.Time{}, late, time.UTC); !d.Allowed {
		t.Fatalf("the same instant is the next day in UTC: refused %+v", d)
	}
	next := time.Date(2026, 3, 11, 0, 30, 0, 0, chicago)
	if d := DecideCap(s.Tallies, caps, "refill", time.Time{}, next, chicago); !d.Allowed {
		t.Fatalf("00:30 the next local day: refused %+v", d)
	}
}

// TestCountStart: starts are kept eight days, other tallies are left
// alone, and Has finds a start that is active, queued or held.
func TestCountStart(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := Session{Tallies: []Tally{{Name: "missed-doses", Times: []int64{1}}}}
	s.CountStart("education", t0)
	s.CountStart("medication", t0.Add(time.Hour))
	s.CountStart("medication", t0.Add(9*24*time.Hour))
	var names []string
	for _, tl := range s.Tallies {
		names = append(names, fmt.Sprintf("%s:%d", tl.Name, len(tl.Times)))
	}
	if got, want := strings.Join(names, " "), "missed-doses:1 started:medication:1"; got != want {
		t.Fatalf("tallies %s, want %s", got, want)
	}
	s = Session{Flow: "a", Params: []Param{{"medication", "m"}}, Queue: []Queued{{Flow: "b"}}, Held: []Held{{Flow: "c"}}}
	for _, c := range []struct {
		flow   string
		params []Param
		want   bool
	}{{"a", []Param{{"medication", "m"}}, true}, {"a", []Param{{"medication", "n"}}, false}, {"b", nil, true}, {"c", nil, true}, {"d", nil, false}} {
		if got := s.Has(c.flow, c.params); got != c.want {
			t.Errorf("Has(%s, %v) = %v, want %v", c.flow, c.params, got, c.want)
		}
	}
}

// TestCapsOf reads the caps from the content: the bundled programs promise
// 4, a program's own per_day and fcc are read, and a patient in two
// programs gets the smaller cap and the FCC caps of either.
func TestCapsOf(t *testing.T) {
	t.Parallel()
	pack := packWith(t, map[string]string{
		"programs/strict.yaml": "id: strict\nname: program.name\nwelcome: welcome\nmedications: med-reminder\ncaps:\n  per_day: 2\n  fcc: true\n",
		"programs/roomy.yaml":  "id: roomy\nname: program.name\ncaps: {per_day: 6}\n",
	})
	for _, c := range []struct {
		programs []string
		day      int
		fcc      bool
	}{
		{[]string{"hypertension"}, 4, false},
		{[]string{"strict"}, 2, true},
		{[]string{"roomy"}, 6, false},
		{[]string{"roomy", "strict"}, 2, true},
		{[]string{"roomy", "hypertension"}, 4, false},
		{nil, content.DefaultPerDay, false},
	} {
		got := CapsOf(pack, &enrollment.Patient{Programs: c.programs})
		if got.Day() != c.day || got.FCC != c.fcc {
			t.Errorf("CapsOf(%v) = per_day %d fcc %v, want %d %v", c.programs, got.Day(), got.FCC, c.day, c.fcc)
		}
	}
}

// TestPromiseIsTheCap: the welcome, START and HELP texts, in every
// language, promise the patient's own per_day, and stay within 2 SMS
// segments with the longest program name.
func TestPromiseIsTheCap(t *testing.T) {
	t.Parallel()
	pack := packWith(t, map[string]string{
		"programs/strict.yaml": "id: strict\nname: program.name\nwelcome: welcome\ncaps: {per_day: 2}\n",
	})
	r := &Renderer{Pack: pack, HelpContact: "+1 555 010 0100"}
	for _, c := range []struct {
		program string
		want    map[string]string
	}{
		{"strict", map[string]string{"en": "up to 2 msgs/day", "es": "hasta 2 mensajes diarios"}},
		{"hypertension", map[string]string{"en": "up to 4 msgs/day", "es": "hasta 4 mensajes diarios"}},
	} {
		p := &enrollment.Patient{Programs: []string{c.program}, Phone: "+15551230001"}
		for _, lang := range []string{"en", "es"} {
			for _, id := range []string{"welcome.body", content.MsgStartConfirm, content.MsgHelp} {
				text, err := r.Text(lang, p, &Effect{Kind: Send, Message: id})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(strings.ToLower(text), c.want[lang]) {
					t.Errorf("%s %s %s: %q does not promise %q", c.program, lang, id, text, c.want[lang])
				}
			}
		}
	}
}

// packWith is the bundled pack with files added.
func packWith(t *testing.T, files map[string]string) *content.Pack {
	t.Helper()
	extra := fstest.MapFS{}
	for name, text := range files {
		extra[name] = &fstest.MapFile{Data: []byte(text)}
	}
	pack, _, err := content.Load(plus{extra, content.Default()})
	if err != nil {
		t.Fatal(err)
	}
	return pack
}

// plus serves extra's files over base's.
type plus struct {
	extra fstest.MapFS
	base  fs.FS
}

func (p plus) Open(name string) (fs.File, error) {
	if _, ok := p.extra[name]; ok {
		return p.extra.Open(name)
	}
	return p.base.Open(name)
}

func (p plus) Glob(pattern string) ([]string, error) {
	a, err := fs.Glob(p.extra, pattern)
	if err != nil {
		return nil, err
	}
	b, err := fs.Glob(p.base, pattern)
	return append(a, b...), err
}
