package locales

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	u := func(n int) string { return strings.Repeat("ó", n) } // one UCS-2 unit
	tests := []struct {
		name     string
		text     string
		wantN    int
		wantUCS2 bool
	}{
		{"empty", "", 1, false},
		{"one char", "1", 1, false},

		// GSM-7: 160 in one segment, 153 each when concatenated.
		{"gsm 160", a(160), 1, false},
		{"gsm 161", a(161), 2, false},
		{"gsm 153x2", a(306), 2, false},
		{"gsm 153x2+1", a(307), 3, false},
		{"gsm 153x3", a(459), 3, false},
		{"gsm newline and cr", a(158) + "\r\n", 1, false},

		// Extension characters take two septets.
		{"euro 159+2 > 160", a(159) + "€", 2, false},
		{"euro 158+2 = 160", a(158) + "€", 1, false},
		{"80 euros", strings.Repeat("€", 80), 1, false},
		{"81 euros", strings.Repeat("€", 81), 2, false},
		{"every extension char", "\f^{}\\[~]|€" + a(140), 1, false},
		{"every extension char over", "\f^{}\\[~]|€" + a(141), 2, false},
		// The escape pair may not be split: a euro in septets 153-154
		// moves whole to the second segment.
		{"euro straddles 153", a(152) + "€" + a(10), 2, false},
		{"euro straddles 153, full second", a(152) + "€" + a(151), 2, false},
		{"euro straddles 153, spills", a(152) + "€" + a(152), 3, false},
		{"euro fits at 152-153", a(151) + "€" + a(153), 2, false},
		{"euro fits at 152-153, spills", a(151) + "€" + a(154), 3, false},

		// UCS-2: 70 in one segment, 67 each when concatenated.
		{"ucs2 70", u(70), 1, true},
		{"ucs2 71", u(71), 2, true},
		{"ucs2 67x2", u(134), 2, true},
		{"ucs2 67x2+1", u(135), 3, true},
		{"one non-GSM char makes all UCS-2", a(69) + "ó", 1, true},
		{"one non-GSM char over 70", a(70) + "ó", 2, true},
		{"lower c cedilla is not GSM", "ç", 1, true},
		{"backtick is not GSM", "`", 1, true},
		{"arabic", "نعم", 1, true},
		{"devanagari", "हाँ", 1, true},

		// Characters outside the BMP take a surrogate pair.
		{"emoji", "👍", 1, true},
		{"35 emoji", strings.Repeat("👍", 35), 1, true},
		{"36 emoji", strings.Repeat("👍", 36), 2, true},
		{"emoji straddles 67", u(66) + "👍" + u(10), 2, true},
		{"emoji straddles 67, full second", u(66) + "👍" + u(65), 2, true},
		{"emoji straddles 67, spills", u(66) + "👍" + u(66), 3, true},
		{"emoji fits at 66-67", u(65) + "👍" + u(67), 2, true},
		{"emoji fits at 66-67, spills", u(65) + "👍" + u(68), 3, true},
		// BMP characters that happen to be emoji take one unit.
		{"bmp emoji", strings.Repeat("✅", 70), 1, true},

		// Spanish: ó is not GSM-7; é, ¿ and ñ are.
		{"spanish ucs2", "¿Tomó su medicamento?", 1, true},
		{"spanish gsm", "¿Qué?", 1, false},
		{"spanish gsm enye", "¿Mañana a las 8? Responda SÍ o NO", 1, true},
		{"spanish gsm without accent", "¿Mañana a las 8? Responda SI o NO", 1, false},
		{"greek capitals are gsm", "ΔΦΓΛΩΠΨΣΘΞ", 1, false},
		{"greek lower case is not", "α", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, ucs2 := Segments(tc.text)
			if n != tc.wantN || ucs2 != tc.wantUCS2 {
				t.Errorf("Segments(%d chars %.20q...) = %d, %v; want %d, %v",
					utf8.RuneCountInString(tc.text), tc.text, n, ucs2, tc.wantN, tc.wantUCS2)
			}
		})
	}
}

// The alphabet is written out once in code order; the fast paths must agree
// with it for every rune, and nothing else may count as GSM-7.
func TestGSMAlphabet(t *testing.T) {
	t.Parallel()
	if n := utf8.RuneCountInString(gsmBasic); n != 128 {
		t.Fatalf("gsmBasic has %d characters, want 128", n)
	}
	basic := map[rune]bool{}
	for i, r := range []rune(gsmBasic) {
		if i == 0x1B {
			if r != '\uFFFF' {
				t.Errorf("gsmBasic[0x1B] = %q, want the escape placeholder", r)
			}
			continue
		}
		basic[r] = true
	}
	// Spot checks of positions that are easy to get wrong.
	for pos, want := range map[int]rune{
		0x00: '@', 0x01: '£', 0x02: '$', 0x09: 'Ç', 0x0A: '\n', 0x0D: '\r',
		0x10: 'Δ', 0x11: '_', 0x1F: 'É', 0x24: '¤', 0x40: '¡', 0x5B: 'Ä',
		0x5F: '§', 0x60: '¿', 0x7F: 'à',
	} {
		if got := []rune(gsmBasic)[pos]; got != want {
			t.Errorf("gsmBasic[%#x] = %q, want %q", pos, got, want)
		}
	}
	ext := map[rune]bool{}
	for _, r := range gsmExtension {
		ext[r] = true
	}
	if len(ext) != 10 {
		t.Errorf("gsmExtension has %d characters, want 10", len(ext))
	}
	for r := rune(0); r <= 0x10FFFF; r++ {
		want := 0
		switch {
		case basic[r]:
			want = 1
		case ext[r]:
			want = 2
		}
		if got := gsmSeptets(r); got != want {
			t.Errorf("gsmSeptets(%q %U) = %d, want %d", r, r, got, want)
		}
	}
}

func BenchmarkSegments(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"gsm", "Hola Ana, ¿tomo su medicina hoy? Responda 1 si la tomo, 2 si no. Para dejar de recibir mensajes responda PARAR."},
		{"ucs2", strings.Repeat("¿Tomó su medicamento? 👍 ", 8)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Segments(bc.in)
			}
		})
	}
}
