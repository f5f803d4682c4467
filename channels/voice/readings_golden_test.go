package voice_test

import (
	"path/filepath"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/internal/golden"
	"github.com/tendcare/tend/readings"
)

// TestGoldenConfirmCalls: a device reading at alert level on a patient
// whose calls come first places the confirm question as a call. Pressing 1
// (symptoms) for a blood pressure crisis is the safety reply; pressing 2
// asks to measure again. Checked in every bundled language against
// testdata/<lang>/confirm-*.txt (go test ./channels/voice -update).
func TestGoldenConfirmCalls(t *testing.T) {
	t.Parallel()
	pack := channeltest.Pack(t)
	cases := []struct {
		name    string
		reading readings.Reading
		press   string
	}{
		{"confirm-bp-yes", readings.Reading{Kind: readings.BloodPressure, Systolic: 185, Diastolic: 100, Unit: readings.UnitMmHg, Source: readings.Device}, "1"},
		{"confirm-bp-no", readings.Reading{Kind: readings.BloodPressure, Systolic: 185, Diastolic: 100, Unit: readings.UnitMmHg, Source: readings.Device}, "2"},
		{"confirm-spo2-yes", readings.Reading{Kind: readings.SpO2, Value: 90, Unit: readings.UnitPercent, Source: readings.Device}, "1"},
		{"confirm-glucose-low-no", readings.Reading{Kind: readings.Glucose, Value: 50, Unit: readings.UnitMgDL, Source: readings.Device}, "2"},
	}
	for _, lang := range pack.Languages {
		for _, c := range cases {
			t.Run(lang+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, withNurse)
				e.enroll(patient("p-1", patientPhone, lang))
				if _, err := e.Runner.Readings(t.Context(), "p-1", []readings.Reading{c.reading}); err != nil {
					t.Fatal(err)
				}
				call := e.dispatch(0)
				caller := e.fake.Answer(t, call, voicetest.Human)
				if caller.Gather() == nil {
					t.Fatal("the confirm call asks nothing")
				}
				caller.Press(c.press)
				golden.Compare(t, filepath.Join("testdata", lang, c.name+".txt"), header(call)+caller.Transcript(e.srv.URL))
			})
		}
	}
}
