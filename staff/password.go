package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are OWASP's first recommendation for argon2id: 46 MiB, one
// pass, one lane (the same strength as its minimum, 19 MiB and two
// passes, with more memory for an attacker to pay).
var DefaultParams = Params{Memory: 46 * 1024, Time: 1, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MinPassword is the shortest password accepted; length beats
	// composition rules (NIST SP 800-63B).
	MinPassword = 12
	maxPassword = 256
)

// CheckStrength refuses passwords too short or too long to hash sensibly.
func CheckStrength(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPassword:
		return fmt.Errorf("a password needs at least %d characters", MinPassword)
	case len(pw) > maxPassword:
		return fmt.Errorf("a password may have at most %d bytes", maxPassword)
	}
	return nil
}

// Hash hashes pw with p into a PHC string.
func Hash(pw string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errHash = errors.New("staff: malformed password hash")

func parse(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 || p.Memory > 4<<20 {
		return p, nil, nil, errHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, errHash
	}
	return p, salt, key, nil
}

// Check reports whether pw matches encoded, in constant time, and whether
// the hash should be redone with want (its parameters are weaker).
func Check(encoded, pw string, want Params) (ok, rehash bool) {
	p, salt, key, err := parse(encoded)
	if err != nil || len(pw) > maxPassword {
		DummyCheck(pw)
		return false, false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && (p.Memory < want.Memory || p.Time < want.Time || p.Threads != want.Threads)
}

// dummy is a hash of nothing, computed once, for DummyCheck.
var dummy = Hash("", DefaultParams)

// DummyCheck costs what checking a real password costs and matches
// nothing: a sign-in for an unknown email or a locked account pays it, so
// its answer comes as late as a wrong password's.
func DummyCheck(pw string) {
	_, salt, key, _ := parse(dummy)
	argon2.IDKey([]byte(pw), salt, DefaultParams.Time, DefaultParams.Memory, DefaultParams.Threads, uint32(len(key)))
}

// NewPassword makes a one-time password for a new account: 20 characters
// of base32 (100 bits), easy to read out over the phone.
func NewPassword() string {
	b := make([]byte, 13)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}
