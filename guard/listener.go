package guard

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener caps the connections a server holds open. Serve with it and set
// the server's ConnState to the Listener's, which tells it which
// connections are in the middle of a request.
type Listener struct {
	net.Listener
	// Max is the open connections in all (0: no cap). When it is reached
	// the connection that has waited longest between requests, or for its
	// first, is closed to make room; only when every one is mid-request is
	// the newcomer turned away.
	Max int
	// PerClient caps one client's open connections (0: no cap); further
	// ones are turned away. A trusted proxy is not capped.
	PerClient int
	Clients   *Clients
	// Refused counts each connection closed here, by reason: "full"
	// (turned away), "evicted" (closed to make room) or "client".
	Refused func(reason string)
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time

	mu     sync.Mutex
	conns  map[net.Conn]*conn
	client map[string]int
}

// conn is what the Listener knows of one open connection.
type conn struct {
	client string // "" when not counted per client
	since  time.Time
	busy   bool // a request is being read or answered
}

// Accept returns the next connection the caps allow.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit(c) {
			return c, nil
		}
	}
}

// admit registers c, making room when full, or turns it away.
func (l *Listener) admit(c net.Conn) bool {
	client := l.clientOf(c)
	l.mu.Lock()
	if l.conns == nil {
		l.conns, l.client = map[net.Conn]*conn{}, map[string]int{}
	}
	if client != "" && l.PerClient > 0 && l.client[client] >= l.PerClient {
		l.mu.Unlock()
		l.turnAway(c, "client")
		return false
	}
	var victim net.Conn
	if l.Max > 0 && len(l.conns) >= l.Max {
		if victim = l.oldestWaiting(); victim == nil {
			l.mu.Unlock()
			l.turnAway(c, "full")
			return false
		}
		l.forget(victim)
	}
	l.conns[c] = &conn{client: client, since: l.now()}
	if client != "" {
		l.client[client]++
	}
	l.mu.Unlock()
	if victim != nil {
		victim.Close()
		l.refused("evicted")
	}
	return true
}

// clientOf is the client a connection is counted against, "" for a
// trusted proxy or when there is no per-client cap.
func (l *Listener) clientOf(c net.Conn) string {
	if l.PerClient <= 0 {
		return ""
	}
	a, ok := peer(c.RemoteAddr().String())
	if !ok {
		return c.RemoteAddr().String()
	}
	if l.Clients != nil && l.Clients.trusted(a) {
		return ""
	}
	return a.String()
}

// oldestWaiting is the connection that has waited longest with no request
// in progress. Linear, but only when full, and the map is as large as the
// cap.
func (l *Listener) oldestWaiting() net.Conn {
	var oldest net.Conn
	var since time.Time
	for c, s := range l.conns {
		if !s.busy && (oldest == nil || s.since.Before(since)) {
			oldest, since = c, s.since
		}
	}
	return oldest
}

// ConnState is the server's hook: it marks connections busy while a
// request is in progress and forgets them when closed.
func (l *Listener) ConnState(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.conns[c]
	if s == nil {
		return
	}
	switch state {
	case http.StateActive:
		s.busy = true
	case http.StateIdle:
		s.busy, s.since = false, l.now()
	case http.StateHijacked, http.StateClosed:
		l.forget(c)
	}
}

// Open is the number of connections held open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *Listener) forget(c net.Conn) {
	s := l.conns[c]
	if s == nil {
		return
	}
	delete(l.conns, c)
	if s.client != "" {
		if l.client[s.client]--; l.client[s.client] <= 0 {
			delete(l.client, s.client)
		}
	}
}

// turnAway answers 503 and closes, so that a browser or a provider sees
// why rather than a reset. It waits a moment for the request first (an
// answer before it confuses clients), aside, so that Accept goes on.
func (l *Listener) turnAway(c net.Conn, reason string) {
	l.refused(reason)
	go func() {
		defer c.Close()
		c.SetDeadline(time.Now().Add(250 * time.Millisecond))
		buf := make([]byte, 4096)
		for n := 0; n < len(buf); {
			m, err := c.Read(buf[n:])
			n += m
			if err != nil || bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
				break
			}
		}
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 20\r\n\r\ntoo many connections"))
	}()
}

func (l *Listener) refused(reason string) {
	if l.Refused != nil {
		l.Refused(reason)
	}
}

func (l *Listener) now() time.Time {
	if l.Clock != nil {
		return l.Clock()
	}
	return time.Now()
}
