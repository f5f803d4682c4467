package telegram

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// DefaultLinkTTL is how long a link code stays usable.
const DefaultLinkTTL = 24 * time.Hour

// codeBytes is the randomness of a link code: 192 bits, 32 characters.
const codeBytes = 24

// Codes keeps link codes for enrolled patients (runner.Runner).
type Codes interface {
	AddLinkCode(ctx context.Context, patientID, key string, ttl time.Duration) (expires time.Time, err error)
}

// Links makes the deep links a clinic gives a patient to connect Telegram:
// https://t.me/<bot>?start=<code>. Opening one starts the bot with
// "/start <code>", and the webhook links that chat to the patient.
//
// A code is random, single-use and short-lived; the store keeps only its
// SHA-256, so a copy of the store cannot be used to link a stranger's chat.
type Links struct {
	Codes Codes
	// BotUsername is the bot's @username (the "@" is optional).
	BotUsername string
	// TTL is how long a link is valid (DefaultLinkTTL when zero).
	TTL time.Duration
}

// Create makes a new link for an enrolled patient (store.ErrNotFound
// otherwise) and returns it with its expiry. Earlier links stay valid until
// used or expired.
func (l *Links) Create(ctx context.Context, patientID string) (url string, expires time.Time, err error) {
	ttl := l.TTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	b := make([]byte, codeBytes)
	rand.Read(b) // never fails (crypto/rand)
	// Deep-link parameters allow A-Z a-z 0-9 _ - and up to 64 characters:
	// base64url without padding is exactly that alphabet.
	code := base64.RawURLEncoding.EncodeToString(b)
	expires, err = l.Codes.AddLinkCode(ctx, patientID, hashCode(code), ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	return "https://t.me/" + strings.TrimPrefix(l.BotUsername, "@") + "?start=" + code, expires, nil
}

// hashCode is the key a code is stored under.
func hashCode(code string) string {
	sum := sha256.Sum256([]byte("telegram-link|" + code))
	return hex.EncodeToString(sum[:])
}

// validCode reports whether s can be a deep-link code: 1 to 64 characters
// of A-Z a-z 0-9 _ -.
func validCode(s string) bool { return deepLinkChars(s, 64) }

// deepLinkChars reports whether s is 1 to max characters of A-Z a-z 0-9 _ -
// (the alphabet of deep-link codes and webhook secrets).
func deepLinkChars(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
