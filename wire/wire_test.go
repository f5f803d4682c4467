package wire

import (
	"encoding/binary"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.LittleEndian.AppendUint64(b, 1<<40)
	b = AppendText(b, "héllo")
	b = AppendText(b, "")
	b = binary.AppendUvarint(b, 2)
	b = AppendText(b, "a")
	b = AppendText(b, "b")
	r := NewReader(b)
	if r.Byte() != 7 || r.Uvarint() != 300 || r.Varint() != -5 || r.Uint64() != 1<<40 || r.Text() != "héllo" || r.Text() != "" {
		t.Fatal("values differ")
	}
	if n := r.Count(2); n != 2 || r.Text() != "a" || string(r.Bytes()) != "b" {
		t.Fatalf("count %d", n)
	}
	if r.Failed() || r.Len() != 0 {
		t.Fatalf("failed %v, %d left", r.Failed(), r.Len())
	}
}

// Every truncation of a valid encoding fails rather than panics, and a
// count larger than the bytes left fails before anything is allocated.
func TestTruncatedAndCorrupt(t *testing.T) {
	t.Parallel()
	b := binary.AppendUvarint(nil, 1<<20)
	b = AppendText(b, "abc")
	b = binary.LittleEndian.AppendUint64(b, 9)
	for i := range len(b) {
		r := NewReader(b[:i])
		r.Uvarint()
		r.Text()
		r.Uint64()
		if !r.Failed() {
			t.Errorf("truncated at %d: not failed", i)
		}
	}
	r := NewReader(binary.AppendUvarint(nil, 1000))
	if n := r.Count(1); n != 0 || !r.Failed() {
		t.Errorf("Count = %d, failed %v", n, r.Failed())
	}
	r = NewReader(append(binary.AppendUvarint(nil, 5), "ab"...))
	if s := r.Text(); s != "" || !r.Failed() {
		t.Errorf("Text = %q, failed %v", s, r.Failed())
	}
}
