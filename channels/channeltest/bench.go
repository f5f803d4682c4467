package channeltest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// BenchRunner returns a runner on st as the benchmarks run it: on the
// bundled pack rendered with helpContact, on the wall clock, with no quiet
// hours (no turn is held back) and nothing logged.
func BenchRunner(tb testing.TB, st store.Store, helpContact string) *runner.Runner {
	tb.Helper()
	pack := Pack(tb)
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		tb.Fatal(err)
	}
	return &runner.Runner{Store: st, Engine: engine, Clock: time.Now, Quiet: conversations.QuietHours{Off: true}, Channels: Channels,
		Render: &conversations.Renderer{Pack: pack, HelpContact: helpContact}}
}

// Parallel calls do(i) for every i in [0, n) from 16 goroutines, so that
// a benchmark's thousands of enrollments take seconds; an error fails tb
// and stops its goroutine.
func Parallel(tb testing.TB, n int, do func(i int) error) {
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if err := do(i); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Patient is benchmark patient i, "p-<i>", on a channel: English, in
// Chicago, on the hypertension program, with one medication "m" at 08:00.
// The caller sets the address the channel reaches it at.
func Patient(i int, channel string) store.Patient {
	return store.Patient{ID: fmt.Sprintf("p-%d", i), Language: "en", Timezone: "America/Chicago", Channel: channel,
		Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
}

// EnrollWaiting enrolls n patients, patient(0) to patient(n-1), and starts
// a med-reminder of "m" for each, so that every one has the reminder's
// question waiting: an answer to it ("2", not yet) records adherence,
// queues a reply and sets a timer, every time.
func EnrollWaiting(tb testing.TB, r *runner.Runner, n int, patient func(i int) store.Patient) {
	ctx := context.Background()
	Parallel(tb, n, func(i int) error {
		p := patient(i)
		if _, err := r.Enroll(ctx, p); err != nil {
			return err
		}
		return r.StartFlow(ctx, p.ID, "med-reminder", []conversations.Param{{Key: "medication", Value: "m"}})
	})
}

// Client is an HTTP client that keeps an idle loopback connection for
// every request a benchmark has in flight, so that connection set-up is
// not measured.
func Client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}
}

// Load runs the closed loop of the inbound benchmarks: b.N webhooks from
// 64 goroutines per CPU (128 in flight on the 2 cores the numbers are
// taken on), each sent as soon as the goroutine's previous one was
// answered. next builds the n-th request (n counts from 1) and may return
// a function to call once Tend answered it 2xx (200, or 201 for an API
// create). Any other answer fails the benchmark. The latency of a webhook is from sending it to reading its
// answer; building and signing it is not counted. Load reports what
// ReportLatency reports.
func Load(b *testing.B, next func(n int64) (req *http.Request, answered func(), err error)) {
	client := Client()
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(64)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, answered, err := next(seq.Add(1))
			if err != nil {
				b.Error(err)
				return
			}
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode/100 != 2 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
			if answered != nil {
				answered()
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	ReportLatency(b, lat, elapsed)
}

// ReportLatency reports the metrics every channel's benchmark reports, so
// that they compare: turns/s (how many turns lat holds, over elapsed), and
// the median and 99th percentile of lat in milliseconds (p50-ms, p99-ms).
// It sorts lat. With no latencies it reports nothing.
func ReportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "turns/s")
	b.ReportMetric(Millis(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(Millis(lat[len(lat)*99/100]), "p99-ms")
}

// Millis is d in milliseconds, to the microsecond: the unit of the
// latency metrics.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
