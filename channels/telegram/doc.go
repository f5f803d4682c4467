// Package telegram is Tend's Telegram channel: the webhook Telegram's Bot
// API calls with each update, a Sender that delivers outbox entries through
// github.com/go-telegram/bot, and Links, the single-use deep links
// (https://t.me/<bot>?start=<code>) that tie a patient's Telegram chat to
// their enrollment.
//
// The webhook is written here rather than taken from go-telegram/bot, whose
// handler answers 200 to a request with a wrong secret and runs updates
// concurrently. Here a request is trusted only when
// X-Telegram-Bot-Api-Secret-Token matches the configured secret (compared in
// constant time; 401 otherwise, and nothing changes). One chat's updates run
// one at a time, in the order they arrive, and the answer (200) is written
// only after the update's turn is committed with "telegram:<update_id>" as
// its dedupe key, so Telegram's retries never run a turn twice; a store
// failure answers 503 so that Telegram retries.
//
// Choices go out as inline keyboard buttons, one per row. A button's
// callback data is "<choice id>:<step>" (at most 64 bytes, Telegram's
// limit): the conversation engine matches the choice against the question
// the step names, so a button left on an old question is recognized as
// stale and changes nothing. Once a press is handled, its callback query is
// answered and the keyboard is removed from that message.
//
// A chat Tend does not know can only write "/start <code>" with a code from
// Links; anything else gets one polite refusal a day. Chat ids, like phone
// numbers, never appear in logs.
package telegram
