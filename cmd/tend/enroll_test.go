package main

import (
	"strings"
	"testing"
)

// TestEnrollmentLimitSettings reads TEND_MAX_MEDICATIONS and TEND_MAX_TIMES
// and refuses a limit below 1, naming the variable.
func TestEnrollmentLimitSettings(t *testing.T) {
	c, err := parseConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMedications != 20 || c.MaxTimes != 6 {
		t.Errorf("defaults %d medications, %d times; want 20, 6", c.MaxMedications, c.MaxTimes)
	}
	t.Setenv("TEND_MAX_MEDICATIONS", "30")
	t.Setenv("TEND_MAX_TIMES", "4")
	if c, err = parseConfig("serve", nil); err != nil || c.MaxMedications != 30 || c.MaxTimes != 4 {
		t.Errorf("set: %d medications, %d times (%v); want 30, 4", c.MaxMedications, c.MaxTimes, err)
	}
	for _, name := range []string{"TEND_MAX_MEDICATIONS", "TEND_MAX_TIMES"} {
		t.Setenv(name, "0")
		if _, err := parseConfig("serve", nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=0: %v, want an error naming it", name, err)
		}
		t.Setenv(name, "3")
	}
}
