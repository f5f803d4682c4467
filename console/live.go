package console

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Live updates: one Server-Sent Events stream per open page
// (GET /console/events). An event names a ticket and nothing else; the page
// re-fetches its part through the normal handlers, which check the team and
// write the audit log, so no patient data travels on the stream.
//
// Events: "inbox" (a ticket of one of the member's teams changed), "t-<id>"
// (that ticket changed), "all" (changes were missed: refresh), and
// "signedout" (the session ended: the page keeps its drafts and signs in
// again). Re-fetches carry the header X-Tend-Live, which does not count as
// activity, so a page left open still signs out after the idle time.

// liveHeader marks a page's own refresh, not the member's doing.
const liveHeader = "X-Tend-Live"

// Defaults of the stream's pacing.
const (
	// DefaultHeartbeat is how often an idle stream says it is alive (and
	// checks that its session is).
	DefaultHeartbeat = 15 * time.Second
	// DefaultLiveGap is the least time between two sends on one stream: a
	// burst of changes is one refresh, and 50 messages a second do not
	// make 50 refreshes a second per coach.
	DefaultLiveGap = 500 * time.Millisecond
)

func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	if c.Live == nil {
		http.Error(w, "live updates are off", http.StatusNotFound)
		return
	}
	a := current(r)
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 5000\n\n")
	if rc.Flush() != nil {
		return
	}
	sub := c.Live.Subscribe()
	defer sub.Close()
	beat := time.NewTicker(c.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		case <-beat.C:
			if !c.stillSignedIn(r) {
				fmt.Fprint(w, "event: signedout\ndata: -\n\n")
				rc.Flush()
				return
			}
			fmt.Fprint(w, ": beat\n\n")
		case <-sub.Ready():
			changes, all := sub.Take()
			inbox := all
			for _, ch := range changes {
				if a.Sees(ch.Team) {
					fmt.Fprintf(w, "event: t-%s\ndata: %s\n\n", ch.Ticket, ch.Ticket)
					inbox = true
				}
			}
			if all {
				fmt.Fprint(w, "event: all\ndata: -\n\n")
			}
			if inbox {
				fmt.Fprint(w, "event: inbox\ndata: -\n\n")
			}
		}
		if rc.Flush() != nil {
			return
		}
		select { // pace: what changes meanwhile waits in the subscriber
		case <-r.Context().Done():
			return
		case <-time.After(c.LiveGap):
		}
	}
}

// stillSignedIn checks a stream's session again: ended, idle or its
// account disabled, the stream says so and closes.
func (c *Console) stillSignedIn(r *http.Request) bool {
	_, _, _, err := c.session(r, c.Clock())
	return err == nil
}

// auditGate lets a page's live refreshes write one audit record a minute
// per member and page, not one per change: the page was audited when it
// was opened, and a refresh continues that view.
type auditGate struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (g *auditGate) due(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[string]time.Time{}
	}
	if t, ok := g.last[key]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if len(g.last) > 10000 {
		for k, t := range g.last {
			if now.Sub(t) >= time.Minute {
				delete(g.last, k)
			}
		}
	}
	g.last[key] = now
	return true
}

// audited says whether a view needs its audit record: always, unless it
// is a live refresh the gate lets pass without one.
func (c *Console) audited(r *http.Request, key string, now time.Time) bool {
	if r.Header.Get(liveHeader) == "" {
		return true
	}
	return c.gate.due(key, now)
}
