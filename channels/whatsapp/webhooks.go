package whatsapp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Turns is what the webhooks need from the conversation runner.
type Turns interface {
	Receive(ctx context.Context, patientID string, m runner.Message) (runner.Reply, error)
	NotEnrolled(ctx context.Context, channel, from, dedupe string) error
	Delivered(ctx context.Context, patientID, messageID string, rc runner.Receipt) (next string, err error)
	OutboxPatient(ctx context.Context, id string) (string, error)
	PatientByPhone(ctx context.Context, phone string) (store.Patient, error)
}

// Webhooks serves Twilio's inbound-message and status callbacks for
// WhatsApp.
type Webhooks struct {
	Turns     Turns
	AuthToken string
	PublicURL string
	Log       *slog.Logger
	// Observe, when set, counts inbound messages by outcome (for metrics):
	// rejected, malformed, unknown_number, accepted, button, stale,
	// duplicate.
	Observe func(outcome string)
	// ObserveStatus, when set, counts provider status reports (for
	// metrics): the status and the provider's error code (0 for none).
	ObserveStatus func(status string, code int)
}

func (h *Webhooks) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Webhooks) observe(outcome string) {
	if h.Observe != nil {
		h.Observe(outcome)
	}
}

// Paths are the webhook paths Handler serves, for a router that mounts it.
func Paths() []string { return []string{InboundPath, StatusPath} }

// Handler serves the inbound-message and status webhooks, each behind
// Twilio's signature check. The status callback records the delivery
// status (sent, delivered, read, failed, undelivered) and error code on the
// message's timeline event. A message Twilio gave up on, 63016 (outside the
// window) or any other failure, goes on the patient's next channel: the
// Runner does that once per message, however often Twilio repeats the
// callback, and never for a message already delivered or read.
func (h *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InboundPath, h.inbound)
	mux.Handle("POST "+StatusPath, &twilio.StatusHandler{Channel: Channel, Turns: h.Turns, Log: h.Log, Observe: h.ObserveStatus,
		Fallback: twilio.Fallback{Statuses: []string{"failed", "undelivered"}}})
	keys := func() twilio.Keys { return twilio.Keys{AuthToken: h.AuthToken, PublicURL: h.PublicURL, Log: h.Log} }
	return twilio.Signed(keys, func() { h.observe("rejected") })(mux)
}

// inbound handles POST /webhooks/twilio/whatsapp. The reply goes out
// through the outbox, so the TwiML answer is empty. A 2xx means the turn is
// committed (and the patient's window opened); on a store error Twilio gets
// a 5xx and retries with the same MessageSid, which the commit dedupes.
func (h *Webhooks) inbound(w http.ResponseWriter, r *http.Request) {
	sid, from := r.PostForm.Get("MessageSid"), r.PostForm.Get("From")
	if sid == "" || from == "" {
		h.observe("malformed")
		http.Error(w, "MessageSid and From are required", http.StatusBadRequest)
		return
	}
	// An SMS webhook pointed here by mistake would open a WhatsApp window
	// the patient never opened.
	number, ok := strings.CutPrefix(from, Prefix)
	if !ok {
		h.observe("malformed")
		http.Error(w, "From must be a whatsapp: address", http.StatusBadRequest)
		return
	}
	phone, err := channels.E164(number)
	if err != nil {
		h.observe("malformed")
		http.Error(w, "From: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	dedupe := "twilio:" + sid
	p, err := h.Turns.PatientByPhone(ctx, phone)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = h.Turns.NotEnrolled(ctx, Channel, phone, dedupe)
		h.observe("unknown_number")
	case err == nil:
		m := message(r.PostForm)
		m.Dedupe, m.SayClosed = dedupe, true
		var rep runner.Reply
		rep, err = h.Turns.Receive(ctx, p.ID, m)
		switch {
		case err != nil:
		case rep.Duplicate:
			h.observe("duplicate")
		case rep.Stale:
			h.observe("stale")
		case m.Choice != "":
			h.observe("button")
		default:
			h.observe("accepted")
		}
	}
	if err != nil {
		h.log().Error("inbound whatsapp not committed", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

// message reads the patient's message from Twilio's form: a pressed button
// arrives as ButtonPayload (our id, see ParsePayload) and ButtonText (its
// label, also in Body); anything else is typed text.
func message(f url.Values) runner.Message {
	m := runner.Message{Channel: Channel, Text: f.Get("Body")}
	if payload := f.Get("ButtonPayload"); payload != "" {
		m.Choice, m.Step = ParsePayload(payload)
		if label := f.Get("ButtonText"); label != "" {
			m.Text = label
		}
	}
	return m
}
