package live

import "sync"

// Change says that a ticket changed: it opened, was claimed, released or
// resolved, or its conversation has a new message or note. A Change with
// no ticket means anything may have changed (Sub.Take reports overflow).
type Change struct {
	Ticket string `json:"ticket"`
	Team   string `json:"team"`
}

// maxPending bounds what a slow subscriber holds; past it the subscriber is
// told to refresh everything (Sub.Take reports overflow).
const maxPending = 1024

// Hub fans changes out to its subscribers. Publishing never blocks: each
// subscriber keeps the set of tickets changed since it last looked, so a
// burst on one ticket is one refresh, and a slow reader costs memory
// bounded by maxPending, never a stalled publisher.
type Hub struct {
	mu   sync.Mutex
	subs map[*Sub]struct{}
}

// Publish hands c to every subscriber.
func (h *Hub) Publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.add(c)
	}
}

// Subscribe returns a new subscriber; Close it when done.
func (h *Hub) Subscribe() *Sub {
	s := &Sub{hub: h, wake: make(chan struct{}, 1), pending: map[string]string{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*Sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	return s
}

// Subscribers is how many subscribers the hub has (a gauge).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Sub is one subscriber: the changes since it last took them.
type Sub struct {
	hub      *Hub
	wake     chan struct{}
	mu       sync.Mutex
	pending  map[string]string // ticket → team
	overflow bool
}

func (s *Sub) add(c Change) {
	s.mu.Lock()
	if c.Ticket != "" && len(s.pending) < maxPending {
		s.pending[c.Ticket] = c.Team
	} else {
		s.overflow = true
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Ready receives when changes are waiting to be taken.
func (s *Sub) Ready() <-chan struct{} { return s.wake }

// Take returns the changes since the last Take, one per ticket, and
// whether some were lost for lack of room (then everything may have
// changed).
func (s *Sub) Take() (changes []Change, overflow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, team := range s.pending {
		changes = append(changes, Change{Ticket: t, Team: team})
	}
	clear(s.pending)
	overflow, s.overflow = s.overflow, false
	return changes, overflow
}

// Close removes the subscriber from its hub.
func (s *Sub) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	delete(s.hub.subs, s)
}
