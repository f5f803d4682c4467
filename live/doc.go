// Package live tells open console pages that a ticket changed, so they
// fetch it again.
//
// A change names a ticket and its team and nothing else: no patient, no
// text. The page that hears of it re-reads through the console's normal,
// permission-checked handlers, so nothing a coach may not see travels on
// the stream, and a missed change costs a refresh, never data.
//
// A Hub fans changes out to the subscribers of one process. With several
// replicas, Redis carries them between processes (Bus): every replica
// publishes to one Redis channel and feeds what it hears to its own Hub.
package live
