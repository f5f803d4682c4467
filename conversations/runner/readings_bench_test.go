package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/readings"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// BenchmarkReadingDurable is a home reading committed on the durable
// embedded store (fsync on), one at a time, round-robin over patients:
// load, classify, episode, commit. Compare with an inbound SMS turn
// (issue 11: the same durable throughput); the engine's share is
// conversations.BenchmarkReadingTurn.
func BenchmarkReadingDurable(b *testing.B) {
	st, err := embedded.Open(filepath.Join(b.TempDir(), "readings.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e := testEngine(b)
	r := &Runner{Store: st, Engine: e, Clock: time.Now, Channels: testChannels, Quiet: conversations.QuietHours{Off: true},
		Render: &conversations.Renderer{Pack: e.Pack}}
	ctx := context.Background()
	const patients = 200
	for i := range patients {
		p := store.Patient{ID: fmt.Sprintf("r-%d", i), Phone: fmt.Sprintf("+1555%07d", i), Language: "en", Timezone: "America/Chicago",
			Channel: "sms", Programs: []string{"heart-failure"}}
		if _, err := r.Enroll(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		rd := readings.Reading{Kind: readings.Weight, Value: 80 + float64(i%3)*0.1, Unit: readings.UnitKg, Source: readings.Device}
		if _, err := r.Readings(ctx, fmt.Sprintf("r-%d", i%patients), []readings.Reading{rd}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
