package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/live"
	"github.com/tendcare/tend/store/redis/redistest"
)

// A burst on one ticket is one change; a slow reader overflows into "refresh
// everything" instead of stalling the publisher.
func TestHubCoalesces(t *testing.T) {
	var h live.Hub
	s := h.Subscribe()
	defer s.Close()
	for range 100 {
		h.Publish(live.Change{Ticket: "t1", Team: "north"})
	}
	<-s.Ready()
	got, all := s.Take()
	if len(got) != 1 || got[0] != (live.Change{Ticket: "t1", Team: "north"}) || all {
		t.Fatalf("Take = %v %v, want one change", got, all)
	}
	for i := range 5000 {
		h.Publish(live.Change{Ticket: fmt.Sprint(i), Team: "north"})
	}
	if got, all := s.Take(); !all || len(got) == 0 {
		t.Fatalf("after 5000 changes: %d changes, overflow %v; want overflow", len(got), all)
	}
	s.Close()
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after Close", n)
	}
}

// Two replicas on one Redis: a change published on one reaches the pages
// of both.
func TestBusAcrossReplicas(t *testing.T) {
	addr := redistest.Start(t)
	var hubs [2]live.Hub
	subs := [2]*live.Sub{hubs[0].Subscribe(), hubs[1].Subscribe()}
	var buses [2]*live.Bus
	for i := range buses {
		client := goredis.NewClient(&goredis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		buses[i] = live.NewBus(client, "test:live", &hubs[i], nil)
		go buses[i].Run(t.Context())
	}
	// Each bus says "refresh all" once subscribed.
	for _, s := range subs {
		waitFor(t, s, func(_ []live.Change, all bool) bool { return all })
	}
	buses[0].Publish(live.Change{Ticket: "t9", Team: "south"})
	for _, s := range subs {
		waitFor(t, s, func(cs []live.Change, _ bool) bool {
			return len(cs) == 1 && cs[0].Ticket == "t9" && cs[0].Team == "south"
		})
	}
}

func waitFor(t *testing.T, s *live.Sub, ok func([]live.Change, bool) bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case <-s.Ready():
			if ok(s.Take()) {
				return
			}
		case <-timeout:
			t.Fatal("no change within 5 s")
		}
	}
}

// Run returns when its context ends, even while its read waits on Redis
// (a server's shutdown waits for it).
func TestBusStops(t *testing.T) {
	addr := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	defer client.Close()
	var hub live.Hub
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { live.NewBus(client, "test:live", &hub, nil).Run(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
	}
}
