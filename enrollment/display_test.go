package enrollment

import (
	"strings"
	"testing"
)

func TestCheckDisplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // "" for accepted, else a substring of the error
	}{
		{"", ""},
		{"lisinopril 10 mg", ""},
		{"metoprolol succinate ER 25 mg", ""},
		{"Tylenol Ext. Str 500 mg, 1 tab a.m.", ""},
		{"insulin glargine 100 units/mL", ""},
		{"amlodipine/benazepril 5-10 mg", ""},
		{"Hidroclorotiazida 12,5 mg (mañana)", ""},
		{"metformin 1000 mg + sitagliptin 50 mg", ""},
		{strings.Repeat("a", 40), ""},
		{strings.Repeat("á", 40), ""}, // characters, not bytes
		{strings.Repeat("a", 41), "41 characters, at most 40"},
		{"see http//x", "web address"},
		{"www example", "web address"},
		{"refill at pharm.ly now", "web address"},
		{"visit clinic.COM", "web address"},
		{"https://x.example", "no ':'"},
		{"tel:5550100", "no ':'"},
		{"mail me x@y", "no @"},
		{"call 555 0100", "phone number"},
		{"call (555) 010-0100", "phone number"},
		{"text +15550100", "phone number"},
		{"aspirin\nCall now", "not allowed"},
		{"aspirin <b>", "not allowed"},
		{"aspirin 😀", "not allowed"},
		{"aspirin ٥٥٥٠١٠٠", "not allowed"}, // digits of another script, a phone number in disguise
		{"{{.HelpContact}}", "not allowed"},
		{" aspirin", "spaces"},
		{"aspirin  81", "spaces"},
		{"aspirin\u200b81", "not allowed"},
	}
	for _, tc := range tests {
		err := CheckDisplay(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckDisplay(%q) = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckDisplay(%q) = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
