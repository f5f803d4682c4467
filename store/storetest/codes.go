package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Codes role: single-use codes and Once windows.

func testCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	take := func(code string, now time.Time) (string, error) {
		t.Helper()
		return s.TakeCode(ctx, code, now)
	}
	_, err := take("unknown", t0)
	wantErr(t, "TakeCode of an unknown code", err, store.ErrNotFound)

	noErr(t, "PutCode c1", s.PutCode(ctx, "c1", "p1", at(10*time.Minute)))
	noErr(t, "PutCode c2", s.PutCode(ctx, "c2", "p1", at(10*time.Minute))) // another code, same value
	noErr(t, "PutCode c3", s.PutCode(ctx, "c3", "p2", at(20*time.Minute)))
	noErr(t, "PutCode c4", s.PutCode(ctx, "c4", "p4", at(10*time.Minute)))

	v, err := take("c1", at(5*time.Minute))
	noErr(t, "TakeCode c1", err)
	check(t, "value of c1", v, "p1")
	_, err = take("c1", at(5*time.Minute))
	wantErr(t, "TakeCode of a used code", err, store.ErrNotFound)

	// A code is valid until its expiry and expired at it.
	v, err = take("c2", at(10*time.Minute-time.Nanosecond))
	noErr(t, "TakeCode c2 just before its expiry", err)
	check(t, "value of c2", v, "p1")
	_, err = take("c4", at(10*time.Minute))
	wantErr(t, "TakeCode at the code's expiry", err, store.ErrNotFound)
	_, err = take("c4", at(11*time.Minute))
	wantErr(t, "TakeCode of an expired code, again", err, store.ErrNotFound)

	// A code put again replaces its value and expiry.
	noErr(t, "PutCode c3 again", s.PutCode(ctx, "c3", "p3", at(time.Hour)))
	v, err = take("c3", at(30*time.Minute))
	noErr(t, "TakeCode of a replaced code", err)
	check(t, "value of the replaced c3", v, "p3")

	// An expired code can be put again.
	noErr(t, "PutCode c4 again", s.PutCode(ctx, "c4", "p5", at(2*time.Hour)))
	v, err = take("c4", at(time.Hour))
	noErr(t, "TakeCode of a renewed code", err)
	check(t, "value of the renewed c4", v, "p5")
}

func testCodesConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		codes  = 10
		takers = 8
	)
	for i := range codes {
		noErr(t, "PutCode", s.PutCode(ctx, fmt.Sprint("race-", i), fmt.Sprint("p", i), at(time.Hour)))
	}
	var wins [codes]atomic.Int32
	var wg sync.WaitGroup
	for i := range codes {
		for range takers {
			wg.Go(func() {
				v, err := s.TakeCode(ctx, fmt.Sprint("race-", i), t0)
				switch {
				case err == nil:
					wins[i].Add(1)
					if want := fmt.Sprint("p", i); v != want {
						t.Errorf("TakeCode(race-%d) = %q, want %q", i, v, want)
					}
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("TakeCode(race-%d): %v", i, err)
				}
			})
		}
	}
	wg.Wait()
	for i := range codes {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("code race-%d was taken %d times by %d concurrent takes, want once", i, n, takers)
		}
	}
}

func testOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	// now never goes backwards: a backend may forget keys that expired
	// before the latest now it was given.
	steps := []struct {
		key  string
		now  time.Duration
		want bool
	}{
		{"help:p1", 0, true},
		{"help:p1", 30 * time.Minute, false},
		{"help:p2", 30 * time.Minute, true}, // keys are independent
		{"help:p1", 59 * time.Minute, false},
		{"help:p1", 61 * time.Minute, true},  // the hour from the first call is over
		{"help:p2", 89 * time.Minute, false}, // p2's hour runs from 30m
		{"help:p1", 90 * time.Minute, false}, // a new window started at 61m
		{"help:p2", 91 * time.Minute, true},
		{"help:p1", 122 * time.Minute, true}, // fixed window: the call at 90m did not extend it
	}
	for i, st := range steps {
		got, err := s.Once(ctx, st.key, time.Hour, at(st.now))
		noErr(t, "Once", err)
		if got != st.want {
			t.Errorf("step %d: Once(%s, 1h, t0+%v) = %v, want %v", i, st.key, st.now, got, st.want)
		}
	}
}
