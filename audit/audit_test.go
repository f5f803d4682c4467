package audit

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func chain(n int) []Record {
	var out []Record
	var prev *Record
	for i := range n {
		r := Record{At: time.Date(2026, 3, 2, 9, i, 0, 0, time.UTC), Staff: "nurse@clinic.org", Action: ViewTimeline, Patient: "p1"}
		Seal(&r, prev)
		out = append(out, r)
		prev = &out[len(out)-1]
	}
	return out
}

func verify(rs []Record) error {
	var v Verifier
	for _, r := range rs {
		if err := v.Next(r); err != nil {
			return err
		}
	}
	return nil
}

func TestChain(t *testing.T) {
	t.Parallel()
	if err := verify(chain(5)); err != nil {
		t.Fatal(err)
	}
	edited := chain(5)
	edited[2].Patient = "p2"
	removed := append(chain(5)[:2], chain(5)[3:]...)
	swapped := chain(5)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	rehashed := chain(5)
	rehashed[2].Staff = "someone@else.org"
	rehashed[2].Hash = hashOf(&rehashed[2]) // recomputed, but record 3 still names the old hash
	for name, rs := range map[string][]Record{"edited": edited, "removed": removed, "swapped": swapped, "rehashed": rehashed} {
		if err := verify(rs); !errors.Is(err, ErrBroken) {
			t.Errorf("%s: %v, want ErrBroken", name, err)
		}
	}
	f := Filter{Patient: "p1", From: time.Date(2026, 3, 2, 9, 2, 0, 0, time.UTC)}
	n := 0
	for _, r := range chain(5) {
		if f.Match(r) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("filter matched %d, want 3", n)
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	f, err := ParseFilter(url.Values{"patient": {"p1"}, "staff": {"n@clinic.org"}, "from": {"2026-03-02"}, "to": {"2026-03-02"}})
	if err != nil || f.Patient != "p1" || f.Staff != "n@clinic.org" ||
		!f.From.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) || !f.To.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", f, err)
	}
	f, err = ParseFilter(url.Values{"from": {"2026-03-02T09:00:00+01:00"}})
	if err != nil || !f.From.Equal(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) || !f.To.IsZero() {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []url.Values{{"from": {"yesterday"}}, {"to": {"2026-3-2"}}} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
