package readings

import "time"

// Kind is what a reading measures. The names are the API's.
type Kind string

const (
	BloodPressure Kind = "blood_pressure"
	Weight        Kind = "weight"
	Glucose       Kind = "glucose"
	SpO2          Kind = "spo2"
	HeartRate     Kind = "heart_rate"
)

// Kinds are every kind Tend knows, in the order lint and docs list them.
var Kinds = []Kind{BloodPressure, Weight, Glucose, SpO2, HeartRate}

// Canonical units: a reading is stored and classified in these; other
// units are converted when the reading is made (lb to kg, mmol/L to mg/dL).
const (
	UnitMmHg  = "mmHg"
	UnitKg    = "kg"
	UnitLb    = "lb"
	UnitMgDL  = "mg/dL"
	UnitMmolL = "mmol/L"
	// UnitGL is grams per litre: how France, Belgium and North Africa
	// write glucose ("glycémie 1,20 g/L" is 120 mg/dL).
	UnitGL      = "g/L"
	UnitPercent = "%"
	UnitPerMin  = "/min"
)

// Source says where a reading came from: device-transmitted and
// patient-reported days are counted apart (remote-monitoring billing needs
// device days), so every reading keeps it.
type Source string

const (
	Device  Source = "device"
	Patient Source = "patient"
)

// Level is a reading's classification by the rules.
type Level string

const (
	Normal Level = "normal"
	Watch  Level = "watch"
	Alert  Level = "alert"
	Acute  Level = "acute"
)

// Reading is one measurement. Blood pressure uses Systolic and Diastolic;
// every other kind uses Value, in the kind's canonical unit.
type Reading struct {
	// ID is the sender's identifier, when it gave one: a reading posted
	// again with the same ID is recorded once.
	ID        string
	Kind      Kind
	Systolic  int
	Diastolic int
	Value     float64
	Unit      string
	At        time.Time
	Source    Source
}

// Outcome is what became of one reading handed to the Runner: its
// classification, the rule that gave it, and whether it was a duplicate
// of one recorded before (same ID), in which case nothing new happened.
type Outcome struct {
	ID        string `json:"id,omitempty"`
	Level     Level  `json:"classification"`
	Rule      string `json:"rule,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}
