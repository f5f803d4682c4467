package readings

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// FieldError is a reading that cannot be recorded, naming the field at
// fault, so the API can answer a 400 an integrator can act on ("unit:
// missing") and a FHIR Observation's OperationOutcome can point at the
// element.
type FieldError struct {
	Field   string // the API's field name: kind, unit, systolic, diastolic, value, at, source, id
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// FutureSkew is how far in the future a reading may be taken: device
// clocks drift, and a phone a minute ahead must not lose a reading.
const FutureSkew = 5 * time.Minute

// Conversion factors. A pound is exactly 0.45359237 kg; 18.016 mg/dL per
// mmol/L is glucose's molar mass (180.16 g/mol) over 10, the factor meters
// and the ADA use.
const (
	KgPerLb        = 0.45359237
	MgDLPerMmolL   = 18.016
	MgDLPerGL      = 100
	mmolGuessBelow = 35 // a typed glucose under this with no unit is mmol/L (research 1.4)
)

// Limits are the plausible range of a reading in its canonical unit: a
// value outside is a typing or device error, asked again and never alerted
// on. They bound what a person or a meter can show (research 1.4), not
// what is healthy: the rules decide that.
type Limits struct{ Min, Max float64 }

// Plausible ranges by kind (blood pressure's are systolic's; diastolic
// has DiastolicLimits).
var (
	SystolicLimits  = Limits{60, 260}
	DiastolicLimits = Limits{30, 160}
	// PulsePressureMin: a systolic not above the diastolic by more than
	// this is a swapped or mistyped pair.
	PulsePressureMin = 10
	limits           = map[Kind]Limits{
		BloodPressure: SystolicLimits,
		Weight:        {25, 300},
		Glucose:       {20, 600},
		SpO2:          {50, 100},
		HeartRate:     {25, 220},
	}
)

// LimitsOf returns the plausible range of kind in its canonical unit.
func LimitsOf(k Kind) (Limits, bool) {
	l, ok := limits[k]
	return l, ok
}

func (l Limits) has(v float64) bool { return v >= l.Min && v <= l.Max }

// Known reports whether k is a kind Tend reads.
func Known(k Kind) bool {
	_, ok := limits[k]
	return ok
}

// CanonicalUnit is the unit kind k is stored and classified in.
func CanonicalUnit(k Kind) string {
	switch k {
	case BloodPressure:
		return UnitMmHg
	case Weight:
		return UnitKg
	case Glucose:
		return UnitMgDL
	case SpO2:
		return UnitPercent
	case HeartRate:
		return UnitPerMin
	}
	return ""
}

// Units lists the units a reading of kind k may come in, canonical first.
func Units(k Kind) []string {
	switch k {
	case Weight:
		return []string{UnitKg, UnitLb}
	case Glucose:
		return []string{UnitMgDL, UnitMmolL, UnitGL}
	}
	if u := CanonicalUnit(k); u != "" {
		return []string{u}
	}
	return nil
}

func unitOf(k Kind, u string) bool {
	for _, v := range Units(k) {
		if v == u {
			return true
		}
	}
	return false
}

// Canonical returns r in its kind's canonical unit: pounds to kilograms
// (to 0.1 kg, a scale's precision), mmol/L and g/L to mg/dL (to 1 mg/dL,
// a meter's). A reading already canonical, or of a unit the kind does not
// take, is returned as it is; Validate says which.
func Canonical(r Reading) Reading {
	switch {
	case r.Kind == Weight && r.Unit == UnitLb:
		r.Value, r.Unit = round(r.Value*KgPerLb, 10), UnitKg
	case r.Kind == Glucose && r.Unit == UnitMmolL:
		r.Value, r.Unit = round(r.Value*MgDLPerMmolL, 1), UnitMgDL
	case r.Kind == Glucose && r.Unit == UnitGL:
		r.Value, r.Unit = round(r.Value*MgDLPerGL, 1), UnitMgDL
	}
	return r
}

func round(v, scale float64) float64 { return math.Round(v*scale) / scale }

// Validate checks a reading as the API and FHIR receive it, in any unit
// its kind takes: a known kind and source, the unit, plausible values,
// a time not in the future (beyond FutureSkew of now). The error is a
// *FieldError naming the first field at fault; nothing of a reading that
// fails should be recorded.
func Validate(r Reading, now time.Time) error {
	if r.Kind == "" {
		return fieldErr("kind", "missing (one of %s)", kindList())
	}
	if !Known(r.Kind) {
		return fieldErr("kind", "%q is not a reading Tend knows (one of %s)", r.Kind, kindList())
	}
	if r.Unit == "" {
		return fieldErr("unit", "missing (%s for %s)", orList(Units(r.Kind)), r.Kind)
	}
	if !unitOf(r.Kind, r.Unit) {
		return fieldErr("unit", "%q is not a unit of %s (%s)", r.Unit, r.Kind, orList(Units(r.Kind)))
	}
	if err := plausible(Canonical(r), r); err != nil {
		return err
	}
	if r.At.IsZero() {
		return fieldErr("at", "missing")
	}
	if r.At.After(now.Add(FutureSkew)) {
		return fieldErr("at", "%s is in the future", r.At.UTC().Format(time.RFC3339))
	}
	if r.Source != Device && r.Source != Patient {
		return fieldErr("source", "%q is neither %q nor %q", r.Source, Device, Patient)
	}
	if len(r.ID) > 128 {
		return fieldErr("id", "longer than 128 characters")
	}
	for _, c := range r.ID {
		if c < 0x21 || c > 0x7e {
			return fieldErr("id", "only printable ASCII without spaces")
		}
	}
	return nil
}

// plausible checks the canonical reading c; given is the reading as sent,
// so the message quotes the value the sender wrote.
func plausible(c, given Reading) *FieldError {
	if c.Kind == BloodPressure {
		switch {
		case !SystolicLimits.has(float64(c.Systolic)):
			return fieldErr("systolic", "%d mmHg is not a plausible systolic pressure (%s)", c.Systolic, SystolicLimits.text(UnitMmHg))
		case !DiastolicLimits.has(float64(c.Diastolic)):
			return fieldErr("diastolic", "%d mmHg is not a plausible diastolic pressure (%s)", c.Diastolic, DiastolicLimits.text(UnitMmHg))
		case c.Systolic <= c.Diastolic+PulsePressureMin:
			return fieldErr("diastolic", "%d/%d: the systolic must be more than %d above the diastolic", c.Systolic, c.Diastolic, PulsePressureMin)
		}
		return nil
	}
	l := limits[c.Kind]
	if math.IsNaN(c.Value) || !l.has(c.Value) {
		return fieldErr("value", "%s %s is not a plausible %s (%s)", number(given.Value), given.Unit, c.Kind, l.text(CanonicalUnit(c.Kind)))
	}
	return nil
}

// Plausible reports whether the canonical reading r is within the limits.
func Plausible(r Reading) bool { return plausible(r, r) == nil }

func (l Limits) text(unit string) string {
	return number(l.Min) + " to " + number(l.Max) + " " + unit
}

// number writes v with no needless decimals: 82.4, 150, 5.5.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// ValueText is a reading's value as the timeline and messages show it, in
// its unit: "150/95" for blood pressure, "82.4" otherwise.
func (r Reading) ValueText() string {
	if r.Kind == BloodPressure {
		return strconv.Itoa(r.Systolic) + "/" + strconv.Itoa(r.Diastolic)
	}
	return number(r.Value)
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return orList(s)
}

func orList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := ""
	for i, v := range s[:len(s)-1] {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out + " or " + s[len(s)-1]
}
