package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/tendcare/tend/readings"
)

func TestSectionsRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var h History
	h.Add(readings.Reading{ID: "a", Kind: readings.BloodPressure, Systolic: 150, Diastolic: 95, At: now.Add(-time.Hour)}, readings.Watch, "bp-review", now)
	h.Add(readings.Reading{Kind: readings.Weight, Value: 82.4, At: now.Add(-2 * time.Hour)}, readings.Normal, "", now)
	h.Add(readings.Reading{Kind: readings.Weight, Value: 90, At: now.Add(-40 * 24 * time.Hour)}, readings.Normal, "", now) // too old: dropped
	if len(h.Readings) != 2 || h.Readings[0].Kind != readings.Weight {
		t.Fatalf("history %+v: want two, ordered by time", h.Readings)
	}
	data := h.AppendBinary(nil)
	var got History
	if err := DecodeHistory(data, &got); err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("history round trip: %v\n got %+v\nwant %+v", err, got, h)
	}
	if s, ok := got.Lookup("a"); !ok || s.Level != readings.Watch || s.Rule != "bp-review" {
		t.Fatalf("lookup %+v %v", s, ok)
	}
	st := State{Episodes: []Episode{{Condition: "hypertension", Rule: "bp-crisis", Status: Open, Priority: "high", Symptoms: true, Opened: 1, Normals: 2, LastNormal: 3, Closed: 0}},
		Thresholds: []Threshold{{Rule: "bp-crisis", Measure: "systolic", Op: "at_least", Value: 170.5}},
		Snoozes:    []Snooze{{Rule: "hr-watch", Until: 99, Reason: "new medicine"}}, Fired: []Fired{{Rule: "bp-first-high", At: 5}}}
	data = st.AppendBinary(nil)
	var gst State
	if err := DecodeState(data, &gst); err != nil || !reflect.DeepEqual(gst, st) {
		t.Fatalf("state round trip: %v\n got %+v\nwant %+v", err, gst, st)
	}
	for i := 1; i < len(data); i++ {
		if err := DecodeState(data[:i], &gst); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if open := OpenEpisodes(data); len(open) != 1 || open[0].Condition != "hypertension" {
		t.Fatalf("open episodes %+v", open)
	}
}
