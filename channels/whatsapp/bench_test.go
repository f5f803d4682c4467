package whatsapp_test

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

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// BenchmarkInboundWhatsApp is BenchmarkInboundSMS (channels/sms) on the
// WhatsApp webhook: signed inbound webhooks over loopback HTTP, many at
// once, through signature check, whatsapp: address parsing, patient lookup,
// session load, engine turn (which also opens the window), rendering, and
// the embedded store's durable group commit. Each message answers a waiting
// med-reminder, typed ("2") or as the quick-reply button for "Not yet" with
// its step, so every turn records adherence, queues a reply and sets a
// timer. It reports turns/s and p50/p99 latency, to compare with SMS.
func BenchmarkInboundWhatsApp(b *testing.B) {
	for _, mode := range []string{"embedded", "embedded-button"} {
		b.Run(mode, func(b *testing.B) {
			st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchmarkInbound(b, st, mode == "embedded-button")
		})
	}
}

func benchmarkInbound(b *testing.B, st store.Store, button bool) {
	const (
		patients = 2000
		token    = "0123456789abcdef0123456789abcdef"
		public   = "https://tend.example"
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
				p := store.Patient{ID: id, Phone: phone(i), Language: "en", Timezone: "America/Chicago", Channel: whatsapp.Channel,
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

	var stale atomic.Int64
	hooks := &whatsapp.Webhooks{Store: st, Turns: r, AuthToken: token, PublicURL: public, Observe: func(outcome string) {
		if outcome == "stale" {
			stale.Add(1)
		}
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+whatsapp.InboundPath, hooks.Inbound)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}

	// The step of each patient's waiting question: "Not yet" enters the
	// reminder's waiting state again, one step on. A patient's next press
	// comes 2000 messages later, after this one's answer in practice; a
	// press that still raced it would be stale (a lighter turn), and the
	// stale count is reported.
	var steps []atomic.Uint32
	if button {
		steps = make([]atomic.Uint32, patients)
		for i := range patients {
			rep, err := r.Prompt(ctx, fmt.Sprintf("p-%d", i))
			if err != nil || len(rep.Messages) == 0 {
				b.Fatalf("patient %d: no waiting question (%v)", i, err)
			}
			steps[i].Store(rep.Messages[0].Step)
		}
	}

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
			i := int(n % patients)
			form := smstest.WhatsAppForm(phone(i), "2", fmt.Sprintf("SM%032d", n))
			var step uint32
			if button {
				step = steps[i].Load()
				form = smstest.WhatsAppButtonForm(phone(i), "Not yet", whatsapp.Payload("not_yet", step), fmt.Sprintf("SM%032d", n))
			}
			req, err := smstest.SignedRequest(srv.URL+whatsapp.InboundPath, public+whatsapp.InboundPath, token, form)
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
			if button {
				steps[i].CompareAndSwap(step, step+1)
			}
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
		if button {
			b.ReportMetric(float64(stale.Load()), "stale")
		}
	}
}

func phone(i int) string { return fmt.Sprintf("+1555%07d", 1000000+i) }
