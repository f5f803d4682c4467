package voice_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
)

// Benchmark shape: 200 calls in progress at once, each a caller who thinks
// between key presses as people do (1 s ± 250 ms, uniform), so the server
// sees about 200 key presses a second spread over time rather than a
// closed loop of back-to-back requests.
const (
	benchCalls = 200
	benchThink = time.Second
	benchJit   = 250 * time.Millisecond
	// benchMinTurns keeps a run long enough for a stable p99 whatever
	// b.N the framework picks (a turn takes about a second of think time,
	// so b.N stays at 1): about 10 s.
	benchMinTurns = 2000
)

// BenchmarkVoiceTurn measures one IVR turn as Twilio sees it: a signed
// <Gather> answer (a key press) posted over loopback HTTP, through the
// signature check, the stale-question check, the engine turn and the
// embedded store's durable (fsync'd, group) commit of session, events and
// timer, to the next TwiML written back. Each call is an inbound call to a
// patient with the heart-failure lesson waiting: think, press 2 (right),
// think, press 4 (how sure: sure), think, press 3 (right), think, press 4
// (sure: the lesson ends, goodbye), hang up, call again.
// Starting the lesson (a runner turn, as the scheduler would) and the
// call's first TwiML are not counted as key presses.
//
// It reports the latency distribution of key presses (p50, p99, max, in
// ms), the latency of the call's first TwiML (answer-p99-ms), and the key
// presses served per second. ns/op is wall time per key press, which the
// think time dominates: it is not a latency.
func BenchmarkVoiceTurn(b *testing.B) {
	const token = "0123456789abcdef0123456789abcdef"
	st := channeltest.DurableStore(b)
	r := channeltest.BenchRunner(b, st, callback)
	ctx := context.Background()
	phone := func(i int) string { return fmt.Sprintf("+1555%07d", 2000000+i) }
	channeltest.Parallel(b, benchCalls, func(i int) error {
		_, err := r.Enroll(ctx, patient(fmt.Sprintf("p-%d", i), phone(i), []string{"en", "es"}[i%2]))
		return err
	})

	hooks := &voice.Webhooks{Turns: r, Pack: r.Render.Pack, AuthToken: token, Callback: callback}
	srv := httptest.NewServer(hooks.Handler())
	defer srv.Close()
	hooks.PublicURL = srv.URL
	client := channeltest.Client()

	// post sends a signed webhook and returns the <Gather> action of the
	// answer ("" when the call ends) and how long the request took.
	post := func(target string, form url.Values) (string, time.Duration, error) {
		req, err := voicetest.SignedRequest(target, token, form)
		if err != nil {
			return "", 0, err
		}
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(t0)
		if err != nil {
			return "", 0, err
		}
		if res.StatusCode != http.StatusOK {
			return "", 0, fmt.Errorf("status %d: %s", res.StatusCode, body)
		}
		doc, err := voicetest.Parse(body)
		if err != nil {
			return "", 0, err
		}
		if g := doc.Find("Gather"); g != nil {
			return g.Attr("action"), took, nil
		}
		return "", took, nil
	}

	target := max(b.N, benchMinTurns)
	var wg sync.WaitGroup
	var turns atomic.Int64
	var failed atomic.Bool
	var mu sync.Mutex
	var lat, answer []time.Duration
	think := func(rng *rand.Rand) {
		time.Sleep(benchThink - benchJit + time.Duration(rng.Int64N(int64(2*benchJit))))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range benchCalls {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			// Calls start spread over one think time, then overlap.
			time.Sleep(time.Duration(rng.Int64N(int64(benchThink))))
			id, from := fmt.Sprintf("p-%d", i), phone(i)
			var mine, answers []time.Duration
			defer func() {
				mu.Lock()
				lat, answer = append(lat, mine...), append(answer, answers...)
				mu.Unlock()
			}()
			fail := func(err error) {
				failed.Store(true)
				b.Error(err)
			}
			for n := 0; turns.Load() < int64(target) && !failed.Load(); n++ {
				// The lesson is waiting (as the scheduler would start it).
				if err := r.StartFlow(ctx, id, "hf-daily-weight", nil); err != nil {
					fail(err)
					return
				}
				form := url.Values{"CallSid": {fmt.Sprintf("CA%08d%024d", i, n)}, "From": {from}, "To": {voiceFrom},
					"CallStatus": {"ringing"}, "Direction": {"inbound"}}
				action, took, err := post(srv.URL+voice.InboundPath, form)
				if err != nil {
					fail(err)
					return
				}
				answers = append(answers, took)
				form.Set("CallStatus", "in-progress")
				for _, key := range []string{"2", "4", "3", "4"} {
					if action == "" {
						fail(errors.New("the call ended before the lesson did"))
						return
					}
					think(rng)
					form.Set("Digits", key)
					action, took, err = post(action, form)
					if err != nil {
						fail(err)
						return
					}
					mine = append(mine, took)
					turns.Add(1)
				}
				if action != "" {
					fail(errors.New("the call goes on after the lesson ended"))
					return
				}
				// Hang up; the next call follows at once, so that every
				// caller always has a call in progress.
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(lat)), "ns/op")
	channeltest.ReportLatency(b, lat, elapsed) // sorts lat
	slices.Sort(answer)
	b.ReportMetric(channeltest.Millis(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(channeltest.Millis(answer[len(answer)*99/100]), "answer-p99-ms")
}
