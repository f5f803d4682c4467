package runner

import (
	"context"
	"fmt"
	"testing"

	"github.com/tendcare/tend/readings"
)

// BenchmarkReadingDurable is a home reading committed on the durable
// embedded store (fsync on), one at a time, round-robin over patients:
// load, classify, episode, commit. Compare with an inbound SMS turn
// (issue 11: the same durable throughput); the engine's share is
// conversations.BenchmarkReadingTurn.
func BenchmarkReadingDurable(b *testing.B) {
	const patients = 200
	r, _ := durableBenchRunner(b, patients, "r-", "heart-failure")
	ctx := context.Background()
	i := 0
	for b.Loop() {
		rd := readings.Reading{Kind: readings.Weight, Value: 80 + float64(i%3)*0.1, Unit: readings.UnitKg, Source: readings.Device}
		if _, err := r.Readings(ctx, fmt.Sprintf("r-%d", i%patients), []readings.Reading{rd}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
