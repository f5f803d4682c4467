package telegramtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// Fault is a way a Bot API call to the fake fails.
type Fault int

const (
	// OK: no fault.
	OK Fault = iota
	// Blocked answers 403 "Forbidden: bot was blocked by the user".
	Blocked
	// ChatNotFound answers 400 "Bad Request: chat not found".
	ChatNotFound
	// RateLimited answers 429 with parameters.retry_after.
	RateLimited
	// ServerError answers 500 in Telegram's envelope.
	ServerError
	// BadGateway answers 502 with an HTML page, as a proxy in front of the
	// Bot API does.
	BadGateway
	// Drop closes the connection without an answer, after reading the
	// request.
	Drop
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case Blocked:
		return "blocked"
	case ChatNotFound:
		return "chat-not-found"
	case RateLimited:
		return "rate-limited"
	case ServerError:
		return "server-error"
	case BadGateway:
		return "bad-gateway"
	case Drop:
		return "drop"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Button is an inline keyboard button.
type Button struct {
	Text string
	Data string // callback_data
}

// Message is a message the bot sent.
type Message struct {
	ID   int
	Chat int64
	Text string
	// Buttons are the inline keyboard as sent, one row after another.
	Buttons []Button
	// Keyboard reports whether the keyboard is still shown: false once
	// editMessageReplyMarkup replaced it with an empty one.
	Keyboard bool
	At       time.Time
}

// Call is one authenticated Bot API call, failed ones included.
type Call struct {
	Method string
	Chat   int64 // chat_id, when the method has one
	Text   string
	Fault  Fault
}

// Answer is an answered callback query.
type Answer struct {
	QueryID   string
	Text      string
	ShowAlert bool
}

// Edit is a keyboard change made with editMessageReplyMarkup.
type Edit struct {
	Chat      int64
	MessageID int
	Buttons   []Button // the new keyboard (empty: removed)
}

// BotID, BotUsername and BotName describe the fake's bot (getMe).
const (
	BotID       = 7000000001
	BotUsername = "tend_test_bot"
	BotName     = "Tend"
)

type fault struct {
	f          Fault
	retryAfter int
}

// Server is the fake Bot API. Create it with New or NewServer.
type Server struct {
	// URL is the base URL to give telegram.NewBot (http://127.0.0.1:port).
	URL string
	// Token is the bot token the fake accepts.
	Token string
	// Client posts updates. Nil means a client with a 15 s timeout.
	Client *http.Client

	srv *httptest.Server

	mu         sync.Mutex
	msgs       []*Message
	lastID     map[int64]int // per chat, as Telegram numbers messages
	calls      []Call
	answers    []Answer
	edits      []Edit
	next       []fault
	chats      map[int64]Fault
	langs      map[int64]string
	webhookURL string
	secret     string
	updateID   int64
	queryID    int
}

// New starts a fake Bot API on a loopback port with a fresh token and
// closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer(fmt.Sprintf("%d:%s", BotID, randomHex(17)))
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake Bot API that accepts token. The caller closes it.
func NewServer(token string) *Server {
	s := &Server{Token: token, lastID: map[int64]int{}, chats: map[int64]Fault{}, langs: map[int64]string{}, updateID: 100000}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// FailNext makes the next n calls of sendMessage, answerCallbackQuery or
// editMessageReplyMarkup fail with f, after any failures queued before.
// RateLimited answers carry retry_after 5; see RateLimitNext.
func (s *Server) FailNext(f Fault, n int) {
	retry := 0
	if f == RateLimited {
		retry = 5
	}
	s.failNext(fault{f, retry}, n)
}

// RateLimitNext makes the next n calls answer 429 with
// parameters.retry_after = retryAfter seconds.
func (s *Server) RateLimitNext(n, retryAfter int) {
	s.failNext(fault{RateLimited, retryAfter}, n)
}

func (s *Server) failNext(f fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.next = append(s.next, f)
	}
}

// FailChat makes every sendMessage and editMessageReplyMarkup to chat
// fail with f (Blocked: the user blocked the bot); OK clears it. Failures
// queued with FailNext come first.
func (s *Server) FailChat(chat int64, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == OK {
		delete(s.chats, chat)
		return
	}
	s.chats[chat] = f
}

// SetLanguage sets the language_code of the user of a chat, as their
// Telegram app reports it in updates ("" by default).
func (s *Server) SetLanguage(chat int64, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.langs[chat] = code
}

// Messages returns every message sent, in order, with their keyboards as
// they are now.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
	}
	return out
}

// MessagesTo returns the messages sent to one chat, in order.
func (s *Server) MessagesTo(chat int64) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Chat == chat {
			out = append(out, m)
		}
	}
	return out
}

// Calls returns every authenticated call, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Answers returns the callback queries answered, in order.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

// Edits returns the keyboard edits made, in order.
func (s *Server) Edits() []Edit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Edit(nil), s.edits...)
}

// Webhook returns the URL and secret token registered with setWebhook.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL, s.secret
}

// apiError is a failed call's answer.
type apiError struct {
	status      int
	description string
	retryAfter  int
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || method == "" {
		writeError(w, apiError{status: http.StatusNotFound, description: "Not Found"})
		return
	}
	if token != s.Token {
		writeError(w, apiError{status: http.StatusUnauthorized, description: "Unauthorized"})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, apiError{status: http.StatusMethodNotAllowed, description: "Method Not Allowed"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: " + err.Error()})
		return
	}
	switch method {
	case "getMe":
		writeResult(w, botUser())
	case "setWebhook":
		s.mu.Lock()
		s.webhookURL, s.secret = params["url"], params["secret_token"]
		s.calls = append(s.calls, Call{Method: method})
		s.mu.Unlock()
		writeResult(w, true)
	case "deleteWebhook":
		s.mu.Lock()
		s.webhookURL, s.secret = "", ""
		s.calls = append(s.calls, Call{Method: method})
		s.mu.Unlock()
		writeResult(w, true)
	case "sendMessage":
		s.sendMessage(w, r, params)
	case "answerCallbackQuery":
		s.answerCallbackQuery(w, r, params)
	case "editMessageReplyMarkup":
		s.editMessageReplyMarkup(w, r, params)
	default:
		writeError(w, apiError{status: http.StatusNotFound, description: "Not Found: method not found"})
	}
}

// readParams reads a call's parameters the three ways the Bot API takes
// them: multipart form (go-telegram/bot), URL-encoded form, or JSON.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		// A call without parameters (getMe) comes as an empty multipart
		// body, which Telegram takes: so does the fake.
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				out[k] = str
			} else {
				out[k] = string(v)
			}
		}
		return out, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
	}
	for k, v := range r.Form {
		out[k] = v[0]
	}
	return out, nil
}

// take decides the fault of a call: a queued one first, else the chat's.
// It records the call.
func (s *Server) take(method string, chat int64, text string) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := fault{f: OK}
	if len(s.next) > 0 {
		f, s.next = s.next[0], s.next[1:]
	} else if cf, ok := s.chats[chat]; ok && chat != 0 {
		f = fault{f: cf}
	}
	s.calls = append(s.calls, Call{Method: method, Chat: chat, Text: text, Fault: f.f})
	return f
}

// fail writes a fault's answer; it reports false for OK.
func fail(w http.ResponseWriter, f fault) bool {
	switch f.f {
	case OK:
		return false
	case Blocked:
		writeError(w, apiError{status: http.StatusForbidden, description: "Forbidden: bot was blocked by the user"})
	case ChatNotFound:
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: chat not found"})
	case RateLimited:
		writeError(w, apiError{status: http.StatusTooManyRequests,
			description: "Too Many Requests: retry after " + strconv.Itoa(f.retryAfter), retryAfter: f.retryAfter})
	case ServerError:
		writeError(w, apiError{status: http.StatusInternalServerError, description: "Internal Server Error"})
	case BadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\r\n</html>\r\n")
	case Drop:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("telegramtest: connection cannot be hijacked")
		}
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
	return true
}

func parseChat(params map[string]string) (int64, bool) {
	id, err := strconv.ParseInt(params["chat_id"], 10, 64)
	return id, err == nil && id != 0
}

// keyboard reads a reply_markup parameter.
func keyboard(raw string) ([]Button, bool, error) {
	if raw == "" {
		return nil, false, nil
	}
	var kb models.InlineKeyboardMarkup
	if err := json.Unmarshal([]byte(raw), &kb); err != nil {
		return nil, false, err
	}
	var out []Button
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if len(b.CallbackData) > 64 {
				return nil, false, errors.New("BUTTON_DATA_INVALID")
			}
			out = append(out, Button{Text: b.Text, Data: b.CallbackData})
		}
	}
	return out, true, nil
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, params map[string]string) {
	chat, ok := parseChat(params)
	text := params["text"]
	if fail(w, s.take("sendMessage", chat, text)) {
		return
	}
	if !ok {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: chat not found"})
		return
	}
	if strings.TrimSpace(text) == "" {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: message text is empty"})
		return
	}
	if len([]rune(text)) > 4096 {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: message is too long"})
		return
	}
	buttons, hasKB, err := keyboard(params["reply_markup"])
	if err != nil {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: can't parse reply keyboard markup JSON object: " + err.Error()})
		return
	}
	s.mu.Lock()
	s.lastID[chat]++
	m := &Message{ID: s.lastID[chat], Chat: chat, Text: text, Buttons: buttons, Keyboard: hasKB && len(buttons) > 0, At: time.Now()}
	s.msgs = append(s.msgs, m)
	res := m.model()
	s.mu.Unlock()
	writeResult(w, res)
}

func (s *Server) answerCallbackQuery(w http.ResponseWriter, r *http.Request, params map[string]string) {
	id := params["callback_query_id"]
	if fail(w, s.take("answerCallbackQuery", 0, params["text"])) {
		return
	}
	if id == "" {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: query is too old and response timeout expired or query ID is invalid"})
		return
	}
	s.mu.Lock()
	s.answers = append(s.answers, Answer{QueryID: id, Text: params["text"], ShowAlert: params["show_alert"] == "true"})
	s.mu.Unlock()
	writeResult(w, true)
}

func (s *Server) editMessageReplyMarkup(w http.ResponseWriter, r *http.Request, params map[string]string) {
	chat, _ := parseChat(params)
	if fail(w, s.take("editMessageReplyMarkup", chat, "")) {
		return
	}
	id, _ := strconv.Atoi(params["message_id"])
	buttons, _, err := keyboard(params["reply_markup"])
	if err != nil {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: can't parse reply keyboard markup JSON object"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var m *Message
	for _, have := range s.msgs {
		if have.Chat == chat && have.ID == id {
			m = have
		}
	}
	if m == nil {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: message to edit not found"})
		return
	}
	keep := len(buttons) > 0
	if !keep && !m.Keyboard {
		writeError(w, apiError{status: http.StatusBadRequest, description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"})
		return
	}
	if keep {
		m.Buttons = buttons
	}
	m.Keyboard = keep
	s.edits = append(s.edits, Edit{Chat: chat, MessageID: id, Buttons: buttons})
	writeResult(w, m.model())
}

func botUser() *models.User {
	return &models.User{ID: BotID, IsBot: true, FirstName: BotName, Username: BotUsername}
}

func privateChat(id int64) models.Chat {
	return models.Chat{ID: id, Type: models.ChatTypePrivate, FirstName: "Pat"}
}

// model is the message as the Bot API returns it.
func (m *Message) model() *models.Message {
	out := &models.Message{ID: m.ID, From: botUser(), Date: int(m.At.Unix()), Chat: privateChat(m.Chat), Text: m.Text}
	if m.Keyboard {
		kb := &models.InlineKeyboardMarkup{}
		for _, b := range m.Buttons {
			kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{{Text: b.Text, CallbackData: b.Data}})
		}
		out.ReplyMarkup = kb
	}
	return out
}

func writeResult(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func writeError(w http.ResponseWriter, e apiError) {
	body := map[string]any{"ok": false, "error_code": e.status, "description": e.description}
	if e.retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": e.retryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(body)
}

// user is the private-chat user of chat (in a private chat, the chat id is
// the user id).
func (s *Server) user(chat int64) *models.User {
	return &models.User{ID: chat, FirstName: "Pat", LanguageCode: s.langs[chat]}
}

// nextUpdate returns a fresh update id; Telegram numbers updates in order.
func (s *Server) nextUpdate() int64 {
	s.updateID++
	return s.updateID
}

// TextUpdate is an update carrying a text message the user of a private
// chat wrote, with a fresh update_id.
func (s *Server) TextUpdate(chat int64, text string) models.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID[chat]++
	return models.Update{ID: s.nextUpdate(), Message: &models.Message{ID: s.lastID[chat], From: s.user(chat),
		Date: int(time.Now().Unix()), Chat: privateChat(chat), Text: text}}
}

// PressUpdate is an update for the user pressing button i of message m (as
// sent, even when its keyboard was removed since: a stale press). The
// callback query carries the message as it is shown now, and a fresh
// query id.
func (s *Server) PressUpdate(m Message, i int) models.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	shown := m.model()
	for _, have := range s.msgs {
		if have.Chat == m.Chat && have.ID == m.ID {
			shown = have.model()
		}
	}
	s.queryID++
	return models.Update{ID: s.nextUpdate(), CallbackQuery: &models.CallbackQuery{
		ID:           fmt.Sprintf("%d%06d", m.Chat, s.queryID),
		From:         *s.user(m.Chat),
		Message:      models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: shown},
		ChatInstance: strconv.FormatInt(m.Chat*7, 10),
		Data:         m.Buttons[i].Data,
	}}
}

// BlockUpdate is the my_chat_member update Telegram sends when the user of
// a private chat blocks the bot.
func (s *Server) BlockUpdate(chat int64) models.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := int(time.Now().Unix())
	return models.Update{ID: s.nextUpdate(), MyChatMember: &models.ChatMemberUpdated{
		Chat: privateChat(chat), From: *s.user(chat), Date: now,
		OldChatMember: models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{User: botUser()}},
		NewChatMember: models.ChatMember{Type: models.ChatMemberTypeBanned, Banned: &models.ChatMemberBanned{User: botUser()}},
	}}
}

// Post posts an update to a webhook URL with the secret header (none when
// secret is "") and returns the HTTP status the webhook answered.
func (s *Server) Post(url, secret string, u models.Update) (int, error) {
	body, err := json.Marshal(&u)
	if err != nil {
		return 0, err
	}
	return s.PostRaw(url, secret, body)
}

// PostRaw posts body as an update, as Post does.
func (s *Server) PostRaw(url, secret string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// Deliver posts an update to the webhook registered with setWebhook, with
// its secret token, as Telegram does.
func (s *Server) Deliver(u models.Update) (int, error) {
	url, secret := s.Webhook()
	if url == "" {
		return 0, errors.New("telegramtest: no webhook set")
	}
	return s.Post(url, secret, u)
}
