package wire

import "encoding/binary"

// Reader reads an encoding from a byte slice.
type Reader struct {
	b   []byte
	err bool
}

// NewReader reads b. b must not change while the Reader is in use: Raw
// returns parts of it.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Failed reports whether a read ran past the end or found a bad value.
func (r *Reader) Failed() bool { return r.err }

// Fail marks the encoding bad, for a value its decoder finds out of range.
func (r *Reader) Fail() { r.err = true }

// Len is the number of bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Uint64 reads eight bytes, little-endian (a float's bits).
func (r *Reader) Uint64() uint64 {
	if len(r.b) < 8 {
		r.err = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Count reads a number of items each encoded in at least min bytes (min
// ≥ 1), and fails when the bytes left cannot hold that many.
func (r *Reader) Count(min int) int {
	n := r.Uvarint()
	if n > uint64(len(r.b)/max(min, 1)) {
		r.err = true
		return 0
	}
	return int(n)
}

// Raw reads a length-prefixed byte string and returns it without copying:
// the caller copies or interns it.
func (r *Reader) Raw() []byte {
	n := r.Count(1)
	if r.err || n == 0 {
		return nil
	}
	raw := r.b[:n:n]
	r.b = r.b[n:]
	return raw
}

// Text reads a length-prefixed string.
func (r *Reader) Text() string { return string(r.Raw()) }

// Bytes reads a length-prefixed byte string into a new slice.
func (r *Reader) Bytes() []byte {
	raw := r.Raw()
	if raw == nil {
		return nil
	}
	return append([]byte(nil), raw...)
}

// AppendText appends s with its length, as Text reads it.
func AppendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
