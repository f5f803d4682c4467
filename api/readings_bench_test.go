package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/store"
)

// BenchmarkPostReadings posts device weights to POST
// /api/v1/patients/{id}/readings, many at once, over loopback HTTP: auth,
// decoding and validation, session load, classification against the
// patient's baseline, episode, risk, and the embedded store's durable group
// commit. It reports what BenchmarkInboundSMS reports (turns/s, p50/p99),
// so the two compare: issue 11 asks a reading for the durable throughput of
// an inbound SMS turn.
func BenchmarkPostReadings(b *testing.B) {
	const patients = 2000
	st := channeltest.DurableStore(b)
	r := channeltest.BenchRunner(b, st, "")
	channeltest.Parallel(b, patients, func(i int) error {
		p := channeltest.Patient(i, "sms")
		p.Phone = fmt.Sprintf("+1555%07d", i)
		p.Programs = []string{"heart-failure"}
		_, err := r.Enroll(b.Context(), store.Patient(p))
		return err
	})
	a := &api.API{Runner: r, Readings: r, Patients: r, Engine: r.Engine, Token: token}
	srv := httptest.NewServer(a.Routes())
	defer srv.Close()
	channeltest.Load(b, func(n int64) (*http.Request, func(), error) {
		body := fmt.Sprintf(`{"kind":"weight","value":%.1f,"unit":"kg","source":"device"}`, 80+float64(n%3)/10)
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/patients/p-%d/readings", srv.URL, n%patients), strings.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		return req, nil, nil
	})
}
