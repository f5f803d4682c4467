package whatsapp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/store"
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
			benchmarkInbound(b, channeltest.DurableStore(b), mode == "embedded-button")
		})
	}
}

func benchmarkInbound(b *testing.B, st store.Store, button bool) {
	const (
		patients = 2000
		token    = "0123456789abcdef0123456789abcdef"
		public   = "https://tend.example"
	)
	r := channeltest.BenchRunner(b, st, "")
	channeltest.EnrollWaiting(b, r, patients, func(i int) store.Patient {
		p := channeltest.Patient(i, whatsapp.Channel)
		p.Phone = phone(i)
		return p
	})

	var stale atomic.Int64
	hooks := &whatsapp.Webhooks{Turns: r, AuthToken: token, PublicURL: public, Observe: func(outcome string) {
		if outcome == "stale" {
			stale.Add(1)
		}
	}}
	srv := httptest.NewServer(hooks.Handler())
	defer srv.Close()

	// The step of each patient's waiting question: "Not yet" enters the
	// reminder's waiting state again, one step on. A patient's next press
	// comes 2000 messages later, after this one's answer in practice; a
	// press that still raced it would be stale (a lighter turn), and the
	// stale count is reported.
	var steps []atomic.Uint32
	if button {
		steps = make([]atomic.Uint32, patients)
		for i := range patients {
			rep, err := r.Prompt(context.Background(), fmt.Sprintf("p-%d", i))
			if err != nil || len(rep.Messages) == 0 {
				b.Fatalf("patient %d: no waiting question (%v)", i, err)
			}
			steps[i].Store(rep.Messages[0].Step)
		}
	}

	channeltest.Load(b, func(n int64) (*http.Request, func(), error) {
		i := int(n % patients)
		form := smstest.WhatsAppForm(phone(i), "2", fmt.Sprintf("SM%032d", n))
		var answered func()
		if button {
			step := steps[i].Load()
			form = smstest.WhatsAppButtonForm(phone(i), "Not yet", whatsapp.Payload("not_yet", step), fmt.Sprintf("SM%032d", n))
			answered = func() { steps[i].CompareAndSwap(step, step+1) }
		}
		req, err := smstest.SignedRequest(srv.URL+whatsapp.InboundPath, public+whatsapp.InboundPath, token, form)
		return req, answered, err
	})
	if button {
		b.ReportMetric(float64(stale.Load()), "stale")
	}
}

func phone(i int) string { return fmt.Sprintf("+1555%07d", 1000000+i) }
