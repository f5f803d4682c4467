package console

import (
	"context"
	"errors"
	"sync"

	"github.com/tendcare/tend/live"
	"github.com/tendcare/tend/store"
)

// inboxStatuses are the statuses the inbox reads (the Runner's "open"
// includes reopened tickets).
var inboxStatuses = []string{store.TicketOpen, store.TicketClaimed}

// ticketCache keeps the tickets the inbox shows, so that a view does not
// read and decode every open ticket (10,000 of them take 80 ms; the
// inbox must answer in 50). It is a read model kept by the live changes:
// each view first re-reads the tickets changed since the last one, so it
// is as fresh as the store; a lost change ("all": a slow reader, a
// reconnect to Redis) reloads it whole. Without live changes the inbox
// reads the store each time.
type ticketCache struct {
	mu     sync.Mutex
	sub    *live.Sub
	loaded bool
	byID   map[string]*store.Escalation
}

// eachTicket calls fn with every ticket the inbox may show, under the
// cache's lock (fn must not call back into the console). The tickets are
// shared: fn may keep them, never change them.
func (c *Console) eachTicket(ctx context.Context, fn func(*store.Escalation)) error {
	if c.Live == nil {
		for _, status := range inboxStatuses {
			list, err := c.Backend.Escalations(ctx, status)
			if err != nil {
				return err
			}
			for i := range list {
				fn(&list[i])
			}
		}
		return nil
	}
	tc := &c.cache
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.sub == nil {
		tc.sub = c.Live.Subscribe() // before loading: no change falls between
	}
	changes, all := tc.sub.Take()
	if !tc.loaded || all {
		if err := c.reloadTickets(ctx); err != nil {
			return err
		}
	} else {
		for _, ch := range changes {
			t, err := c.Backend.Ticket(ctx, ch.Ticket)
			switch {
			case errors.Is(err, store.ErrNotFound):
				delete(tc.byID, ch.Ticket)
			case err != nil:
				tc.loaded = false // read it whole next time
				return err
			case shown(t.Status):
				tc.byID[t.ID] = &t
			default:
				delete(tc.byID, t.ID)
			}
		}
	}
	for _, t := range tc.byID {
		fn(t)
	}
	return nil
}

func (c *Console) reloadTickets(ctx context.Context) error {
	tc := &c.cache
	tc.byID = map[string]*store.Escalation{}
	for _, status := range inboxStatuses {
		list, err := c.Backend.Escalations(ctx, status)
		if err != nil {
			tc.loaded = false
			return err
		}
		for i := range list {
			tc.byID[list[i].ID] = &list[i]
		}
	}
	tc.loaded = true
	return nil
}

// shown: open (reopened included: the Runner lists it as open) or claimed.
func shown(status string) bool {
	return status == store.TicketOpen || status == store.TicketReopened || status == store.TicketClaimed
}

// closeCache ends the cache's subscription (Stop).
func (c *Console) closeCache() {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if c.cache.sub != nil {
		c.cache.sub.Close()
		c.cache.sub, c.cache.loaded = nil, false
	}
}
