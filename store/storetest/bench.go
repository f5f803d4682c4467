package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// BenchCommit measures commits of typical turns, each goroutine on its own
// patient, so that every backend is measured the same way: ns/op is the
// time per commit across all goroutines, and commits/s is reported.
func BenchCommit(b *testing.B, s store.Store, workers int) {
	ctx := b.Context()
	for w := range workers {
		id := fmt.Sprintf("p%03d", w)
		p := store.Patient{ID: id, Phone: fmt.Sprintf("+1555000%04d", w), Language: "en", Timezone: "America/Chicago"}
		if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("enrolled")}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("p%03d", w)
			for v := uint64(1); next.Add(1) <= int64(b.N); v++ {
				if err := s.Commit(ctx, TypicalTurn(id, v)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// TypicalTurn is a typical turn: an answer, its reply, the reply in the
// outbox, a moved timer, the provider's dedupe key.
func TypicalTurn(id string, v uint64) store.Commit {
	at := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(v) * time.Minute)
	tag := fmt.Sprintf("%s-%d", id, v)
	text := "Thanks! Did you take your evening medicine? Reply 1 for yes, 2 for no."
	return store.Commit{
		PatientID: id,
		Version:   v,
		Session:   []byte("\x01\x02enmed-reminder\x03ask"),
		DedupeKey: "SM" + tag,
		Events: []store.Event{
			{ID: "in-" + tag, Type: "message.in", At: at, Channel: "sms", Text: "1"},
			{ID: "out-" + tag, Type: "message.out", At: at, Channel: "sms", Text: text, Status: "queued", Flow: "med-reminder"},
		},
		Outbox: []store.OutboxEntry{{
			ID: "out-" + tag, PatientID: id, Channel: "sms", To: "+15550001234", Text: text,
			Choices: []string{"taken", "not_yet"}, Timezone: "America/Chicago", Reply: true, NotBefore: at, CreatedAt: at,
		}},
		SetTimers: []store.Timer{{PatientID: id, Name: "flow", Due: at.Add(2 * time.Hour)}},
	}
}
