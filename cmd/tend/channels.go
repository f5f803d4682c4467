package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// mountChannels registers each configured channel's sender with the
// dispatcher and its webhooks with the router, and tells the API which
// channels patients may be enrolled on. SMS is always on: without Twilio
// settings its messages wait in the outbox until they are set. The others
// are on when their sender is configured.
func mountChannels(c config, r chi.Router, a *api.API, disp *channels.Dispatcher, runner *runner.Runner,
	st store.Store, pack *content.Pack, m *metrics, log *slog.Logger) error {
	inbound := func(ch string) func(string) {
		return func(outcome string) { m.received.WithLabelValues(ch, outcome).Inc() }
	}
	status := func(ch string) func(string, int) {
		return func(s string, code int) { m.status(ch, s, code) }
	}
	twilio := func() *sms.Sender {
		return &sms.Sender{Client: twilio.NewClient(c.TwilioSID, c.TwilioToken, c.TwilioAPI), From: c.SMSFrom, PublicURL: c.PublicURL}
	}

	// The channels run, each with its spec: the dispatcher, the Runner and
	// the API read what a channel needs from the same list.
	add := func(spec channels.Spec, s channels.Sender) {
		disp.Senders[spec.Name] = s
		disp.Specs = append(disp.Specs, spec)
	}
	add(sms.Spec, twilio())
	hooks := &sms.Webhooks{Turns: runner, AuthToken: c.TwilioToken, PublicURL: c.PublicURL, Log: log,
		Observe: inbound(sms.Channel), ObserveStatus: status(sms.Channel)}
	mount(r, hooks.Handler(), sms.Paths())

	if c.WhatsAppFrom != "" {
		add(whatsapp.Spec, &whatsapp.Sender{Client: twilio().Client, From: c.WhatsAppFrom, PublicURL: c.PublicURL,
			QuickReply: pack.WhatsApp.QuickReply})
		wa := &whatsapp.Webhooks{Turns: runner, AuthToken: c.TwilioToken, PublicURL: c.PublicURL, Log: log,
			Observe: inbound(whatsapp.Channel), ObserveStatus: status(whatsapp.Channel)}
		mount(r, wa.Handler(), whatsapp.Paths())
	}

	if c.VoiceFrom != "" {
		sender := &voice.Sender{Client: twilio().Client, From: c.VoiceFrom, PublicURL: c.PublicURL, MaxCalls: c.VoiceMaxCalls, Clock: runner.Clock}
		add(voice.Spec, sender)
		vh := &voice.Webhooks{Turns: runner, Pack: pack, AuthToken: c.TwilioToken, PublicURL: c.PublicURL,
			NurseLine: c.NurseLine, Callback: c.CallbackNumber, Speech: c.VoiceSpeech, Slots: sender, Pages: runner, Log: log,
			Observe: inbound(voice.Channel), ObserveStatus: status(voice.Channel)}
		mount(r, vh.Handler(), voice.Paths())
		r.Get(content.AudioPath+"*", vh.ServeAudio)
		r.Head(content.AudioPath+"*", vh.ServeAudio)
	}

	if c.TelegramToken != "" {
		if c.TelegramSecret == "" {
			// Without it every update would be refused (401).
			return errors.New("TELEGRAM_BOT_TOKEN is set but TEND_TELEGRAM_WEBHOOK_SECRET is not: set a secret of 1-256 letters, digits, _ or -")
		}
		b, err := telegram.NewBot(c.TelegramToken, c.TelegramAPI)
		if err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		username := c.TelegramBot
		if username == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			me, err := b.GetMe(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("telegram: asking the bot's username (getMe), or set TEND_TELEGRAM_BOT_USERNAME: %w", err)
			}
			username = me.Username
		}
		add(telegram.Spec, &telegram.Sender{Bot: b})
		th := &telegram.Webhooks{Turns: runner, Bot: b, Pack: pack, Secret: c.TelegramSecret,
			Log: log, Notify: disp.Kick, Observe: inbound(telegram.Channel)}
		r.Post(telegram.WebhookPath, th.ServeHTTP)
		a.TelegramLinks = &telegram.Links{Codes: runner, BotUsername: username}
	}
	a.Channels = disp.Specs.Names()
	runner.Channels = disp.Specs
	return nil
}

// mount serves an adapter's routes, which it defines once (Handler), behind
// the signature check it applies itself.
func mount(r chi.Router, h http.Handler, paths []string) {
	for _, p := range paths {
		r.Handle(p, h)
	}
}
