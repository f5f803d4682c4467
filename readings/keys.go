package readings

import (
	"strconv"
	"strings"
)

// ParseKeys reads a reading keyed on a phone's keypad after the call asked
// for one of kind: "*" separates systolic from diastolic ("150*95") and
// is the decimal mark of every other kind ("82*4" is 82.4); a trailing
// "#" (the key that ends entry) is ignored. Glucose under 35 is mmol/L
// and a weight plausible in both kg and lb is UnitUnclear, as typed.
// Empty or non-keypad input is NotReading; a reading of the wrong shape
// or out of range is Implausible, and the call asks again. The reading is
// patient-sourced, with no time.
func ParseKeys(kind Kind, digits string) (Reading, Problem) {
	digits = strings.TrimRight(digits, "#")
	if digits == "" || !Known(kind) {
		return Reading{}, NotReading
	}
	for _, c := range digits {
		if (c < '0' || c > '9') && c != '*' {
			return Reading{}, NotReading
		}
	}
	r := Reading{Kind: kind, Source: Patient}
	parts := strings.Split(digits, "*")
	if len(parts) > 2 || parts[0] == "" || (len(parts) == 2 && parts[1] == "") {
		return r, Implausible
	}
	if kind == BloodPressure {
		if len(parts) != 2 {
			return r, Implausible
		}
		s, err1 := strconv.Atoi(parts[0])
		d, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return r, Implausible
		}
		r.Systolic, r.Diastolic, r.Unit = s, d, UnitMmHg
		if !Plausible(r) {
			return r, Implausible
		}
		return r, OK
	}
	v, err := strconv.ParseFloat(strings.Join(parts, "."), 64)
	if err != nil {
		return r, Implausible
	}
	r.Value = v
	r, p := fillUnit(r)
	return r, p
}
