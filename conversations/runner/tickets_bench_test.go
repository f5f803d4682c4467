package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// BenchmarkClaimReply measures a coach's claim and reply (issue 10: p99
// under 20 ms each) on the durable embedded store: each iteration claims
// another patient's ticket and sends one reply, as a coach working the
// inbox does.
func BenchmarkClaimReply(b *testing.B) {
	const patients = 2000
	ctx := context.Background()
	r, st := durableBenchRunner(b, patients, "c-", "hypertension")
	for i := range patients {
		id := fmt.Sprintf("c-%d", i)
		if _, err := r.Receive(ctx, id, Message{Channel: "sms", Text: "HUMAN", Dedupe: id}); err != nil {
			b.Fatal(err)
		}
	}
	open, err := st.Escalations(ctx, store.TicketOpen)
	if err != nil || len(open) < patients {
		b.Fatalf("%d open tickets, %v", len(open), err)
	}
	var claims, replies []time.Duration
	i := 0
	for b.Loop() {
		t := open[i%len(open)]
		i++
		t0 := time.Now()
		if _, err := r.Claim(ctx, t.ID, "coach@clinic.org"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := r.Reply(ctx, t.ID, "coach@clinic.org", "Hi, this is your coach. How are you today?", fmt.Sprint("r", i)); err != nil {
			b.Fatal(err)
		}
		claims, replies = append(claims, t1.Sub(t0)), append(replies, time.Since(t1))
	}
	for _, m := range []struct {
		name string
		lat  []time.Duration
	}{{"claim", claims}, {"reply", replies}} {
		slices.Sort(m.lat)
		b.ReportMetric(float64(m.lat[len(m.lat)/2].Microseconds())/1000, m.name+"-p50-ms")
		b.ReportMetric(float64(m.lat[len(m.lat)*99/100].Microseconds())/1000, m.name+"-p99-ms")
	}
}

// durableBenchRunner is a Runner on a durable (fsync'd) embedded store in
// b's temporary folder, with n patients enrolled on program, ids prefix0
// to prefix<n-1>: the set-up of the benchmarks that measure commits.
func durableBenchRunner(b *testing.B, n int, prefix, program string) (*Runner, *embedded.Store) {
	b.Helper()
	st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e := testEngine(b)
	r := &Runner{Store: st, Engine: e, Clock: time.Now, Channels: testChannels, Quiet: conversations.QuietHours{Off: true},
		Render: &conversations.Renderer{Pack: e.Pack}}
	for i := range n {
		p := store.Patient{ID: fmt.Sprintf("%s%d", prefix, i), Phone: fmt.Sprintf("+1555%07d", i), Language: "en", Timezone: "America/Chicago",
			Channel: "sms", Programs: []string{program}}
		if _, err := r.Enroll(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
	return r, st
}
