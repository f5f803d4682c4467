package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// BenchmarkInboundTelegram is BenchmarkInboundSMS (channels/sms) on
// Telegram: updates posted over loopback HTTP, many at once, through the
// whole inbound path: secret check, JSON decoding, the per-chat lock, patient
// lookup by chat, session load, engine turn, rendering, and the embedded
// store's durable (fsync'd, group) commit of session, outbox, events, timer
// and dedupe key. Each update is the text "2" to a waiting med-reminder,
// as in the SMS benchmark. It reports turns/s and p50/p99 latency.
func BenchmarkInboundTelegram(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		st, err := embedded.Open(filepath.Join(b.TempDir(), "bench.db"), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkInbound(b, st)
	})
}

func benchmarkInbound(b *testing.B, st store.Store) {
	const patients = 2000
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
				p := store.Patient{ID: id, Telegram: strconv.FormatInt(chatOf(i), 10), Language: "en", Timezone: "America/Chicago",
					Channel: telegram.Channel, Programs: []string{"hypertension"}, Medications: []store.Medication{{ID: "m", Times: []string{"08:00"}}}}
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

	fake := telegramtest.NewServer("7000000001:bench")
	defer fake.Close()
	bot, err := telegram.NewBot(fake.Token, fake.URL)
	if err != nil {
		b.Fatal(err)
	}
	hooks := &telegram.Webhooks{Store: st, Turns: r, Bot: bot, Pack: pack, Secret: secret, Clock: time.Now}
	mux := http.NewServeMux()
	mux.Handle("POST "+telegram.WebhookPath, hooks)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := srv.URL + telegram.WebhookPath
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
			chat := chatOf(int(n % patients))
			body, err := json.Marshal(&models.Update{ID: n, Message: &models.Message{ID: int(n), Date: int(time.Now().Unix()),
				From: &models.User{ID: chat, FirstName: "Pat"}, Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate}, Text: "2"}})
			if err != nil {
				b.Error(err)
				return
			}
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(telegram.SecretHeader, secret)
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

func chatOf(i int) int64 { return 500000000 + int64(i) }
