package locales

// SMS limits, in septets for GSM-7 and in UTF-16 code units for UCS-2. A
// message longer than one segment is sent as a concatenated SMS whose
// segments each give up room to a user data header (6 bytes): 7 septets in
// GSM-7, 3 code units in UCS-2.
const (
	gsmSingle  = 160
	gsmMulti   = 153
	ucs2Single = 70
	ucs2Multi  = 67
)

// Segments returns how many SMS segments text is sent, and billed, as, and
// whether it must be sent in UCS-2. Cost and throughput are counted in
// segments, and content lint keeps every patient-facing SMS within a budget
// of them, so the count must be the carriers' and not len(text)/160: one
// character outside the GSM 03.38 alphabet (ó, ç, any emoji, any Arabic or
// Devanagari letter) switches the whole message to UCS-2 and cuts a segment
// from 160 characters to 70, and the characters of the GSM extension table
// (€ [ ] { } \ ^ ~ | and form feed) take two septets each.
//
// A concatenated message is split where a phone can reassemble it: never
// between the escape and its extension character, nor between the two
// halves of a surrogate pair (an emoji), so such a character that would
// straddle a boundary starts the next segment.
//
// Empty text counts as one segment: carriers still send, and bill, one.
func Segments(text string) (n int, ucs2 bool) {
	septets := 0
	for _, r := range text {
		w := gsmSeptets(r)
		if w == 0 {
			ucs2 = true
			break
		}
		septets += w
	}
	if !ucs2 {
		if septets <= gsmSingle {
			return 1, false
		}
		return pack(text, gsmMulti, gsmSeptets), false
	}
	units := 0
	for _, r := range text {
		units += ucs2Units(r)
	}
	if units <= ucs2Single {
		return 1, true
	}
	return pack(text, ucs2Multi, ucs2Units), true
}

// pack counts the segments of size units that text fills when no
// character's units are split across two segments.
func pack(text string, size int, width func(rune) int) int {
	n, used := 1, 0
	for _, r := range text {
		w := width(r)
		if used+w > size {
			n++
			used = 0
		}
		used += w
	}
	return n
}

// ucs2Units is the length of r in UTF-16: characters outside the Basic
// Multilingual Plane, which is where most emoji are, take a surrogate pair.
func ucs2Units(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

// gsmSeptets returns the septets r takes in the GSM 7-bit default alphabet:
// 1 in the basic character set, 2 in the extension table (escape and
// character), 0 when r cannot be sent in GSM-7 at all.
func gsmSeptets(r rune) int {
	if r < rune(len(gsmASCII)) {
		return int(gsmASCII[r])
	}
	switch r {
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿',
		'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '€':
		return 2
	}
	return 0
}

// gsmBasic is the GSM 03.38 basic character set in code order, 0x00 to 0x7F.
// Position 0x1B is the escape to the extension table, not a character, and
// is written here as U+FFFF, which Segments never counts as GSM.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\uFFFFÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà"

// gsmExtension holds the characters of the GSM 03.38 extension table, each
// sent as the escape 0x1B followed by its code: form feed, ^ { } \ [ ~ ] | €.
const gsmExtension = "\f^{}\\[~]|€"

// gsmASCII is gsmSeptets for the ASCII range, the common case, as a table.
var gsmASCII = func() (t [128]uint8) {
	for _, r := range gsmBasic {
		if r < 128 {
			t[r] = 1
		}
	}
	for _, r := range gsmExtension {
		if r < 128 {
			t[r] = 2
		}
	}
	return t
}()
