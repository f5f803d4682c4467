package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
)

// fanoutPatients is how many reminders come due in the same minute.
const fanoutPatients = 100_000

// BenchmarkReminderFanout enrolls 100,000 patients whose medication time is
// the same minute, then measures the scheduler turning every due reminder
// into a started flow and an outbox message, on the durable embedded store.
//
// On Redis it also reports the memory 100,000 enrolled patients take
// (used_memory after enrollment, less the empty server's, per patient).
func BenchmarkReminderFanout(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		st, err := embedded.Open(filepath.Join(b.TempDir(), "fanout.db"), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkFanout(b, st, nil)
	})
	b.Run("redis", func(b *testing.B) {
		addr := redistest.Start(b)
		st, err := redisstore.Open(context.Background(), redisstore.Options{URL: "redis://" + addr + "/0", PoolSize: 128})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		rc := goredis.NewClient(&goredis.Options{Addr: addr})
		defer rc.Close()
		benchmarkFanout(b, st, rc)
	})
}

func usedMemory(b *testing.B, rc *goredis.Client) int64 {
	info, err := rc.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	n, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	return n
}

func benchmarkFanout(b *testing.B, st store.Store, rc *goredis.Client) {
	chicago, _ := time.LoadLocation("America/Chicago")
	clock := conversations.NewManualClock(time.Date(2026, 3, 3, 9, 0, 0, 0, chicago))
	e := testEngine(b)
	r := &Runner{Store: st, Engine: e, Clock: clock.Now, Channels: testChannels, Quiet: conversations.DefaultQuietHours(), Render: &conversations.Renderer{Pack: e.Pack}}
	ctx := context.Background()
	var before int64
	if rc != nil {
		before = usedMemory(b, rc)
	}
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
	var perPatient, sessionBytes, patientBytes float64
	if rc != nil {
		// Everything of an enrolled patient: enrollment, session, timers,
		// phone index and the welcome's timeline events.
		perPatient = float64(usedMemory(b, rc)-before) / fanoutPatients
		// An idle patient's session (the welcome flow ended), and all of
		// their keys but the timeline: enrollment, session, timers, phone.
		ctx := context.Background()
		for _, pattern := range []string{"*:ses:f-7", "*:pat:f-7", "*:tm:f-7", "*:ph:+15550000007"} {
			for _, key := range rc.Keys(ctx, pattern).Val() {
				n := float64(rc.MemoryUsage(ctx, key).Val())
				if pattern == "*:ses:f-7" {
					sessionBytes = n
				}
				patientBytes += n
			}
		}
	}
	clock.Set(time.Date(2026, 3, 3, 10, 0, 0, 0, chicago))
	b.ResetTimer()
	fired := 0
	for range b.N {
		fired += r.FireDue(ctx, 64)
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	if fired < fanoutPatients {
		b.Fatalf("fired %d of %d reminders", fired, fanoutPatients)
	}
	if rc != nil {
		b.ReportMetric(perPatient, "redis-bytes/patient-all")
		b.ReportMetric(patientBytes, "patient-keys-bytes")
		b.ReportMetric(sessionBytes, "session-bytes")
	}
	b.ReportMetric(elapsed.Seconds(), "s/100k-reminders")
	b.ReportMetric(float64(fired)/elapsed.Seconds(), "reminders/s")
}
