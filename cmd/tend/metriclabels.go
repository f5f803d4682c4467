package main

import (
	"slices"
	"strconv"
)

// Metric labels come from fixed sets: a status or error code a provider
// sends is counted under its own name only when Tend knows it, else as
// "other". A label taken as given would let whoever can reach a webhook
// (or a provider inventing new codes) grow the metrics without bound.

// knownStatuses are the message and call statuses Tend records: its own
// (queued, held, retrying, suppressed, cancelled, unknown) and those
// Twilio and Telegram report.
var knownStatuses = []string{
	"accepted", "answered", "busy", "canceled", "cancelled", "completed", "delivered", "failed",
	"held", "in-progress", "initiated", "no-answer", "partially_delivered", "queued", "read",
	"receiving", "received", "retrying", "ringing", "scheduled", "sending", "sent", "suppressed",
	"undelivered", "unknown", "voicemail",
}

// knownCodes are the provider error codes Tend acts on or an operator is
// told about in docs/channels.md: Twilio's REST and delivery errors, and
// Telegram's HTTP statuses.
var knownCodes = []int{
	400, 401, 403, 404, 429, 500, 502, 503, 504, // Telegram
	20003, 20429, 20500, 21211, 21408, 21610, 21614, // Twilio REST
	30003, 30004, 30005, 30006, 30007, 30008, 30034, // Twilio delivery
	63003, 63016, 63018, 63024, // WhatsApp
}

func statusLabel(s string) string {
	if slices.Contains(knownStatuses, s) {
		return s
	}
	return "other"
}

func codeLabel(code int) string {
	if slices.Contains(knownCodes, code) {
		return strconv.Itoa(code)
	}
	return "other"
}
