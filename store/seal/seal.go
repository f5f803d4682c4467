package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

const (
	prefix    = "seal:"
	nonceSize = 12
	tagSize   = 16
)

var b64 = base64.RawURLEncoding.Strict()

// Seal seals plaintext as a value of field under the active key, with a
// random nonce: sealing the same plaintext twice gives different values.
func (k *Keyring) Seal(field, plaintext string) string {
	return k.keys[0].sealString(field, plaintext, false)
}

// SealDeterministic seals plaintext as a value of field under the active
// key with a synthetic nonce: the same field and plaintext always give the
// same value under one key, so the value can be a lookup key.
func (k *Keyring) SealDeterministic(field, plaintext string) string {
	return k.keys[0].sealString(field, plaintext, true)
}

// Open returns the plaintext of a value sealed for field under any key of
// the ring. A value without the "seal:" prefix is returned as it is. The
// errors wrap ErrUnknownKey, ErrAuth or ErrMalformed and name the field and
// the key id, never the value.
func (k *Keyring) Open(field, value string) (string, error) {
	if !strings.HasPrefix(value, prefix) {
		return value, nil
	}
	kid, body, ok := strings.Cut(value[len(prefix):], ":")
	key, err := k.keyOf(field, kid, ok)
	if err != nil {
		return "", err
	}
	raw, err := b64.DecodeString(body)
	if err != nil || len(raw) < nonceSize+tagSize {
		return "", fmt.Errorf("seal: %s under key %q: %w", fieldName(field), kid, ErrMalformed)
	}
	pt, err := key.aead.Open(raw[nonceSize:nonceSize], raw[:nonceSize], raw[nonceSize:], key.aad(field))
	if err != nil {
		return "", fmt.Errorf("seal: %s under key %q: %w", fieldName(field), kid, ErrAuth)
	}
	return string(pt), nil
}

// SealBytes seals data as a value of field under the active key with a
// random nonce: "seal:<key id>:" followed by the raw nonce, ciphertext and
// tag.
func (k *Keyring) SealBytes(field string, data []byte) []byte {
	key := k.keys[0]
	h := len(prefix) + len(key.id) + 1
	out := make([]byte, h+nonceSize+len(data)+tagSize)
	copy(out, prefix)
	copy(out[len(prefix):], key.id)
	out[h-1] = ':'
	nonce := out[h : h+nonceSize]
	rand.Read(nonce)
	pt := out[h+nonceSize : h+nonceSize+len(data)]
	copy(pt, data)
	key.aead.Seal(pt[:0], nonce, pt, key.aad(field))
	return out
}

// OpenBytes opens what SealBytes sealed; data without the "seal:" prefix is
// returned as it is.
func (k *Keyring) OpenBytes(field string, data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return data, nil
	}
	rest := data[len(prefix):]
	i := bytes.IndexByte(rest[:min(len(rest), maxKeyID+1)], ':')
	kid := ""
	if i >= 0 {
		kid = string(rest[:i])
	}
	key, err := k.keyOf(field, kid, i >= 0)
	if err != nil {
		return nil, err
	}
	raw := rest[i+1:]
	if len(raw) < nonceSize+tagSize {
		return nil, fmt.Errorf("seal: %s under key %q: %w", fieldName(field), kid, ErrMalformed)
	}
	pt, err := key.aead.Open(nil, raw[:nonceSize], raw[nonceSize:], key.aad(field))
	if err != nil {
		return nil, fmt.Errorf("seal: %s under key %q: %w", fieldName(field), kid, ErrAuth)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

func (k *Keyring) keyOf(field, kid string, ok bool) (*key, error) {
	if !ok || !validKeyID(kid) {
		return nil, fmt.Errorf("seal: %s: %w", fieldName(field), ErrMalformed)
	}
	key := k.find(kid)
	if key == nil {
		return nil, fmt.Errorf("seal: %s under key %q: %w", fieldName(field), kid, ErrUnknownKey)
	}
	return key, nil
}

// sealString seals plaintext under k: the value's header, then base64url
// of nonce ‖ ciphertext ‖ tag.
func (k *key) sealString(field, plaintext string, deterministic bool) string {
	raw := make([]byte, nonceSize+len(plaintext)+tagSize)
	nonce, pt := raw[:nonceSize], raw[nonceSize:nonceSize+len(plaintext)]
	copy(pt, plaintext)
	if deterministic {
		k.nonceFor(nonce, field, pt)
	} else {
		rand.Read(nonce)
	}
	k.aead.Seal(pt[:0], nonce, pt, k.aad(field)) // in place; raw has room for the tag
	out := make([]byte, 0, len(prefix)+len(k.id)+1+b64.EncodedLen(len(raw)))
	out = append(out, prefix...)
	out = append(out, k.id...)
	out = append(out, ':')
	out = b64.AppendEncode(out, raw)
	return string(out)
}

// aad is the additional authenticated data: key id ‖ 0x00 ‖ field. A key
// id holds no NUL, so the split is unambiguous.
func (k *key) aad(field string) []byte {
	a := make([]byte, 0, len(k.id)+1+len(field))
	a = append(a, k.id...)
	a = append(a, 0)
	return append(a, field...)
}

// fieldName is a field as errors show it: without the patient ID that a
// timer name's field carries after a NUL.
func fieldName(field string) string {
	name, _, _ := strings.Cut(field, "\x00")
	return name
}

// The helpers below are what the store decorator uses: they leave an empty
// value empty (it tells nothing, and an empty field stays omitted).

func (k *Keyring) sealRandom(field, v string) string {
	if v == "" {
		return ""
	}
	return k.keys[0].sealString(field, v, false)
}

func (k *Keyring) sealDeterministic(field, v string) string {
	if v == "" {
		return ""
	}
	return k.keys[0].sealString(field, v, true)
}

func (k *Keyring) open(field, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	return k.Open(field, v)
}

// others lists how a deterministic value may also be stored: sealed under
// each key but the active one, then, with inClear, as it is (written before
// encryption was enabled).
func (k *Keyring) others(field, v string, inClear bool) []string {
	out := make([]string, 0, len(k.keys))
	for _, key := range k.keys[1:] {
		out = append(out, key.sealString(field, v, true))
	}
	if inClear {
		out = append(out, v)
	}
	return out
}

// keyIDOf returns the key id of a sealed value, "" for a clear one.
func keyIDOf(v string) string {
	if !strings.HasPrefix(v, prefix) {
		return ""
	}
	kid, _, _ := strings.Cut(v[len(prefix):], ":")
	return kid
}
