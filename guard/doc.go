// Package guard keeps Tend's HTTP server answering when many clients, or
// slow ones, connect: caps on open connections in all and per client, and
// per-client request budgets on the routes anyone may call.
//
// Go serves thousands of idle connections cheaply; what hurts is running
// out of file descriptors or letting one client hold them all. So the
// Listener caps connections, and when it is full it closes the connection
// that has waited longest without a request in progress rather than
// refusing the newcomer: a flood of slow clients cannot lock out a health
// check or a provider's webhook. The server's own timeouts end slow
// requests; Rate turns away a client that keeps asking.
//
// Behind a proxy every connection comes from the proxy's address. With the
// proxy's address in Clients.Trusted, the client is the one the proxy
// names in X-Forwarded-For and the per-client connection cap is left to the
// proxy, which sees the real peers.
package guard
