package readings

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ok := func(r Reading) Reading {
		if r.At.IsZero() {
			r.At = now.Add(-time.Hour)
		}
		if r.Source == "" {
			r.Source = Device
		}
		return r
	}
	tests := []struct {
		name  string
		r     Reading
		field string // "" = valid
	}{
		{"bp", ok(bp(150, 95)), ""},
		{"weight kg", ok(val(Weight, 82.4, UnitKg)), ""},
		{"weight lb", ok(val(Weight, 182, UnitLb)), ""},
		{"glucose mg/dL", ok(val(Glucose, 210, UnitMgDL)), ""},
		{"glucose mmol/L", ok(val(Glucose, 5.5, UnitMmolL)), ""},
		{"spo2", ok(val(SpO2, 93, UnitPercent)), ""},
		{"heart rate", ok(val(HeartRate, 72, UnitPerMin)), ""},
		{"clock a minute ahead", ok(Reading{Kind: SpO2, Value: 97, Unit: UnitPercent, At: now.Add(time.Minute)}), ""},
		{"upper edges", ok(bp(260, 160)), ""},
		{"lower edges", ok(bp(60, 30)), ""},
		{"edge pulse pressure", ok(bp(120, 120-PulsePressureMin)), "diastolic"},
		{"no kind", ok(Reading{Value: 1, Unit: UnitKg}), "kind"},
		{"unknown kind", ok(Reading{Kind: "steps", Value: 1, Unit: "count"}), "kind"},
		{"no unit", ok(Reading{Kind: Weight, Value: 82}), "unit"},
		{"wrong unit", ok(val(Weight, 82, UnitMgDL)), "unit"},
		{"systolic low", ok(bp(59, 40)), "systolic"},
		{"systolic high", ok(bp(261, 95)), "systolic"},
		{"diastolic low", ok(bp(120, 29)), "diastolic"},
		{"swapped", ok(bp(95, 150)), "diastolic"},
		{"narrow", ok(bp(120, 110)), "diastolic"},
		{"weight 24 kg", ok(val(Weight, 24, UnitKg)), "value"},
		{"weight 700 lb", ok(val(Weight, 700, UnitLb)), "value"},
		{"glucose 601", ok(val(Glucose, 601, UnitMgDL)), "value"},
		{"glucose 40 mmol/L", ok(val(Glucose, 40, UnitMmolL)), "value"},
		{"spo2 101", ok(val(SpO2, 101, UnitPercent)), "value"},
		{"spo2 49", ok(val(SpO2, 49, UnitPercent)), "value"},
		{"hr 24", ok(val(HeartRate, 24, UnitPerMin)), "value"},
		{"hr 221", ok(val(HeartRate, 221, UnitPerMin)), "value"},
		{"future", ok(Reading{Kind: SpO2, Value: 97, Unit: UnitPercent, At: now.Add(time.Hour)}), "at"},
		{"source", ok(Reading{Kind: SpO2, Value: 97, Unit: UnitPercent, Source: "nurse"}), "source"},
		{"id spaces", ok(Reading{ID: "r 1", Kind: SpO2, Value: 97, Unit: UnitPercent}), "id"},
		{"id long", ok(Reading{ID: strings.Repeat("x", 129), Kind: SpO2, Value: 97, Unit: UnitPercent}), "id"},
	}
	for _, tt := range tests {
		err := Validate(tt.r, now)
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && !errors.As(err, &fe):
			t.Errorf("%s: err = %v, want a FieldError on %s", tt.name, err, tt.field)
		case tt.field != "" && fe.Field != tt.field:
			t.Errorf("%s: field %q (%v), want %q", tt.name, fe.Field, err, tt.field)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tt := range []struct{ in, want Reading }{
		{val(Weight, 182, UnitLb), val(Weight, 82.6, UnitKg)},
		{val(Weight, 82.4, UnitKg), val(Weight, 82.4, UnitKg)},
		{val(Glucose, 5.5, UnitMmolL), val(Glucose, 99, UnitMgDL)},
		{val(Glucose, 3, UnitMmolL), val(Glucose, 54, UnitMgDL)},
		{bp(150, 95), bp(150, 95)},
	} {
		if got := Canonical(tt.in); got != tt.want {
			t.Errorf("Canonical(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if s := bp(150, 95).ValueText(); s != "150/95" {
		t.Errorf("ValueText = %q", s)
	}
	if s := val(Weight, 82.4, UnitKg).ValueText(); s != "82.4" {
		t.Errorf("ValueText = %q", s)
	}
}
