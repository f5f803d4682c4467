package store

import (
	"cmp"
	"maps"
	"slices"
)

// statusRank orders the statuses of a message.out event, a message's and a
// call's alike. Provider callbacks arrive out of order and may overtake
// the send's own answer, so a status never replaces one further along.
// This is the only copy of the order: backends and adapters ask
// StatusRank, StatusAdvances or Statuses.
var statusRank = map[string]int{
	"": 0, "queued": 1, "held": 1, "retrying": 1, "accepted": 1, "scheduled": 1,
	"sending": 2, "ringing": 2, "sent": 3,
	"delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "cancelled": 4, "suppressed": 4, "unknown": 4,
	"voicemail": 4, "busy": 4, "no-answer": 4,
	"read": 5,
}

// StatusRank is how far along a message.out event's status is: a status
// may replace another of the same rank or lower. A status the store does
// not know ranks 0, as the empty status does.
func StatusRank(status string) int { return statusRank[status] }

// StatusAdvances reports whether a message event's status may change from
// one status to another.
func StatusAdvances(from, to string) bool {
	return StatusRank(to) >= StatusRank(from)
}

// Statuses lists every status StatusRank knows, by rank and then by name,
// for a backend that must tell a script the order up front (Redis).
func Statuses() []string {
	return slices.SortedFunc(maps.Keys(statusRank), func(a, b string) int {
		return cmp.Or(cmp.Compare(statusRank[a], statusRank[b]), cmp.Compare(a, b))
	})
}
