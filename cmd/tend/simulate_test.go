package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// simText renders a catalog message the way the simulator's patient sees it
// (heart-failure program, no phi_ok: the medicine is not named).
func simText(t *testing.T, lang, id string) string {
	t.Helper()
	pack, err := loadPack("")
	if err != nil {
		t.Fatal(err)
	}
	program, err := pack.Catalog.Text(lang, pack.Programs["heart-failure"].Name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	generic, err := pack.Catalog.Text(lang, "med.generic", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := pack.Catalog.Text(lang, id, map[string]any{"Program": program, "Medication": generic, "PerDay": pack.Programs["heart-failure"].Caps.Day()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// runSimulate runs the simulator on script with the bundled content.
func runSimulate(t *testing.T, script string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := simulate(append([]string{"--content="}, args...), strings.NewReader(script), &out); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out.String())
	}
	return out.String()
}

// inOrder checks that out contains each of want, in that order.
func inOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			if strings.Contains(out, w) {
				t.Errorf("%q appears, but not after the lines before it", w)
			} else {
				t.Errorf("output lacks %q", w)
			}
			continue
		}
		rest = rest[i+len(w):]
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

var sandboxStamp = regexp.MustCompile(`\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d\d):(\d\d)\] tend> `)

func TestSimulateSpanishMedReminder(t *testing.T) {
	t.Parallel()
	script := strings.Join([]string{
		"/start med-reminder",
		"2",
		"/advance 30m",
		"1",
		"/timeline",
		"/bogus",
		"/quit",
		"STOP", // after /quit: never read
	}, "\n") + "\n"
	out := runSimulate(t, script, "--lang", "es")

	inOrder(t, out,
		"[Mon 09:00] tend> "+simText(t, "es", "welcome.body"),
		"[Mon 09:00] tend> "+simText(t, "es", "med.ask")+"\n",
		"1 "+simText(t, "es", "med.choice.taken"),
		"2 "+simText(t, "es", "med.choice.not_yet"),
		"[Mon 09:00] tend> "+simText(t, "es", "med.later"),
		"[Mon 09:30] tend> "+simText(t, "es", "med.reask"),
		"[Mon 09:30] tend> "+simText(t, "es", "med.thanks"),
		"adherence", // the timeline
		"! unknown command",
	)
	if strings.Contains(out, "Checking in again") || strings.Contains(out, "Time for") {
		t.Errorf("English text in a Spanish simulation:\n%s", out)
	}
	if n := strings.Count(out, simText(t, "es", "med.reask")); n != 1 {
		t.Errorf("re-ask sent %d times, want once", n)
	}
	if strings.Contains(out, simText(t, "es", "keyword.stop.confirm")) {
		t.Errorf("input after /quit was read")
	}

	// The timeline lists the two answers, not_yet before taken, at the
	// times they were given.
	notYet := regexp.MustCompile(`(?m)^  Mon 09:00 adherence +not_yet`)
	taken := regexp.MustCompile(`(?m)^  Mon 09:30 adherence +taken`)
	ni, ti := notYet.FindStringIndex(out), taken.FindStringIndex(out)
	if ni == nil || ti == nil || ni[0] > ti[0] {
		t.Errorf("timeline lacks adherence not_yet (Mon 09:00) then taken (Mon 09:30):\n%s", out)
	}
	if n := strings.Count(out, " adherence "); n != 2 {
		t.Errorf("timeline has %d adherence events, want 2", n)
	}

	t.Run("timeline columns", func(t *testing.T) {
		// Each field of a timeline line is its own word: an adherence line
		// reads "adherence taken med-1", not "adherence takenmed-1".
		for _, status := range []string{"not_yet", "taken"} {
			re := regexp.MustCompile(`(?m)^  Mon \d\d:\d\d adherence +` + status + ` +med-1\b`)
			if !re.MatchString(out) {
				line := regexp.MustCompile(`(?m)^  .*adherence +` + status + `.*$`).FindString(out)
				t.Errorf("timeline line %q: status and medication are not separated", line)
			}
		}
	})
}

func TestSimulateEnglishDay(t *testing.T) {
	t.Parallel()
	out := runSimulate(t, "/advance 1d\n/quit\n")
	ask := simText(t, "en", "med.ask")
	// The 20:00 reminder's 2-hour timeout falls in quiet hours: it waits
	// for the morning window (08:00 plus this patient's spread), and the
	// 08:00 reminder queues behind it, so the patient reads them in order.
	inOrder(t, out,
		"[Mon 09:00] tend> "+simText(t, "en", "welcome.body"),
		"[Mon 20:00] tend> "+ask,
		"[Tue 08:06] tend> "+simText(t, "en", "med.no_reply"),
		"[Tue 08:06] tend> "+ask,
	)
	// Starting Monday 09:00 after enrollment, one day holds exactly the
	// 20:00 and the next 08:00 doses.
	if n := strings.Count(out, ask); n != 2 {
		t.Errorf("%d medication reminders in a day, want 2 (20:00 and 08:00):\n%s", n, out)
	}
	// Nothing is sent in quiet hours (before 08:00 or from 21:00).
	for _, m := range sandboxStamp.FindAllStringSubmatch(out, -1) {
		hhmm := m[2] + ":" + m[3]
		if hhmm < "08:00" || hhmm >= "21:00" {
			t.Errorf("message sent at %s %s, inside quiet hours", m[1], hhmm)
		}
	}
}
