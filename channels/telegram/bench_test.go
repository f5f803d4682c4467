package telegram_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
	"github.com/tendcare/tend/store"
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
		benchmarkInbound(b, channeltest.DurableStore(b))
	})
}

func benchmarkInbound(b *testing.B, st store.Store) {
	const patients = 2000
	r := channeltest.BenchRunner(b, st, "")
	channeltest.EnrollWaiting(b, r, patients, func(i int) store.Patient {
		p := channeltest.Patient(i, telegram.Channel)
		p.SetAddress("telegram", strconv.FormatInt(chatOf(i), 10))
		return p
	})

	fake := telegramtest.NewServer("7000000001:bench")
	defer fake.Close()
	bot, err := telegram.NewBot(fake.Token, fake.URL)
	if err != nil {
		b.Fatal(err)
	}
	hooks := &telegram.Webhooks{Turns: r, Bot: bot, Pack: channeltest.Pack(b), Secret: secret}
	mux := http.NewServeMux()
	mux.Handle("POST "+telegram.WebhookPath, hooks)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := srv.URL + telegram.WebhookPath

	channeltest.Load(b, func(n int64) (*http.Request, func(), error) {
		chat := chatOf(int(n % patients))
		body, err := json.Marshal(&models.Update{ID: n, Message: &models.Message{ID: int(n), Date: int(time.Now().Unix()),
			From: &models.User{ID: chat, FirstName: "Pat"}, Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate}, Text: "2"}})
		if err != nil {
			return nil, nil, err
		}
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(telegram.SecretHeader, secret)
		return req, nil, nil
	})
}

func chatOf(i int) int64 { return 500000000 + int64(i) }
