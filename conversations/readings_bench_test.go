package conversations

import (
	"testing"
	"time"

	"github.com/tendcare/tend/readings"
)

// BenchmarkReadingTurn is the engine time of a reading: the sections
// decoded, classified against a month of history (personal baselines),
// the episode life-cycle, the sections encoded again, and the session
// encoded as the Runner stores it. Target: 20 µs (issue 11).
func BenchmarkReadingTurn(b *testing.B) {
	e := simEngine(b)
	var s Session
	start := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	var out Output
	conds := []string{"hypertension", "heart-failure"}
	// A month of daily weights and blood pressures.
	for d := range 30 {
		at := start.Add(time.Duration(d) * 24 * time.Hour)
		for _, r := range []readings.Reading{{Kind: readings.Weight, Value: 80 + 0.1*float64(d%3), Unit: readings.UnitKg, At: at},
			{Kind: readings.BloodPressure, Systolic: 128, Diastolic: 82, Unit: readings.UnitMmHg, At: at}} {
			if err := e.Turn(&s, Input{Kind: Reading, Reading: &r, Conditions: conds}, at, &out); err != nil {
				b.Fatal(err)
			}
		}
	}
	data, _ := s.AppendBinary(nil)
	now := start.Add(30 * 24 * time.Hour)
	r := readings.Reading{Kind: readings.Weight, Value: 80.1, Unit: readings.UnitKg, At: now}
	benchStoredTurn(b, e, data, Input{Kind: Reading, Reading: &r, Conditions: conds}, now)
}
