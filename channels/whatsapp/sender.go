package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	twiliogo "github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Channel is this channel's name in sessions, outbox entries and metrics.
const Channel = conversations.WhatsApp

// MaxChars is the longest WhatsApp message body Twilio takes (1,600
// characters); the Runner holds every message to it.
const MaxChars = 1600

// Spec is what the rest of Tend knows about WhatsApp: free text only inside
// the 24-hour window, templates outside it, choices as buttons.
var Spec = channels.Spec{Name: Channel, Address: channels.ByPhone, Window: conversations.WindowLength, Buttons: true, NamesMedicine: true, MaxChars: MaxChars}

// Paths of the webhooks Twilio calls for WhatsApp.
const (
	InboundPath = "/webhooks/twilio/whatsapp"
	StatusPath  = "/webhooks/twilio/whatsapp/status"
)

// Prefix marks a WhatsApp address in Twilio's To and From.
const Prefix = "whatsapp:"

// WhatsApp's limits on quick-reply buttons.
const (
	maxButtons     = 3
	maxButtonTitle = 20   // characters of a button's title
	maxButtonBody  = 1024 // characters of the text above the buttons
)

// Sender sends WhatsApp messages through Twilio's Messages API: a template
// outside the customer-service window, free text (with quick-reply buttons
// when a content maps them) inside it.
type Sender struct {
	Client *twiliogo.RestClient
	// From is the WhatsApp sender's phone number (E.164, with or without
	// "whatsapp:"), or a messaging service SID (MG...).
	From      string
	PublicURL string
	// QuickReply maps a number of buttons to a twilio/quick-reply content
	// (content.Pack.WhatsApp.QuickReply); see the package doc for its
	// variables. Without one for a message's number of choices, the choices
	// go as numbered lines.
	QuickReply map[int]string
}

// Send creates the message with a status callback naming the outbox entry
// and the patient, so delivery reports (and 63016 fallbacks) find their
// message even after a crash.
func (s *Sender) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(address(e.To))
	if strings.HasPrefix(s.From, "MG") {
		p.SetMessagingServiceSid(s.From)
	} else {
		p.SetFrom(address(s.From))
	}
	switch sid, vars := s.content(e); {
	case sid != "":
		p.SetContentSid(sid)
		if len(vars) > 0 {
			p.SetContentVariables(Variables(vars))
		}
	default:
		p.SetBody(conversations.Numbered(e.Text, e.Labels))
	}
	return twilio.Create(ctx, s.Client, p, strings.TrimSuffix(s.PublicURL, "/")+StatusPath, e, classify)
}

// content picks the Twilio content for an entry and its variables: the
// template the dispatcher left set (outside the window), else the
// quick-reply content for the entry's choices, else none (plain Body).
func (s *Sender) content(e store.OutboxEntry) (sid string, vars []string) {
	if e.Template != "" {
		return e.Template, e.Vars
	}
	n := len(e.Labels)
	if n == 0 || n > maxButtons || len(e.Choices) != n || s.QuickReply[n] == "" ||
		utf8.RuneCountInString(e.Text) > maxButtonBody || e.Text == "" {
		return "", nil
	}
	for _, l := range e.Labels {
		if l == "" || utf8.RuneCountInString(l) > maxButtonTitle {
			return "", nil
		}
	}
	vars = make([]string, 0, 1+2*n)
	vars = append(vars, e.Text)
	vars = append(vars, e.Labels...)
	for _, id := range e.Choices {
		vars = append(vars, Payload(id, e.Step))
	}
	return s.QuickReply[n], vars
}

// address puts the whatsapp: prefix on a number that lacks it.
func address(number string) string {
	if strings.HasPrefix(number, Prefix) {
		return number
	}
	return Prefix + number
}

// Variables encodes positional content variables as Twilio's
// ContentVariables JSON, {"1": vars[0], "2": vars[1], ...}, keys in
// numeric order so the same message always encodes the same way.
func Variables(vars []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vars {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(`":`)
		enc, _ := json.Marshal(v) // a string always encodes
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.String()
}

// Payload is the id a quick-reply button carries back: the choice id and
// the step of the question it answers, so a button pressed on an old
// question is recognized as stale.
func Payload(choice string, step uint32) string {
	return choice + ":" + strconv.FormatUint(uint64(step), 10)
}

// ParsePayload reads a button's payload: "<choiceID>:<step>" from our quick
// replies, or a bare "<choiceID>" from an approved template's button (its
// ids were fixed when the template was approved), which has step 0: the
// engine matches it against whatever question waits.
func ParsePayload(payload string) (choice string, step uint32) {
	if i := strings.LastIndexByte(payload, ':'); i >= 0 {
		if n, err := strconv.ParseUint(payload[i+1:], 10, 32); err == nil {
			return payload[:i], uint32(n)
		}
	}
	return payload, 0
}

// Twilio's WhatsApp error codes (see docs/architecture.md#messaging-rules and Twilio's error catalog).
const (
	// codeOutsideWindow: free text outside the 24-hour window.
	codeOutsideWindow = 63016
	// codeChannelRateLimited: too many messages for the WhatsApp sender.
	codeChannelRateLimited = 63018
)

// classify sorts a twilio-go error into the dispatcher's classes: 63016
// (outside the window) means this message must go on another channel;
// 63018 (the sender's rate limit) waits and retries; everything else is
// Twilio's REST behaviour shared with SMS (twilio.Classify): 429, 5xx and
// connections never made are retried, 401 pauses the channel, 21610 is an opt-out, a connection
// lost mid-request is of unknown outcome, and other API errors, such as
// 63003 and 63024 (not a valid WhatsApp recipient), are permanent.
func classify(err error) error {
	var te *twclient.TwilioRestError
	if errors.As(err, &te) {
		switch te.Code {
		case codeOutsideWindow:
			return &channels.SendError{Class: channels.ErrFallback, Code: te.Code, Err: err}
		case codeChannelRateLimited:
			return &channels.SendError{Class: channels.ErrRetry, Code: te.Code, Err: err}
		}
	}
	return twilio.Classify(err)
}
