package sms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/store"
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
		benchmarkInbound(b, channeltest.DurableStore(b))
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
	r := channeltest.BenchRunner(b, st, "")
	channeltest.EnrollWaiting(b, r, patients, func(i int) store.Patient {
		p := channeltest.Patient(i, sms.Channel)
		p.Phone = phone(i)
		return p
	})

	hooks := &sms.Webhooks{Turns: r, AuthToken: token, PublicURL: "https://tend.example"}
	srv := httptest.NewServer(hooks.Handler())
	defer srv.Close()

	channeltest.Load(b, func(n int64) (*http.Request, func(), error) {
		form := smstest.InboundForm(phone(int(n%patients)), "2", fmt.Sprintf("SM%032d", n))
		req, err := smstest.InboundRequest(srv.URL, "https://tend.example", token, form)
		return req, nil, err
	})
}

func phone(i int) string { return fmt.Sprintf("+1555%07d", 1000000+i) }
