package sms_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
)

// BenchmarkInboundSMS posts signed inbound webhooks over loopback HTTP, many
// at once, through the whole inbound path: signature check, patient lookup,
// session load, engine turn, rendering, and the embedded store's durable
// (fsync'd, group) commit of session, outbox, events, timer and dedupe key.
// Each reply is "2" to a waiting med-reminder: an adherence event, a reply in
// the outbox and a timer, every time. It reports turns/s and p50/p99 latency.
//
// It runs on the embedded store (durable group commit) and on a redis-server
// the benchmark starts on loopback, sharing the two cores.
func BenchmarkInboundSMS(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkInbound(b, st)
	})
	b.Run("redis", func(b *testing.B) {
		st, err := redisstore.Open(context.Background(), redisstore.Options{URL: "redis://" + redistest.Start(b) + "/0", PoolSize: 256})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkInbound(b, st)
	})
}

func benchmarkInbound(b *testing.B, st store.Store) {
	const (
		patients = 2000
		token    = "0123456789abcdef0123456789abcdef"
	)
	pack, _, err := content.Load(content.Default())
	if err != nil {
		b.Fatal(err)
	}
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		b.Fatal(err)
	}
	r := &conversations.Runner{Store: st, Engine: engine, Clock: time.Now, Quiet: conversations.QuietHours{Off: true},
		Render: &conversations.Renderer{Pack: pack}}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < patients; i += 16 {
				id := fmt.Sprintf("p-%d", i)
				p := store.Patient{ID: id, Phone: phone(i), Language: "en", Timezone: "America/Chicago", Channel: sms.Channel,
					Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
				if _, err := r.Enroll(ctx, p); err != nil {
					b.Error(err)
					return
				}
				if err := r.StartFlow(ctx, id, "med-reminder", []conversations.Param{{Key: "medication", Value: "m"}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	hooks := &sms.Webhooks{Store: st, Turns: r, AuthToken: token, PublicURL: "https://tend.example"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+sms.InboundPath, hooks.Inbound)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}

	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(64) // 128 concurrent webhooks on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			form := smstest.InboundForm(phone(int(n%patients)), "2", fmt.Sprintf("SM%032d", n))
			req, err := smstest.InboundRequest(srv.URL, "https://tend.example", token, form)
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
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "turns/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

func phone(i int) string { return fmt.Sprintf("+1555%07d", 1000000+i) }
