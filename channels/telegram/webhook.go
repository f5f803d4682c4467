package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Turns is what the webhook needs from the conversation runner
// (runner.Runner).
type Turns interface {
	Receive(ctx context.Context, patientID string, m runner.Message) (runner.Reply, error)
	Link(ctx context.Context, channel, key, addr string) (patientID string, err error)
	Refuse(ctx context.Context, rf runner.Refusal) error
	Unreachable(ctx context.Context, patientID, channel string) error
	PatientByAddress(ctx context.Context, channel, addr string) (store.Patient, error)
}

// Webhooks serves POST /webhooks/telegram. Its fields must be set before
// the first request and not changed after.
type Webhooks struct {
	Turns Turns
	// Bot answers callback queries and removes answered keyboards; it must
	// come from NewBot. Without it button presses still count, but their
	// buttons spin until Telegram gives up and stay on the message.
	Bot *bot.Bot
	// Pack renders the channel's own messages (telegram.* in the catalog).
	Pack *content.Pack
	// Secret is the secret_token given to setWebhook. Empty rejects every
	// request.
	Secret string
	Log    *slog.Logger
	// Notify, when set, is called after a commit that queued a message
	// (a refusal), so the dispatcher sends it at once.
	Notify func()
	// Observe, when set, counts updates by outcome (for metrics).
	Observe func(outcome string)

	// chats serializes each chat's updates: Telegram sends one chat's
	// updates in order, and they must run in that order.
	chats chatLocks

	rejectedOnce sync.Once
	rejected     rate.Sometimes // spaces the log lines of rejected updates (logRejected)
}

// rejectLogEvery spaces the log lines of rejected updates: one is enough
// to find a secret that differs from setWebhook's, and forged requests
// must not flood the log.
const rejectLogEvery = 10 * time.Second

// logRejected says, at most once per rejectLogEvery, that an update came
// without the right secret: the path only, no body.
func (h *Webhooks) logRejected(r *http.Request) {
	h.rejectedOnce.Do(func() { h.rejected.Interval = rejectLogEvery })
	h.rejected.Do(func() {
		why := "bad_secret"
		if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") == "" {
			why = "no_secret"
		}
		h.log().Warn("webhook rejected: X-Telegram-Bot-Api-Secret-Token is not TEND_TELEGRAM_WEBHOOK_SECRET (register the webhook again with setWebhook's secret_token)",
			"reason", why, "path", r.URL.Path)
	})
}

// maxBody bounds an update; Telegram's are a few kilobytes.
const maxBody = 256 << 10

// answerTimeout bounds each Bot API call made after a commit.
const answerTimeout = 5 * time.Second

// refusalEvery is how often an unknown chat is told it is not linked.
const refusalEvery = 24 * time.Hour

// update holds the parts of a models.Update Tend handles. The others are
// not decoded at all: a field the library does not know yet (a new member
// status, say) must not make Tend refuse, and Telegram retry, an update it
// would ignore anyway.
type update struct {
	ID            int64                 `json:"update_id"`
	Message       *models.Message       `json:"message"`
	CallbackQuery *models.CallbackQuery `json:"callback_query"`
	MyChatMember  *memberUpdate         `json:"my_chat_member"`
}

// memberUpdate is the part of a my_chat_member update Tend reads: a private
// chat's new status toward the bot ("kicked" when the patient blocked it).
type memberUpdate struct {
	Chat          models.Chat `json:"chat"`
	NewChatMember struct {
		Status models.ChatMemberType `json:"status"`
	} `json:"new_chat_member"`
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

// authorized compares the secret header in constant time. Comparing hashes
// keeps even the secret's length from showing in the timing.
func (h *Webhooks) authorized(r *http.Request) bool {
	got := r.Header.Get(SecretHeader)
	if h.Secret == "" || got == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.Secret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// ServeHTTP handles one update. 401: wrong or missing secret; 400: not an
// update; 503: not committed (Telegram retries); 200: done, or ignored on
// purpose (an update kind Tend does not handle, a group chat).
func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		h.observe("rejected")
		h.logRejected(r)
		http.Error(w, "invalid secret token", http.StatusUnauthorized)
		return
	}
	var u update
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&u)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.observe("malformed")
		http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		h.observe("malformed")
		http.Error(w, "malformed update: "+err.Error(), http.StatusBadRequest)
		return
	case u.ID <= 0:
		h.observe("malformed")
		http.Error(w, "update_id is required", http.StatusBadRequest)
		return
	}
	outcome, err := h.handle(r.Context(), &u)
	if err != nil {
		h.observe("error")
		h.log().Error("telegram update not committed", "update", u.ID, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	h.observe(outcome)
	w.WriteHeader(http.StatusOK)
}

func (h *Webhooks) handle(ctx context.Context, u *update) (string, error) {
	dedupe := "telegram:" + strconv.FormatInt(u.ID, 10)
	switch {
	case u.Message != nil:
		return h.message(ctx, u.Message, dedupe)
	case u.CallbackQuery != nil:
		return h.callback(ctx, u.CallbackQuery, dedupe)
	case u.MyChatMember != nil:
		return h.member(ctx, u.MyChatMember)
	}
	return "ignored", nil
}

// lock serializes the updates of one chat.
func (h *Webhooks) lock(chat string) func() { return h.chats.lock(chat) }

// chatLocks holds one mutex per chat with an update running or waiting.
// Unlike a fixed set of striped mutexes, two chats never wait for each
// other: under load a stripe shared by chance would hold one chat's update
// behind another's whole turn.
type chatLocks struct {
	mu sync.Mutex
	m  map[string]*chatLock
}

type chatLock struct {
	sync.Mutex
	users int // updates holding or waiting for it
}

func (c *chatLocks) lock(chat string) (unlock func()) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*chatLock{}
	}
	l := c.m[chat]
	if l == nil {
		l = &chatLock{}
		c.m[chat] = l
	}
	l.users++
	c.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.m, chat)
		}
		c.mu.Unlock()
	}
}

// message handles a message a patient wrote. Only private chats count: a
// bot added to a group must not carry a patient's conversation there.
func (h *Webhooks) message(ctx context.Context, m *models.Message, dedupe string) (string, error) {
	if m.Chat.Type != models.ChatTypePrivate {
		return "ignored", nil
	}
	chat := strconv.FormatInt(m.Chat.ID, 10)
	defer h.lock(chat)()
	text := messageText(m)
	lang := ""
	if m.From != nil {
		lang = m.From.LanguageCode
	}
	code, isStart := startPayload(text)
	p, err := h.Turns.PatientByAddress(ctx, Channel, chat)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if isStart && code != "" {
			return h.link(ctx, chat, code, dedupe, lang, false)
		}
		return "refused", h.refuse(ctx, chat, dedupe, lang)
	case err != nil:
		return "", err
	}
	if isStart && code != "" {
		return h.link(ctx, chat, code, dedupe, lang, true)
	}
	// A bare /start reads as START (and /stop as STOP): the keywords
	// work the same on every channel.
	_, err = h.Turns.Receive(ctx, p.ID, runner.Message{Channel: Channel, Text: text, Dedupe: dedupe})
	return "accepted", err
}

// messageText is what a message says: its text, a photo's caption, or a
// sticker's emoji (a thumbs-up sticker answers yes).
func messageText(m *models.Message) string {
	switch {
	case m.Text != "":
		return m.Text
	case m.Caption != "":
		return m.Caption
	case m.Sticker != nil:
		return m.Sticker.Emoji
	}
	return ""
}

// startPayload recognizes "/start" (also "/start@bot") and returns what
// follows it: the deep link's code.
func startPayload(text string) (payload string, ok bool) {
	cmd, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	if cmd != "/start" {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// link follows a deep link: a valid code links the chat to the code's
// patient and runs their welcome flow on Telegram. known says the chat is
// linked already: then a used or expired code is most likely Telegram
// retrying the update that linked it, and is ignored rather than refused.
func (h *Webhooks) link(ctx context.Context, chat, code, dedupe, lang string, known bool) (string, error) {
	refuse := func() (string, error) {
		if known {
			return "ignored", nil
		}
		return "refused", h.refuse(ctx, chat, dedupe, lang)
	}
	if !validCode(code) {
		return refuse()
	}
	_, err := h.Turns.Link(ctx, Channel, hashCode(code), chat)
	switch {
	case err == nil:
		return "linked", nil
	case errors.Is(err, store.ErrAddressTaken):
		return "taken", h.reply(ctx, chat, content.MsgTelegramTaken, dedupe, lang)
	case errors.Is(err, store.ErrNotFound):
		return refuse() // no such code, or unenrolled since the link was made
	}
	return "", err
}

// refuse tells an unknown chat, at most once a day, that it is not linked.
func (h *Webhooks) refuse(ctx context.Context, chat, dedupe, lang string) error {
	return h.Turns.Refuse(ctx, runner.Refusal{Channel: Channel, To: chat, MessageID: content.MsgTelegramRefused,
		Lang: h.lang(lang), Dedupe: dedupe, Every: refusalEvery})
}

// reply queues one of the channel's own messages to a chat, with the
// update's dedupe key, so a retry of the update does not queue it again.
// The chat has no patient (or not the right one): the message names none.
func (h *Webhooks) reply(ctx context.Context, chat, messageID, dedupe, lang string) error {
	return h.Turns.Refuse(ctx, runner.Refusal{Channel: Channel, To: chat, MessageID: messageID, Lang: h.lang(lang), Dedupe: dedupe})
}

// lang picks the language for a chat Tend cannot tie to a patient: the
// language of the person's Telegram app when the pack has it, else the
// pack's default.
func (h *Webhooks) lang(code string) string {
	if lang, ok := h.Pack.MatchLanguage(code); ok {
		return lang
	}
	return h.Pack.Languages[0]
}

// callback handles a button press. The turn is committed first; then the
// callback query is answered (with telegram.stale when the button belonged
// to an earlier question) and the message's keyboard removed, so that its
// buttons cannot answer a later question. Those two calls failing does not
// fail the update: the turn is committed.
func (h *Webhooks) callback(ctx context.Context, q *models.CallbackQuery, dedupe string) (string, error) {
	var chatID int64
	var messageID int
	var shown *models.Message
	switch {
	case q.Message.Message != nil:
		shown = q.Message.Message
		chatID, messageID = shown.Chat.ID, shown.ID
		if shown.Chat.Type != "" && shown.Chat.Type != models.ChatTypePrivate {
			h.answer(ctx, q.ID, "")
			return "ignored", nil
		}
	case q.Message.InaccessibleMessage != nil:
		chatID, messageID = q.Message.InaccessibleMessage.Chat.ID, q.Message.InaccessibleMessage.MessageID
	default:
		// A button of an inline-mode message: Tend sends none.
		h.answer(ctx, q.ID, "")
		return "ignored", nil
	}
	chat := strconv.FormatInt(chatID, 10)
	defer h.lock(chat)()
	stale := func(lang string) {
		text, err := h.Pack.Catalog.Text(lang, content.MsgTelegramStale, nil, nil)
		if err != nil {
			h.log().Error("message not rendered cleanly", "message", content.MsgTelegramStale, "err", err)
		}
		h.answer(ctx, q.ID, text)
		h.removeKeyboard(ctx, chatID, messageID)
	}
	p, err := h.Turns.PatientByAddress(ctx, Channel, chat)
	if errors.Is(err, store.ErrNotFound) {
		// Buttons left in a chat that was unlinked since.
		stale(h.lang(q.From.LanguageCode))
		return "ignored", nil
	}
	if err != nil {
		h.answer(ctx, q.ID, "")
		return "", err
	}
	choice, step, ok := ParseCallbackData(q.Data)
	if !ok {
		stale(h.lang(p.Language))
		return "ignored", nil
	}
	label := choice
	if b, ok := button(shown, q.Data); ok {
		label = b.Text
	}
	rep, err := h.Turns.Receive(ctx, p.ID, runner.Message{Channel: Channel, Text: label, Choice: choice, Step: step, Dedupe: dedupe})
	if err != nil {
		// Stop the button's spinner; Telegram's retry of the update runs
		// the turn again.
		h.answer(ctx, q.ID, "")
		return "", err
	}
	if rep.Stale {
		stale(rep.Lang)
		return "stale", nil
	}
	h.answer(ctx, q.ID, "")
	h.removeKeyboard(ctx, chatID, messageID)
	return "accepted", nil
}

// button finds the pressed button on the message it was pressed on.
func button(m *models.Message, data string) (models.InlineKeyboardButton, bool) {
	if m == nil || m.ReplyMarkup == nil {
		return models.InlineKeyboardButton{}, false
	}
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == data {
				return b, true
			}
		}
	}
	return models.InlineKeyboardButton{}, false
}

// answer answers a callback query (stopping the button's spinner), with a
// short notice when text is set. Failures are logged, without the text.
func (h *Webhooks) answer(ctx context.Context, queryID, text string) {
	if h.Bot == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	_, status, err := call(ctx, func(ctx context.Context) (bool, error) {
		return h.Bot.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: text})
	})
	if err != nil {
		h.log().Warn("answering a telegram callback query", "status", status, "err", classify(err, status))
	}
}

// removeKeyboard replaces a message's inline keyboard with an empty one.
func (h *Webhooks) removeKeyboard(ctx context.Context, chatID int64, messageID int) {
	if messageID == 0 || h.Bot == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	_, status, err := call(ctx, func(ctx context.Context) (*models.Message, error) {
		return h.Bot.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: chatID, MessageID: messageID,
			ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{}}})
	})
	if err != nil {
		h.log().Warn("removing an answered telegram keyboard", "status", status, "err", classify(err, status))
	}
}

// member handles a change of the patient's private chat with the bot:
// blocking the bot makes Telegram unreachable for them until they write
// again, so messages fall back along their chain meanwhile.
func (h *Webhooks) member(ctx context.Context, m *memberUpdate) (string, error) {
	if m.Chat.Type != models.ChatTypePrivate || m.NewChatMember.Status != models.ChatMemberTypeBanned {
		return "ignored", nil
	}
	chat := strconv.FormatInt(m.Chat.ID, 10)
	defer h.lock(chat)()
	p, err := h.Turns.PatientByAddress(ctx, Channel, chat)
	if errors.Is(err, store.ErrNotFound) {
		return "ignored", nil
	}
	if err != nil {
		return "", err
	}
	return "blocked", h.Turns.Unreachable(ctx, p.ID, Channel)
}
