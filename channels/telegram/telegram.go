package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// Channel is this channel's name in sessions, outbox entries and metrics.
const Channel = conversations.Telegram

// MaxChars is the longest text the Bot API's sendMessage takes (4,096
// characters); the Runner holds every message to it.
const MaxChars = 4096

// Spec is what the rest of Tend knows about Telegram: the patient links
// their chat, choices go as buttons.
var Spec = channels.Spec{Name: Channel, Address: channels.ByLink, Buttons: true, NamesMedicine: true, MaxChars: MaxChars}

// WebhookPath is where Telegram posts updates (setWebhook's url).
const WebhookPath = "/webhooks/telegram"

// SecretHeader carries the secret_token given to setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// DefaultAPIURL is Telegram's Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// maxCallbackData is Telegram's limit on a button's callback data, in bytes.
const maxCallbackData = 64

// NewBot builds the go-telegram/bot client Tend uses. apiURL other than
// "" points it at another Bot API server (tests use telegramtest). It does
// not call getMe, so it needs no network to start; the 15-second timeout
// is the client's, retries are the dispatcher's.
//
// Senders must use a client built here: it notes each response's HTTP
// status, which the library's errors lack for 5xx answers, so that
// classify can tell a Telegram outage from a refusal.
func NewBot(token, apiURL string) (*bot.Bot, error) {
	opts := []bot.Option{
		bot.WithSkipGetMe(),
		bot.WithHTTPClient(time.Minute, statusClient{next: &http.Client{Timeout: 15 * time.Second}}),
		// The library reports only its own plumbing failures here; they
		// carry no message text.
		bot.WithErrorsHandler(func(err error) { slog.Default().Warn("telegram client", "err", err) }),
	}
	if apiURL != "" {
		opts = append(opts, bot.WithServerURL(strings.TrimSuffix(apiURL, "/")))
	}
	return bot.New(token, opts...)
}

// AllowedUpdates are the update kinds the webhook handles; Register asks
// Telegram for these only.
var AllowedUpdates = []string{"message", "callback_query", "my_chat_member"}

// Register points the bot's webhook at publicURL + WebhookPath, with the
// secret Telegram will send in SecretHeader. Telegram accepts a secret of
// 1 to 256 characters of A-Z a-z 0-9 _ -.
func Register(ctx context.Context, b *bot.Bot, publicURL, secret string) error {
	if !deepLinkChars(secret, 256) {
		return errors.New("telegram: the webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -")
	}
	_, status, err := call(ctx, func(ctx context.Context) (bool, error) {
		return b.SetWebhook(ctx, &bot.SetWebhookParams{URL: strings.TrimSuffix(publicURL, "/") + WebhookPath,
			SecretToken: secret, AllowedUpdates: AllowedUpdates})
	})
	if err != nil {
		return fmt.Errorf("telegram: setting the webhook (HTTP %d): %w", status, err)
	}
	return nil
}

type statusKey struct{}

// statusClient records the HTTP status of a response in the *int the
// request's context carries under statusKey.
type statusClient struct{ next bot.HttpClient }

func (c statusClient) Do(req *http.Request) (*http.Response, error) {
	res, err := c.next.Do(req)
	if p, ok := req.Context().Value(statusKey{}).(*int); ok && res != nil {
		*p = res.StatusCode
	}
	return res, err
}

// call runs one Bot API call and returns the HTTP status it got (0 when no
// response came).
func call[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, int, error) {
	var status int
	v, err := fn(context.WithValue(ctx, statusKey{}, &status))
	return v, status, err
}

// Sender sends outbox entries as Telegram messages. Bot must come from
// NewBot.
type Sender struct {
	Bot *bot.Bot
}

// Send sends e.Text to chat e.To. When the entry carries choices, they go
// as an inline keyboard, one button per row, whose callback data is
// CallbackData(choice, e.Step); choices that cannot be buttons (no choice
// ids, or data over 64 bytes) go as numbered lines instead. It returns
// Telegram's message id and "sent".
func (s *Sender) Send(ctx context.Context, e store.OutboxEntry) (string, string, error) {
	if e.To == "" {
		return "", "", &channels.SendError{Err: errors.New("telegram: no chat to send to")}
	}
	p := &bot.SendMessageParams{ChatID: e.To, Text: e.Text}
	if kb, ok := Keyboard(e.Choices, e.Labels, e.Step); ok {
		p.ReplyMarkup = kb
	} else {
		p.Text = conversations.Numbered(e.Text, e.Labels)
	}
	m, status, err := call(ctx, func(ctx context.Context) (*models.Message, error) { return s.Bot.SendMessage(ctx, p) })
	if err != nil {
		return "", "", classify(err, status)
	}
	return strconv.Itoa(m.ID), "sent", nil
}

// Keyboard lays choices out as inline buttons, one per row. ok is false
// when there are no labels, or when a label has no choice id or its
// callback data would exceed Telegram's 64 bytes.
func Keyboard(choices, labels []string, step uint32) (kb *models.InlineKeyboardMarkup, ok bool) {
	if len(labels) == 0 || len(choices) < len(labels) {
		return nil, false
	}
	kb = &models.InlineKeyboardMarkup{InlineKeyboard: make([][]models.InlineKeyboardButton, 0, len(labels))}
	for i, label := range labels {
		data := CallbackData(choices[i], step)
		if choices[i] == "" || len(data) > maxCallbackData {
			return nil, false
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{{Text: label, CallbackData: data}})
	}
	return kb, true
}

// CallbackData is a choice button's callback data: "<choice id>:<step>".
// The step names the question the button answers (0: unknown).
func CallbackData(choice string, step uint32) string {
	return choice + ":" + strconv.FormatUint(uint64(step), 10)
}

// ParseCallbackData reads data made by CallbackData.
func ParseCallbackData(data string) (choice string, step uint32, ok bool) {
	i := strings.LastIndexByte(data, ':')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(data[i+1:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return data[:i], uint32(n), true
}

// classify sorts a go-telegram/bot error into the dispatcher's classes,
// given the HTTP status the request got (0 for none):
//
//   - 403 (the patient blocked the bot, deleted their account, or never
//     started it): ErrUnreachable, so the message falls back along the
//     patient's chain and the channel waits until they write again;
//   - 429: ErrRetry after Telegram's retry_after;
//   - 401 (our token is wrong or being rotated: the message is fine):
//     ErrAuth, which pauses the channel;
//   - 5xx, and 404 (what a token of a deleted bot gets): ErrRetry;
//   - a connection that was never made: ErrRetry;
//   - a timeout or a connection lost once the request was sent: the
//     message may have been delivered, so ErrUnknownOutcome, never resent;
//   - other refusals (400 "chat not found", a message too long, ...):
//     permanent.
//
// Code is Telegram's error_code (the HTTP status).
func classify(err error, status int) error {
	var tooMany *bot.TooManyRequestsError
	var migrate *bot.MigrateError
	switch {
	case errors.As(err, &tooMany):
		return &channels.SendError{Class: channels.ErrRetry, Code: http.StatusTooManyRequests,
			RetryAfter: time.Duration(tooMany.RetryAfter) * time.Second, Err: err}
	case errors.Is(err, bot.ErrorForbidden):
		return &channels.SendError{Class: channels.ErrUnreachable, Code: http.StatusForbidden, Err: err}
	case status >= 500:
		return &channels.SendError{Class: channels.ErrRetry, Code: status, Err: err}
	case errors.Is(err, bot.ErrorUnauthorized):
		return &channels.SendError{Class: channels.ErrAuth, Code: http.StatusUnauthorized, Err: err}
	case errors.Is(err, bot.ErrorNotFound):
		return &channels.SendError{Class: channels.ErrRetry, Code: http.StatusNotFound, Err: err}
	case errors.As(err, &migrate), errors.Is(err, bot.ErrorBadRequest):
		return &channels.SendError{Code: http.StatusBadRequest, Err: err}
	case status >= 200 && status < 300:
		// An answer was coming but could not be read: the message may
		// well have been sent.
		return &channels.SendError{Class: channels.ErrUnknownOutcome, Code: status, Err: err}
	case status != 0:
		return &channels.SendError{Code: status, Err: err}
	}
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
		return &channels.SendError{Class: channels.ErrRetry, Err: err}
	}
	return &channels.SendError{Class: channels.ErrUnknownOutcome, Err: fmt.Errorf("telegram: %w", err)}
}
