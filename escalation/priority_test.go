package escalation_test

import (
	"testing"
	"time"

	"github.com/tendcare/tend/escalation"
)

// byUrgency lists the priorities, most urgent first.
var byUrgency = []string{escalation.Acute, escalation.High, escalation.Medium, escalation.Low}

func TestValid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    string
		want bool
	}{
		{"acute", true},
		{"high", true},
		{"medium", true},
		{"low", true},
		{"", false},
		{"urgent", false},
		{"Medium", false}, // priorities are lower case
		{" low", false},
	}
	for _, tc := range cases {
		if got := escalation.Valid(tc.p); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestDeadlineOrder(t *testing.T) {
	t.Parallel()
	for i, p := range byUrgency {
		d := escalation.Deadline(p)
		if d <= 0 {
			t.Errorf("Deadline(%q) = %v, want > 0", p, d)
		}
		if i > 0 {
			prev := byUrgency[i-1]
			if pd := escalation.Deadline(prev); pd >= d {
				t.Errorf("Deadline(%q) = %v is not shorter than Deadline(%q) = %v", prev, pd, p, d)
			}
		}
	}
}

func TestDeadlineValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    string
		want time.Duration
	}{
		{escalation.Acute, 15 * time.Minute},
		{escalation.High, time.Hour},
		{escalation.Medium, 4 * time.Hour},
		{escalation.Low, 24 * time.Hour},
		// An unknown priority gets the most lenient deadline, never zero.
		{"", 24 * time.Hour},
		{"bogus", 24 * time.Hour},
	}
	for _, tc := range cases {
		if got := escalation.Deadline(tc.p); got != tc.want {
			t.Errorf("Deadline(%q) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestResponseHours(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    string
		want int
	}{
		{escalation.Acute, 1}, // 15 minutes: patients are told "within 1 hour"
		{escalation.High, 1},
		{escalation.Medium, 4},
		{escalation.Low, 24},
		{"bogus", 24},
	}
	for _, tc := range cases {
		got := escalation.ResponseHours(tc.p)
		if got != tc.want {
			t.Errorf("ResponseHours(%q) = %d, want %d", tc.p, got, tc.want)
		}
		if got < 1 {
			t.Errorf("ResponseHours(%q) = %d, want ≥ 1", tc.p, got)
		}
		// Patients are never promised an answer sooner than the care team
		// commits to.
		if time.Duration(got)*time.Hour < escalation.Deadline(tc.p) {
			t.Errorf("ResponseHours(%q) = %d h is sooner than Deadline %v", tc.p, got, escalation.Deadline(tc.p))
		}
	}
}
