package sms

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	twiliogo "github.com/twilio/twilio-go"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Channel is the name of this channel in sessions, outbox entries and metrics.
const Channel = conversations.SMS

// Spec is what the rest of Tend knows about SMS: a send costs its segments.
var Spec = channels.Spec{Name: Channel, Address: channels.ByPhone, Segments: true, NamesMedicine: true, MaxSegments: channels.SMSMaxSegments}

// Paths of the webhooks Twilio calls.
const (
	InboundPath = "/webhooks/twilio/sms"
	StatusPath  = "/webhooks/twilio/status"
)

// Sender sends SMS through Twilio's Messages API.
type Sender struct {
	Client *twiliogo.RestClient
	// From is a sender number, or a messaging service SID (MG...).
	From      string
	PublicURL string
}

// Send creates the message with a status callback that names the outbox
// entry, so delivery reports find their message even after a crash.
func (s *Sender) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(e.To)
	p.SetBody(conversations.Numbered(e.Text, e.Labels))
	if strings.HasPrefix(s.From, "MG") {
		p.SetMessagingServiceSid(s.From)
	} else {
		p.SetFrom(s.From)
	}
	return twilio.Create(ctx, s.Client, p, strings.TrimSuffix(s.PublicURL, "/")+StatusPath, e, twilio.Classify)
}

// Turns is what the webhooks need from the conversation runner.
type Turns interface {
	Inbound(ctx context.Context, patientID, channel, text, dedupe string) error
	NotEnrolled(ctx context.Context, channel, from, dedupe string) error
	Delivered(ctx context.Context, patientID, messageID string, rc runner.Receipt) (next string, err error)
	OutboxPatient(ctx context.Context, id string) (string, error)
	PatientByPhone(ctx context.Context, phone string) (store.Patient, error)
}

// Webhooks serves Twilio's inbound-message and status callbacks.
type Webhooks struct {
	Turns     Turns
	AuthToken string
	PublicURL string
	Log       *slog.Logger
	// Observe, when set, counts inbound messages by outcome (for metrics).
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
// status on the message's timeline event; 21610 (the patient opted out
// with the carrier) stops the channel, and 30005/30006 (the number cannot
// take texts: a landline, say) send the message on the patient's next
// channel, a call perhaps.
func (h *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InboundPath, h.inbound)
	mux.Handle("POST "+StatusPath, &twilio.StatusHandler{Channel: Channel, Turns: h.Turns, Log: h.Log, Observe: h.ObserveStatus,
		Fallback: twilio.Fallback{Codes: []int{twilio.CodeUnknownHandset, twilio.CodeLandline}}})
	keys := func() twilio.Keys { return twilio.Keys{AuthToken: h.AuthToken, PublicURL: h.PublicURL, Log: h.Log} }
	return twilio.Signed(keys, func() { h.observe("rejected") })(mux)
}

// inbound handles POST /webhooks/twilio/sms. The reply goes out through the
// outbox, so the TwiML answer is empty. A 2xx means the turn is committed;
// on a store error Twilio gets a 5xx and retries with the same MessageSid.
func (h *Webhooks) inbound(w http.ResponseWriter, r *http.Request) {
	sid, from := r.PostForm.Get("MessageSid"), r.PostForm.Get("From")
	if sid == "" || from == "" {
		h.observe("malformed")
		http.Error(w, "MessageSid and From are required", http.StatusBadRequest)
		return
	}
	phone, err := channels.E164(from)
	if err != nil {
		h.observe("malformed")
		http.Error(w, "From: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.Receive(r.Context(), phone, r.PostForm.Get("Body"), sid); err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	emptyTwiML(w)
}

// Receive runs one inbound text as the webhook does once its signature
// checked out: the turn of the patient with that phone (E.164), keywords
// and the safety net first, or the reply to a number no patient has.
// messageSid is the provider's id, the turn's dedupe key. The dev phone's
// "answer as the patient" comes in here too, so that what it shows is what
// a real text would do.
func (h *Webhooks) Receive(ctx context.Context, phone, body, messageSid string) error {
	dedupe := "twilio:" + messageSid
	p, err := h.Turns.PatientByPhone(ctx, phone)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = h.Turns.NotEnrolled(ctx, Channel, phone, dedupe)
		h.observe("unknown_number")
	case err == nil:
		err = h.Turns.Inbound(ctx, p.ID, Channel, body, dedupe)
		h.observe("accepted")
	}
	if err != nil {
		h.log().Error("inbound sms not committed", "err", err)
	}
	return err
}

func emptyTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}
