package content

import (
	"strings"
	"testing"
)

func TestParamsCheckGiven(t *testing.T) {
	t.Parallel()
	ps := Params{
		{Name: "medication", Type: ParamMedication},
		{Name: "date", Type: ParamDate},
		{Name: "time", Type: ParamTime},
		{Name: "slot", Type: ParamEnum, Values: []string{"morning", "evening"}},
	}
	tests := []struct {
		given map[string]string
		want  string // "" for no error, else a substring
	}{
		{map[string]string{}, ""},
		{map[string]string{"medication": "m1", "date": "2026-12-20", "time": "08:30", "slot": "evening"}, ""},
		{map[string]string{"note": "http://x.example"}, "note: not a parameter of this flow (it takes medication, date, time, slot)"},
		{map[string]string{"date": "2026-02-30"}, `date: "2026-02-30" is not a date`},
		{map[string]string{"date": "2026-2-3"}, `date: "2026-2-3" is not a date`},
		{map[string]string{"time": "8:30"}, `time: "8:30" is not a time of day`},
		{map[string]string{"time": "24:00"}, `time: "24:00" is not a time of day`},
		{map[string]string{"slot": "Evening"}, `slot: "Evening" is not one of morning, evening`},
		{map[string]string{"medication": ""}, "medication: required"},
	}
	for _, tc := range tests {
		err := ps.CheckGiven(tc.given)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v, want no error", tc.given, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.given, err, tc.want)
		}
	}
	if err := (Params{}).CheckGiven(map[string]string{"x": "1"}); err == nil || !strings.Contains(err.Error(), "it takes none") {
		t.Errorf("a flow without params took x: %v", err)
	}
}
