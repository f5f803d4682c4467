// Package telegramtest is a fake Telegram Bot API for tests of the Telegram
// channel: a loopback httptest server that speaks the part of the Bot API
// Tend uses, so tests drive the real go-telegram/bot client (through
// telegram.NewBot) instead of mocking the Sender.
//
// The fake answers POST /bot<token>/<method> for getMe, sendMessage,
// answerCallbackQuery, editMessageReplyMarkup, setWebhook and
// deleteWebhook, in Telegram's envelope ({"ok": true, "result": ...} or
// {"ok": false, "error_code", "description", "parameters"}). It records
// every call, keeps each chat's messages with their inline keyboards, and
// can fail the ways Telegram fails: a chat that blocked the bot (403), an
// unknown chat (400), rate limiting (429 with parameters.retry_after), a
// server error (500), a proxy's 502 page, or a connection dropped without
// an answer.
//
// It also plays Telegram's side of the webhook: it builds updates (a text
// message, a button press on a message it sent, a user blocking the bot)
// and posts them with the secret header, either to a given URL or to the
// webhook registered with setWebhook.
package telegramtest
