// Package redistest starts real redis-server processes for tests: a single
// server or a small Redis Cluster, each on free loopback ports, in its own
// temporary directory, stopped when the test ends.
//
// redis-server (and redis-cli, for a cluster) must be on PATH; `make test`
// installs them on a Debian machine. A missing binary fails the test: the
// Redis suites are never skipped silently.
package redistest
