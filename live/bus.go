package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Bus carries changes between replicas over one Redis pub/sub channel.
// Publish queues for Redis and returns at once (the Runner calls it under a
// patient's lock); Run sends the queue and hears every replica's changes,
// its own included, and hands them to the Hub. Pub/sub delivers at most
// once: after a reconnect Run tells every subscriber to refresh
// everything, since changes may have passed while it was away.
type Bus struct {
	client  goredis.UniversalClient
	channel string
	hub     *Hub
	log     *slog.Logger
	out     chan Change
}

// NewBus returns a bus on channel; Run it.
func NewBus(client goredis.UniversalClient, channel string, hub *Hub, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.Default()
	}
	return &Bus{client: client, channel: channel, hub: hub, log: log, out: make(chan Change, 4096)}
}

// Publish queues c for every replica. When the queue is full (Redis is
// slow or away), the replica's own subscribers still hear of it.
func (b *Bus) Publish(c Change) {
	select {
	case b.out <- c:
	default:
		b.hub.Publish(c)
	}
}

// Run sends and listens until ctx ends.
func (b *Bus) Run(ctx context.Context) {
	go b.send(ctx)
	ps := b.client.Subscribe(ctx, b.channel)
	defer ps.Close()
	// A read blocked on the connection does not see ctx end; closing the
	// subscription ends it, so a shutting-down server is not held.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			b.hub.Publish(Change{}) // (re)subscribed: refresh all
		case *goredis.Message:
			var c Change
			if json.Unmarshal([]byte(m.Payload), &c) == nil {
				b.hub.Publish(c)
			}
		}
		if err != nil {
			b.log.Warn("live changes: redis subscription lost; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func (b *Bus) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-b.out:
			data, _ := json.Marshal(c)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := b.client.Publish(pctx, b.channel, data).Err()
			cancel()
			if err != nil && ctx.Err() == nil {
				b.log.Warn("live change not published; this replica's pages only", "err", err)
				b.hub.Publish(c)
			}
		}
	}
}
