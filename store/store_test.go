package store

import "testing"

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
