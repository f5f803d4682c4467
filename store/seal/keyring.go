package seal

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// maxKeyID is the longest key id; ids are short because every sealed value
// carries one.
const maxKeyID = 16

// HKDF info strings: one derived key per purpose, so the AES key and the
// key of the synthetic nonces are independent.
const (
	infoAEAD  = "tend/seal/v1 aes-256-gcm"
	infoNonce = "tend/seal/v1 synthetic-nonce"
	infoHash  = "tend/seal/v1 lookup-hash"
)

// Keyring holds the keys that seal and open values: the first is the active
// one, which seals new values; all of them open. It is immutable and safe
// for concurrent use. Its String and GoString never show key material.
type Keyring struct {
	keys []*key // active first
}

// key is one key of a ring, ready to use.
type key struct {
	id   string
	aead cipher.AEAD // safe for concurrent use
	// macs pools HMAC-SHA256 states keyed with the nonce key; a hash.Hash
	// is not safe for concurrent use, and hmac.New costs allocations.
	macs sync.Pool
	// hashes pools HMAC-SHA256 states keyed with the hash key, which turns
	// dedupe and Once keys into opaque ones (hashKey).
	hashes sync.Pool
}

func newKey(id string, secret []byte) (*key, error) {
	aeadKey, err := hkdf.Key(sha256.New, secret, nil, infoAEAD, KeySize)
	if err != nil {
		return nil, err
	}
	nonceKey, err := hkdf.Key(sha256.New, secret, nil, infoNonce, sha256.Size)
	if err != nil {
		return nil, err
	}
	hashKey, err := hkdf.Key(sha256.New, secret, nil, infoHash, sha256.Size)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(aeadKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &key{id: id, aead: aead}
	k.macs.New = func() any { return hmac.New(sha256.New, nonceKey) }
	k.hashes.New = func() any { return hmac.New(sha256.New, hashKey) }
	return k, nil
}

// LoadKeyring reads the key file at path (TEND_ENCRYPTION_KEY_FILE; the
// format is in the package documentation). It refuses a file that group or
// others may access.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	// Windows has no permission bits to check.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("seal: key file %s has mode %#o: group or others may access it; "+
			"chmod 600 %s (Kubernetes: defaultMode 0400)", path, perm, path)
	}
	return ParseKeyring(path, f)
}

// ParseKeyring reads a key file's content from r; name is the file name
// used in errors. It checks no permissions: LoadKeyring does.
func ParseKeyring(name string, r io.Reader) (*Keyring, error) {
	var (
		ring Keyring
		seen = map[string]int{}
		sc   = bufio.NewScanner(r)
		line = 0
	)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("seal: key file %s:%d: %s", name, line, fmt.Sprintf(format, args...))
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, bad("want \"<key id> <base64 of %d bytes>\", got %d fields", KeySize, len(fields))
		}
		id, enc := fields[0], fields[1]
		if !validKeyID(id) {
			return nil, bad("key id %q: want 1 to %d characters of a-z, 0-9 and '-'", id, maxKeyID)
		}
		if first, ok := seen[id]; ok {
			return nil, bad("key id %q appears again (first on line %d)", id, first)
		}
		seen[id] = line
		// The key is never echoed in an error.
		secret, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, bad("key %q is not standard base64 (with '=' padding)", id)
		}
		if len(secret) != KeySize {
			return nil, bad("key %q has %d bytes, want %d (openssl rand -base64 %d)", id, len(secret), KeySize, KeySize)
		}
		k, err := newKey(id, secret)
		clear(secret)
		if err != nil {
			return nil, bad("key %q: %v", id, err)
		}
		ring.keys = append(ring.keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("seal: key file %s:%d: %w", name, line+1, err)
	}
	if len(ring.keys) == 0 {
		return nil, fmt.Errorf("seal: key file %s has no key (want lines \"<key id> <base64 of %d bytes>\")", name, KeySize)
	}
	return &ring, nil
}

// GenerateKeyLine returns a key file line "<id> <base64 of 32 random
// bytes>" for a new key, without the newline.
func GenerateKeyLine(id string) (string, error) {
	if !validKeyID(id) {
		return "", fmt.Errorf("seal: key id %q: want 1 to %d characters of a-z, 0-9 and '-'", id, maxKeyID)
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	line := id + " " + base64.StdEncoding.EncodeToString(secret)
	clear(secret)
	return line, nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Active is the id of the key that seals new values.
func (k *Keyring) Active() string { return k.keys[0].id }

// IDs lists the key ids, active first.
func (k *Keyring) IDs() []string {
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

// String names the keys, never their material.
func (k *Keyring) String() string {
	return "seal.Keyring{active: " + k.Active() + ", keys: " + strings.Join(k.IDs(), ",") + "}"
}

// GoString is String, so that %#v does not print key material either.
func (k *Keyring) GoString() string { return k.String() }

func (k *Keyring) find(id string) *key {
	for _, key := range k.keys {
		if key.id == id {
			return key
		}
	}
	return nil
}

// Errors of Open; they are wrapped with the field and the key id.
var (
	// ErrUnknownKey: the value was sealed under a key id the ring lacks.
	ErrUnknownKey = errors.New("seal: unknown key id")
	// ErrAuth: the value was altered, moved from another field, or sealed
	// under other key material with the same id.
	ErrAuth = errors.New("seal: authentication failed")
	// ErrMalformed: the value starts with "seal:" but is not a sealed value.
	ErrMalformed = errors.New("seal: malformed sealed value")
)

// nonceFor computes the synthetic nonce of a deterministic seal:
// HMAC-SHA256(nonce key, len(field) ‖ field ‖ plaintext)[:12].
func (k *key) nonceFor(nonce []byte, field string, plaintext []byte) {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	n := len(field)
	h.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	io.WriteString(h, field)
	h.Write(plaintext)
	var sum [sha256.Size]byte
	copy(nonce, h.Sum(sum[:0]))
	k.macs.Put(h)
}

// hashPrefix starts a hashed lookup key: "h:<key id>:<base64url>".
const hashPrefix = "h:"

// hashKey returns an opaque, deterministic stand-in for a dedupe or Once
// key, which may embed patient data (an address, a patient id and time):
// "h:<key id>:" and the first 16 bytes of HMAC-SHA256(hash key, kind ‖
// 0x00 ‖ v) in base64url. Unlike a plain hash it cannot be reversed by
// trying every phone number. It depends on the active key, so after a
// rotation a key recorded before is not recognized (see the package
// documentation). An empty v stays empty.
func (k *Keyring) hashKey(kind, v string) string {
	if v == "" {
		return ""
	}
	key := k.keys[0]
	h := key.hashes.Get().(hash.Hash)
	h.Reset()
	io.WriteString(h, kind)
	h.Write([]byte{0})
	io.WriteString(h, v)
	var sum [sha256.Size]byte
	mac := h.Sum(sum[:0])
	key.hashes.Put(h)
	out := make([]byte, 0, len(hashPrefix)+len(key.id)+1+b64.EncodedLen(16))
	out = append(out, hashPrefix...)
	out = append(out, key.id...)
	out = append(out, ':')
	return string(b64.AppendEncode(out, mac[:16]))
}
