package staff

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP (RFC 6238) as every authenticator app reads it by default: HMAC-SHA-1,
// six digits, a new code every 30 seconds. A code is accepted one step
// either side of now, for a phone whose clock drifts and for the seconds
// it takes to type it.
const (
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	totpSkew   = 1
	// totpSecretLen is RFC 4226's recommended 160 bits.
	totpSecretLen = 20
)

// ErrTOTPSecret: a TOTP secret is not base32.
var ErrTOTPSecret = errors.New("staff: malformed TOTP secret")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret makes a TOTP secret: 160 random bits in base32, as an
// authenticator app takes it typed in or from an otpauth:// URI.
func NewTOTPSecret() string {
	b := make([]byte, totpSecretLen)
	rand.Read(b) // never fails (crypto/rand)
	return b32.EncodeToString(b)
}

// totpKey decodes a base32 secret, forgiving spaces, lower case and
// padding, as people copy it.
func totpKey(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	k, err := b32.DecodeString(s)
	if err != nil || len(k) < 10 {
		return nil, ErrTOTPSecret
	}
	return k, nil
}

// TOTPStep is the time step of t: how many periods since the Unix epoch.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// hotp is RFC 4226's HOTP value of counter with digits digits.
func hotp(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPCode is the code of secret at t (what the app shows then).
func TOTPCode(secret string, t time.Time) (string, error) {
	k, err := totpKey(secret)
	if err != nil {
		return "", err
	}
	return hotp(k, TOTPStep(t), TOTPDigits), nil
}

// MatchTOTP reports whether code is secret's code at now or one step
// either side, and at which step: the caller records the step as used so
// that the same code cannot sign in twice (RFC 6238, section 5.2).
// Spaces in the code are ignored ("123 456"). Every candidate is compared
// in constant time.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	k, err := totpKey(secret)
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if err != nil || len(code) != TOTPDigits {
		return 0, false
	}
	at := TOTPStep(now)
	for d := -totpSkew; d <= totpSkew; d++ {
		if subtle.ConstantTimeCompare([]byte(hotp(k, at+int64(d), TOTPDigits)), []byte(code)) == 1 {
			step, ok = at+int64(d), true
		}
	}
	return step, ok
}

// TOTPURI is the otpauth:// URI of a secret (Google Authenticator's Key
// Uri Format, which other apps follow): an app adds the account from it,
// labelled "issuer:account".
func TOTPURI(issuer, account, secret string) string {
	label := url.PathEscape(issuer + ":" + account)
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {fmt.Sprint(TOTPDigits)},
		"period": {fmt.Sprint(int(TOTPPeriod / time.Second))}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// GroupSecret writes a secret in groups of four, easier to type into an
// app by hand.
func GroupSecret(secret string) string {
	var b strings.Builder
	for i, r := range secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
