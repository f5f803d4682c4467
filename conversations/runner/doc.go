// Package runner drives the pure conversation engine against the store: it
// loads a patient's session, runs a turn, renders the messages, and writes
// everything (session, outbox, timers, timeline, tickets) as one
// store.Commit, retrying on a concurrent change. It makes the ids, holds the
// per-patient locks and runs the scheduler loop.
//
// The Runner is the one owner of every state change: channels, the API and
// the simulator reach a conversation only through its methods, so they all
// get the same guarantees (exactly-once turns, consent, quiet hours, the
// daily caps on the conversations Tend starts: caps.go).
package runner
