package store

import (
	"slices"
	"testing"
)

func TestStatusAdvances(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"", "queued", true}, {"queued", "sent", true}, {"sent", "delivered", true}, {"delivered", "read", true},
		{"held", "retrying", true}, {"retrying", "held", true}, {"queued", "failed", true},
		{"delivered", "queued", false}, {"delivered", "sent", false}, {"read", "delivered", false}, {"sent", "queued", false},
	} {
		if got := StatusAdvances(c.from, c.to); got != c.ok {
			t.Errorf("StatusAdvances(%q, %q) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	all := Statuses()
	for i := 1; i < len(all); i++ {
		if StatusRank(all[i-1]) > StatusRank(all[i]) {
			t.Errorf("Statuses: %q (rank %d) before %q (rank %d)", all[i-1], StatusRank(all[i-1]), all[i], StatusRank(all[i]))
		}
	}
	for _, st := range []string{"", "queued", "ringing", "sent", "delivered", "no-answer", "voicemail", "read"} {
		if !slices.Contains(all, st) {
			t.Errorf("Statuses lacks %q", st)
		}
	}
	if !StatusAdvances("ringing", "no-answer") || StatusAdvances("no-answer", "ringing") {
		t.Errorf("a call's ringing does not come before no-answer")
	}
}
