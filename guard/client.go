package guard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Clients tells which client a request or connection belongs to.
type Clients struct {
	// Trusted are the proxies whose X-Forwarded-For is believed.
	Trusted []netip.Prefix
}

// ParsePrefixes reads a comma-separated list of addresses and CIDR
// prefixes ("127.0.0.1, 10.0.0.0/8").
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or prefix", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// trusted reports whether addr is one of the proxies.
func (c *Clients) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.Trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// peer is the address at the other end of a connection, or none.
func peer(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		return a.Unmap(), err == nil
	}
	return ap.Addr().Unmap(), true
}

// Of is the client a request comes from: its peer, or, when the peer is
// a trusted proxy, the last address in X-Forwarded-For that is not one of
// the proxies (the ones before it are the client's own word).
func (c *Clients) Of(r *http.Request) string {
	a, ok := peer(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !c.trusted(a) {
		return a.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop the proxy did not write: stop at the last good one
		}
		a = h.Unmap()
		if !c.trusted(a) {
			break
		}
	}
	return a.String()
}
