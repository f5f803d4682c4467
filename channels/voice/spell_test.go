package voice

import "testing"

func TestSpell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"555-0100":         "5 5 5, 0 1 0 0",
		"+1 555 010 0100":  "1, 5 5 5, 0 1 0, 0 1 0 0",
		"(555) 010-0100":   "5 5 5, 0 1 0, 0 1 0 0",
		"your clinic":      "your clinic",
		"555-0100 ext. 12": "5 5 5, 0 1 0 0 ext. 1 2",
		"":                 "",
	} {
		if got := spell(in); got != want {
			t.Errorf("spell(%q) = %q, want %q", in, got, want)
		}
	}
}
