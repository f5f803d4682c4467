package audit

import (
	"net"
	"net/http"
)

// From is the address a request came from, for Record.From: the
// connection's peer (a proxy's, behind one), since a forwarded header is
// the client's word, not a fact.
func From(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
