package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tendcare/tend/readings"
)

// Systems of the codes Tend reads.
const (
	LOINC = "http://loinc.org"
	UCUM  = "http://unitsofmeasure.org"
)

// LOINC codes of the readings Tend reads, with the unit a value comes in
// when its Quantity names none Tend knows (15074-8 is glucose in mmol/L).
var loincKinds = map[string]readings.Kind{
	"29463-7": readings.Weight,        // Body weight
	"85354-9": readings.BloodPressure, // Blood pressure panel
	"8867-4":  readings.HeartRate,     // Heart rate
	"2339-0":  readings.Glucose,       // Glucose [Mass/volume] in Blood
	"41653-7": readings.Glucose,       // Glucose [Mass/volume] in Capillary blood by Glucometer
	"15074-8": readings.Glucose,       // Glucose [Moles/volume] in Blood
	"59408-5": readings.SpO2,          // Oxygen saturation by pulse oximetry
	"2708-6":  readings.SpO2,          // Oxygen saturation in Arterial blood
}

// Blood pressure components.
const (
	loincSystolic  = "8480-6"
	loincDiastolic = "8462-4"
)

// ucumUnits maps a Quantity's UCUM code, or failing that its unit text,
// to Tend's unit.
var ucumUnits = map[string]string{
	"mm[Hg]":      readings.UnitMmHg,
	"mmHg":        readings.UnitMmHg,
	"kg":          readings.UnitKg,
	"[lb_av]":     readings.UnitLb,
	"lb":          readings.UnitLb,
	"lbs":         readings.UnitLb,
	"mg/dL":       readings.UnitMgDL,
	"mmol/L":      readings.UnitMmolL,
	"g/L":         readings.UnitGL,
	"%":           readings.UnitPercent,
	"/min":        readings.UnitPerMin,
	"{beats}/min": readings.UnitPerMin,
	"beats/min":   readings.UnitPerMin,
	"bpm":         readings.UnitPerMin,
}

// observation is the part of an R4 Observation Tend reads; the schema has
// checked the rest.
type observation struct {
	ResourceType      string       `json:"resourceType"`
	Identifier        []identifier `json:"identifier"`
	Status            string       `json:"status"`
	Code              concept      `json:"code"`
	Subject           *reference   `json:"subject"`
	EffectiveDateTime string       `json:"effectiveDateTime"`
	EffectiveInstant  string       `json:"effectiveInstant"`
	EffectivePeriod   *struct {
		Start string `json:"start"`
	} `json:"effectivePeriod"`
	Performer     []reference `json:"performer"`
	Device        *reference  `json:"device"`
	ValueQuantity *quantity   `json:"valueQuantity"`
	Component     []component `json:"component"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type reference struct {
	Reference string `json:"reference"`
}

type quantity struct {
	Value  *json.Number `json:"value"`
	Unit   string       `json:"unit"`
	System string       `json:"system"`
	Code   string       `json:"code"`
}

type component struct {
	Code          concept   `json:"code"`
	ValueQuantity *quantity `json:"valueQuantity"`
}

// loinc returns the first LOINC code of c that is in known, or "".
func (c concept) loinc(known func(string) bool) string {
	for _, cd := range c.Coding {
		if cd.System == LOINC && known(cd.Code) {
			return cd.Code
		}
	}
	return ""
}

// Reading is an Observation read: the patient it is about and the
// reading, validated and ready for the Runner, and the resource as
// received (decoded), to echo in the 201.
type Reading struct {
	PatientID string
	Reading   readings.Reading
	Resource  map[string]any
}

// statuses Tend records: a reading still preliminary (not confirmed by
// the device's user) is still a reading; cancelled, entered-in-error and
// registered (no result yet) are not.
var statuses = map[string]bool{"preliminary": true, "final": true, "amended": true, "corrected": true}

// ReadObservation reads an R4 Observation of a vital sign: the body of
// POST /fhir/Observation. now stamps a reading with no effective time and
// bounds one in the future. Any error is an *Error holding the
// OperationOutcome to answer with a 400; nothing of a refused Observation
// is to be recorded.
func ReadObservation(body []byte, now time.Time) (Reading, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return Reading{}, issue("structure", "", "not JSON: "+err.Error())
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return Reading{}, issue("structure", "", "not a JSON object")
	}
	if rt, _ := m["resourceType"].(string); rt != "Observation" {
		return Reading{}, issue("not-supported", "resourceType", fmt.Sprintf("resourceType is %q: this endpoint takes an Observation", rt))
	}
	if err := validate("Observation", doc); err != nil {
		return Reading{}, err
	}
	var o observation
	if err := json.Unmarshal(body, &o); err != nil {
		// The schema passed, so this is a value Go cannot hold.
		return Reading{}, issue("value", "Observation", err.Error())
	}
	out := Reading{Resource: m}

	switch {
	case o.Status == "":
		return out, issue("required", "Observation.status", "missing (final, amended, corrected or preliminary)")
	case !statuses[o.Status]:
		return out, issue("not-supported", "Observation.status", fmt.Sprintf("%q: Tend records final, amended, corrected or preliminary readings", o.Status))
	}

	if o.Subject == nil || o.Subject.Reference == "" {
		return out, issue("required", "Observation.subject", "missing: the Patient/{id} the reading is of")
	}
	id, ok := patientID(o.Subject.Reference)
	if !ok {
		return out, issue("value", "Observation.subject.reference", fmt.Sprintf("%q is not a Patient reference (Patient/{id})", o.Subject.Reference))
	}
	out.PatientID = id

	code := o.Code.loinc(func(c string) bool { _, ok := loincKinds[c]; return ok })
	if code == "" {
		return out, issue("code-invalid", "Observation.code", "no LOINC code Tend reads (29463-7 weight, 85354-9 blood pressure, 8867-4 heart rate, 2339-0, 41653-7 or 15074-8 glucose, 59408-5 or 2708-6 oxygen saturation)")
	}
	r := readings.Reading{Kind: loincKinds[code], Source: readings.Device}
	for _, p := range o.Performer {
		if strings.HasPrefix(p.Reference, "Patient/") || strings.Contains(p.Reference, "/Patient/") {
			// Typed by the patient (US Core: performer is the Patient).
			r.Source = readings.Patient
		}
	}
	if o.Device != nil {
		r.Source = readings.Device
	}
	// Where each field of the reading came from, for errors.
	where := map[string]string{
		"kind":   "Observation.code",
		"source": "Observation.performer",
	}
	for i, id := range o.Identifier {
		// The sender's identifier makes a second POST of the same
		// Observation a duplicate, recorded once.
		if id.Value != "" {
			r.ID = id.Value
			where["id"] = fmt.Sprintf("Observation.identifier[%d].value", i)
			break
		}
	}
	switch {
	case o.EffectiveDateTime != "":
		where["at"] = "Observation.effectiveDateTime"
		r.At, err = parseTime(o.EffectiveDateTime)
	case o.EffectiveInstant != "":
		where["at"] = "Observation.effectiveInstant"
		r.At, err = parseTime(o.EffectiveInstant)
	case o.EffectivePeriod != nil && o.EffectivePeriod.Start != "":
		where["at"] = "Observation.effectivePeriod.start"
		r.At, err = parseTime(o.EffectivePeriod.Start)
	default:
		r.At = now
	}
	if err != nil {
		return out, issue("value", where["at"], err.Error())
	}

	if r.Kind == readings.BloodPressure {
		for _, part := range []struct {
			loinc, field string
			v            *int
		}{{loincSystolic, "systolic", &r.Systolic}, {loincDiastolic, "diastolic", &r.Diastolic}} {
			i := -1
			for j, c := range o.Component {
				if c.Code.loinc(func(s string) bool { return s == part.loinc }) != "" {
					i = j
					break
				}
			}
			if i < 0 {
				return out, issue("required", "Observation.component", fmt.Sprintf("no %s component (LOINC %s)", part.field, part.loinc))
			}
			at := fmt.Sprintf("Observation.component[%d].valueQuantity", i)
			v, unit, e := readQuantity(o.Component[i].ValueQuantity, at)
			if e != nil {
				return out, e
			}
			if v != math.Trunc(v) {
				return out, issue("value", at+".value", fmt.Sprintf("%v: a %s pressure is a whole number of mmHg", v, part.field))
			}
			*part.v, r.Unit = int(v), unit
			where[part.field] = at + ".value"
			where["unit"] = at + ".code"
		}
	} else {
		if o.ValueQuantity == nil {
			return out, issue("required", "Observation.valueQuantity", "missing: the reading's value and unit")
		}
		v, unit, e := readQuantity(o.ValueQuantity, "Observation.valueQuantity")
		if e != nil {
			return out, e
		}
		if unit == "" && code == "15074-8" {
			unit = readings.UnitMmolL
		}
		r.Value, r.Unit = v, unit
		where["value"] = "Observation.valueQuantity.value"
		where["unit"] = "Observation.valueQuantity.code"
	}

	if err := readings.Validate(r, now); err != nil {
		var fe *readings.FieldError
		if errors.As(err, &fe) {
			code := "value"
			if strings.HasPrefix(fe.Problem, "missing") {
				code = "required"
			}
			return out, issue(code, where[fe.Field], fe.Problem)
		}
		return out, issue("invalid", "Observation", err.Error())
	}
	out.Reading = readings.Canonical(r)
	return out, nil
}

// readQuantity returns a Quantity's value and Tend's name of its unit
// ("" when it names none; Validate then says the unit is missing).
func readQuantity(q *quantity, at string) (float64, string, error) {
	if q == nil {
		return 0, "", issue("required", at, "missing: the value and unit")
	}
	if q.Value == nil {
		return 0, "", issue("required", at+".value", "missing")
	}
	v, err := q.Value.Float64()
	if err != nil {
		return 0, "", issue("value", at+".value", err.Error())
	}
	unit := ""
	switch {
	case q.Code != "":
		u, ok := ucumUnits[q.Code]
		if !ok {
			return 0, "", issue("value", at+".code", fmt.Sprintf("%q is not a unit Tend reads (UCUM mm[Hg], kg, [lb_av], mg/dL, mmol/L, %%, /min)", q.Code))
		}
		unit = u
	case q.Unit != "":
		u, ok := ucumUnits[q.Unit]
		if !ok {
			return 0, "", issue("value", at+".unit", fmt.Sprintf("%q is not a unit Tend reads (UCUM mm[Hg], kg, [lb_av], mg/dL, mmol/L, %%, /min)", q.Unit))
		}
		unit = u
	}
	return v, unit, nil
}

// patientID reads "Patient/{id}" (or an absolute URL ending so).
func patientID(ref string) (string, bool) {
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id := ref[i+len("Patient/"):]
	if k := strings.Index(id, "/_history/"); k >= 0 {
		id = id[:k]
	}
	if id == "" || strings.ContainsAny(id, "/?#") {
		return "", false
	}
	return id, true
}

// parseTime reads a FHIR dateTime or instant. The schema has checked its
// form; a date without a time is the start of that day in UTC, the best a
// sender who gave no time allows.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

// Interpretation codes (v3-ObservationInterpretation) for a reading's
// classification: N normal, A abnormal, AA critical abnormal. Tend's
// classes say how urgent, not high or low, so H and L are not used.
var interpretations = map[readings.Level]string{
	readings.Normal: "N",
	readings.Watch:  "A",
	readings.Alert:  "A",
	readings.Acute:  "AA",
}

// Created is the resource to answer a 201 with: the Observation as
// received, with the id Tend gave it and the classification as its
// interpretation.
func (r Reading) Created(id string, level readings.Level) map[string]any {
	out := make(map[string]any, len(r.Resource)+2)
	for k, v := range r.Resource {
		out[k] = v
	}
	out["id"] = id
	if code, ok := interpretations[level]; ok {
		out["interpretation"] = []any{map[string]any{
			"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
				"code":   code,
			}},
			"text": string(level),
		}}
	}
	return out
}
