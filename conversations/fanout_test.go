package conversations

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// fanoutPatients is how many reminders come due in the same minute.
const fanoutPatients = 100_000

// BenchmarkReminderFanout enrolls 100,000 patients whose medication time is
// the same minute, then measures the scheduler turning every due reminder
// into a started flow and an outbox message, on the durable embedded store.
func BenchmarkReminderFanout(b *testing.B) {
	st, err := embedded.Open(filepath.Join(b.TempDir(), "fanout.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchmarkFanout(b, st)
}

func benchmarkFanout(b *testing.B, st store.Store) {
	chicago, _ := time.LoadLocation("America/Chicago")
	clock := NewManualClock(time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	e := testEngine(b)
	r := &Runner{Store: st, Engine: e, Clock: clock.Now, Quiet: DefaultQuietHours, Render: &Renderer{Pack: e.Pack}}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < fanoutPatients; i += 64 {
				p := store.Patient{ID: fmt.Sprintf("f-%d", i), Phone: fmt.Sprintf("+1555%07d", i), Language: "en",
					Timezone: "America/Chicago", Channel: "sms", Programs: []string{"hypertension"},
					Medications: []store.Medication{{ID: "m", Times: []string{"10:00"}}}}
				if _, err := r.Enroll(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	clock.Set(time.Date(2026, 3, 3, 10, 0, 0, 0, chicago))
	b.ResetTimer()
	start := time.Now()
	fired := 0
	for range b.N {
		fired += r.FireDue(ctx, 64)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if fired < fanoutPatients {
		b.Fatalf("fired %d of %d reminders", fired, fanoutPatients)
	}
	b.ReportMetric(elapsed.Seconds(), "s/100k-reminders")
	b.ReportMetric(float64(fired)/elapsed.Seconds(), "reminders/s")
}
