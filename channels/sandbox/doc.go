// Package sandbox is a channel that delivers to a terminal or a buffer
// instead of a network. The simulator and tests use it to see exactly what a
// patient would read, through the same dispatcher as the real channels.
package sandbox
