package locales

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var normalizeCases = []struct {
	name, in, want string
}{
	// Already normal: returned as is.
	{"empty", "", ""},
	{"digit", "1", "1"},
	{"word", "yes", "yes"},
	{"words", "yes please", "yes please"},

	// Case and width.
	{"upper", "STOP", "stop"},
	{"mixed case", "Yes", "yes"},
	{"full-width digit", "１", "1"},
	{"full-width word", "ＹＥＳ", "yes"},
	{"full-width apostrophe", "ＣＡＮ＇Ｔ", "cant"},
	{"ligature", "ﬁne", "fine"},
	{"superscript", "x²", "x2"},
	{"circled digit", "①", "1"},
	{"half-width katakana recomposed", "ｶﾞ", "ガ"},
	{"kana voicing kept", "がんばる", "がんばる"},
	{"dotted capital i", "İSTANBUL", "istanbul"},

	// Accents.
	{"spanish yes", "SÍ", "si"},
	{"spanish yes lower", "sí", "si"},
	{"spanish", "Español", "espanol"},
	{"enye", "ñ", "n"},
	{"cedilla", "ç", "c"},
	{"french", "ARRÊT", "arret"},
	{"decomposed input", "se\u0301", "se"},
	{"stacked marks", "ṩ", "s"},
	{"vietnamese", "Có", "co"},
	{"greek tonos and final sigma", "ΝΑΙ ναί όχι σας", "ναι ναι οχι σασ"},
	{"arabic harakat", "نَعَمْ", "نعم"},
	{"arabic hamza on alef", "أنا", "انا"},
	{"arabic tatweel", "نعـــم", "نعم"},
	{"hebrew points", "כֵּן", "כן"},

	// Letters of other scripts survive.
	{"arabic", "نعم", "نعم"},
	{"persian", "بله", "بله"},
	{"devanagari", "हाँ", "हाँ"},
	{"devanagari no", "नहीं", "नहीं"},
	{"bengali", "হ্যাঁ", "হ্যাঁ"},
	{"thai", "ใช่", "ใช่"},
	{"chinese", "是的", "是 的"},
	{"chinese sentence", "我胸口很痛！", "我 胸 口 很 痛"},
	{"chinese with latin", "BP是150/95", "bp 是 150 95"},
	{"traditional chinese", "中文", "中 文"},
	{"vietnamese d", "Tiếng Việt, đau ngực", "tieng viet dau nguc"},
	{"korean keeps words", "가슴이 아파요", "가슴이 아파요"},
	{"french ligature", "J'ai mal au cœur", "jai mal au coeur"},
	{"korean faces apart", "너무 아파요ㅠㅠ", "너무 아파요 ㅠ ㅠ"},
	{"arabic letters typed for one another", "مستشفى الطوارئ جلطة", "مستشفي الطواري جلطه"},
	{"korean", "네", "네"},
	{"cyrillic", "ДА", "да"},
	{"cyrillic mixed", "Нет, спасибо", "нет спасибо"},

	// Digits of every script.
	{"arabic-indic", "٣", "3"},
	{"arabic-indic number", "١٢", "12"},
	{"extended arabic-indic", "۷", "7"},
	{"devanagari digit", "५", "5"},
	{"bengali digit", "৯", "9"},
	{"thai digit", "๒", "2"},
	{"full-width number", "１２０/８０", "120 80"},
	{"mathematical digit", "𝟗", "9"},

	// Apostrophes.
	{"apostrophe", "can't", "cant"},
	{"right quote", "can’t", "cant"},
	{"backtick", "can`t", "cant"},
	{"acute accent", "can´t", "cant"},
	{"modifier apostrophe", "canʼt", "cant"},
	{"french elision", "l’eau", "leau"},
	{"quoted", "'yes'", "yes"},
	{"curly quoted", "‘yes’", "yes"},
	{"apostrophe before space", "dogs' food", "dogs food"},
	{"apostrophe in a decomposition", "ŉ0 0ŉ", "n0 0n"},
	{"apostrophe at the end", "yes'", "yes"},

	// Punctuation and symbols.
	{"exclamations", "yes!!", "yes"},
	{"inverted question", "¿sí?", "si"},
	{"parentheses", "(1)", "1"},
	{"trailing dot", "1.", "1"},
	{"ellipsis", "ok...", "ok"},
	{"unicode ellipsis", "ok…", "ok"},
	{"double exclamation emoji", "yes‼️", "yes"},
	{"hyphen", "opt-out", "opt out"},
	{"comma", "1,2", "1 2"},
	{"currency", "$5 €10", "5 10"},
	{"percent", "50%", "50"},
	{"only punctuation", "?!...", ""},
	{"check mark symbol", "✓", ""},
	{"trademark", "Tend™", "tendtm"},

	// Whitespace.
	{"spaces", "  yes   please  ", "yes please"},
	{"tabs and newlines", "\tSTOP\r\n", "stop"},
	{"no-break space", "yes\u00a0please", "yes please"},
	{"ideographic space", "yes\u3000please", "yes please"},
	{"zero-width space", "ye\u200bs", "yes"},
	{"direction marks", "\u200fنعم\u200f", "نعم"},
	{"byte-order mark", "\ufeffyes", "yes"},
	{"control", "yes\x00no", "yes no"},

	// Emoji.
	{"thumbs up", "👍", "👍"},
	{"check", "✅", "✅"},
	{"thumbs down", "👎", "👎"},
	{"skin tone", "👍🏽", "👍"},
	{"dark skin tone", "👎🏿", "👎"},
	{"variation selector", "❤️", "❤"},
	{"keycap", "1️⃣", "1"},
	{"emoji after word", "yes 👍", "yes 👍"},
	{"emoji glued to word", "Ok👍!", "ok👍"},
	{"emoji repeated", "👍👍", "👍👍"},
	{"zwj sequence", "👨‍👩‍👧", "👨‍👩‍👧"},
	{"zwj sequence with skin tone", "🧑🏽‍⚕️", "🧑‍⚕"},
	{"dangling zwj", "👍\u200d!", "👍"},
	{"zwj across space", "👍 \u200d👍", "👍 👍"},
	{"flag", "🇲🇽", "🇲🇽"},
	{"lone skin tone", "🏽", ""},

	// Invalid UTF-8 is a separator, not a crash.
	{"invalid utf-8", "yes\xffno", "yes no"},
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Normalize(tc.in); got != tc.want {
				t.Errorf("Normalize(%q) = %q (%+q), want %q (%+q)", tc.in, got, got, tc.want, tc.want)
			}
		})
	}
}

// A content author's word and a patient's reply go through the same
// function, possibly more than once (a catalog normalized at load, a reply
// normalized again by a caller): folding twice must change nothing.
func TestNormalizeIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			once := Normalize(tc.in)
			if twice := Normalize(once); twice != once {
				t.Errorf("Normalize(Normalize(%q)) = %q, want %q", tc.in, twice, once)
			}
		})
	}
}

func TestNormalizeDoesNotAllocate(t *testing.T) {
	// Not parallel: AllocsPerRun counts allocations of the whole program.
	for _, in := range []string{
		"", "1", "12", "yes", "stop", "no", "yes please",
		"yes!", "1.", "stop\n", // the result is a prefix of the input
		"نعم", "да", "是", "हाँ", "👍", // other scripts and emoji already normal
	} {
		if n := testing.AllocsPerRun(100, func() { _ = Normalize(in) }); n != 0 {
			t.Errorf("Normalize(%q) allocates %v times, want 0", in, n)
		}
	}
}

// Every decimal digit Go knows, in every script, becomes its ASCII digit.
// The value comes from the digit's offset in its run of ten; the zeros of
// well-known scripts pin that the runs are where the rule assumes.
func TestNormalizeDigits(t *testing.T) {
	t.Parallel()
	for _, r16 := range unicode.Nd.R16 {
		checkDigitRange(t, rune(r16.Lo), rune(r16.Hi), rune(r16.Stride))
	}
	for _, r32 := range unicode.Nd.R32 {
		checkDigitRange(t, rune(r32.Lo), rune(r32.Hi), rune(r32.Stride))
	}

	zeros := []struct {
		script string
		zero   rune
	}{
		{"ASCII", '0'},
		{"Arabic-Indic", 0x0660},
		{"Extended Arabic-Indic", 0x06F0},
		{"NKo", 0x07C0},
		{"Devanagari", 0x0966},
		{"Bengali", 0x09E6},
		{"Gurmukhi", 0x0A66},
		{"Gujarati", 0x0AE6},
		{"Tamil", 0x0BE6},
		{"Telugu", 0x0C66},
		{"Malayalam", 0x0D66},
		{"Thai", 0x0E50},
		{"Lao", 0x0ED0},
		{"Tibetan", 0x0F20},
		{"Myanmar", 0x1040},
		{"Khmer", 0x17E0},
		{"Mongolian", 0x1810},
		{"Full-width", 0xFF10},
		{"Mathematical bold", 0x1D7CE},
		{"Mathematical double-struck", 0x1D7D8},
		{"Mathematical monospace", 0x1D7F6},
	}
	for _, z := range zeros {
		for v := rune(0); v < 10; v++ {
			r := z.zero + v
			if !unicode.Is(unicode.Nd, r) {
				t.Errorf("%s %U is not a decimal digit", z.script, r)
				continue
			}
			if got, want := Normalize(string(r)), string('0'+v); got != want {
				t.Errorf("%s: Normalize(%q %U) = %q, want %q", z.script, string(r), r, got, want)
			}
		}
	}
}

func checkDigitRange(t *testing.T, lo, hi, stride rune) {
	t.Helper()
	if stride != 1 || (hi-lo+1)%10 != 0 {
		t.Errorf("unicode.Nd range %U..%U (stride %d) is not whole runs of ten", lo, hi, stride)
		return
	}
	for r := lo; r <= hi; r++ {
		want := string('0' + (r-lo)%10)
		if got := Normalize(string(r)); got != want {
			t.Errorf("Normalize(%q %U) = %q, want %q", string(r), r, got, want)
		}
	}
}

func TestEmojiRanges(t *testing.T) {
	t.Parallel()
	for i, r := range emojiRanges {
		if r[0] > r[1] {
			t.Errorf("emojiRanges[%d] = %U..%U is empty", i, r[0], r[1])
		}
		if i > 0 && emojiRanges[i-1][1] >= r[0] {
			t.Errorf("emojiRanges[%d] = %U..%U overlaps or is out of order", i, r[0], r[1])
		}
	}
	for _, r := range "©®⌚☀☎♥⚠✅✔❤➡⭐〽🀄🇦🇿🌀🍕👍👎🙏🚑🤝🥲🧑🫶" {
		if !isEmojiPart(r) {
			t.Errorf("isEmojiPart(%q %U) = false, want true", r, r)
		}
	}
	for _, r := range "a1 !?.€$✓\u200d\ufe0f🏻🏿ß" {
		if isEmojiPart(r) {
			t.Errorf("isEmojiPart(%q %U) = true, want false", r, r)
		}
	}
}

// FuzzNormalize checks the properties every caller relies on, for any input.
func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Normalize(in)
		if !utf8.ValidString(out) {
			t.Fatalf("Normalize(%q) = %q is not valid UTF-8", in, out)
		}
		if strings.TrimSpace(out) != out || strings.Contains(out, "  ") {
			t.Fatalf("Normalize(%q) = %q has untrimmed or repeated spaces", in, out)
		}
		for _, r := range out {
			if unicode.IsUpper(r) || r == '\ufe0f' || isSkinTone(r) ||
				(r > unicode.MaxASCII && unicode.Is(unicode.Nd, r)) ||
				(r != ' ' && unicode.IsSpace(r)) {
				t.Fatalf("Normalize(%q) = %q keeps %q %U", in, out, r, r)
			}
		}
		if again := Normalize(out); again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", in, out, out, again)
		}
		if got, want := countWords(in), len(strings.Fields(out)); got != want {
			t.Fatalf("ClauseBreaks counts %d words in %q, Normalize writes %d: %q", got, in, want, out)
		}
	})
}

// countWords is the number of words ClauseBreaks's normalizer counts in s.
func countWords(s string) int {
	n := normalizer{src: s, count: true}
	n.feed(s)
	return int(n.words)
}

// TestClauseBreaks pins the commas that end a clause and the word each
// stands before, which must be the word of Normalize's output the detector
// sees there: its word count must be Normalize's.
func TestClauseBreaks(t *testing.T) {
	// Not parallel: AllocsPerRun counts allocations of the whole program.
	for _, tc := range []struct {
		in   string
		want []int32
	}{
		{"没有胸痛，呼吸困难", []int32{4}},                      // full-width comma
		{"没有胸痛,呼吸困难", []int32{4}},                      // ASCII after a Chinese character
		{"我没有胸痛 , 但是呼吸困难", []int32{5}},                 // spaces around it
		{"他翻白眼，身体僵硬，一直抖", []int32{4, 8}},               // two
		{"열은 없어요, 숨을 못 쉬겠어요", []int32{2}},              // Korean with an ASCII comma
		{"बोला नहीं जा रहा, साँस टूट रही", []int32{4}}, // Hindi
		{"没有发烧、胸痛", nil},                               // 、 lists: negation reaches over it
		{"no fever, chest pain", nil},                  // English: the words end clauses
		{"sugar 2,8", nil},                             // a decimal comma
		{"胸痛，，呼吸困难", []int32{2}},                       // one break however many commas
		{"ＣＨＥＳＴ，痛", []int32{1}},                        // full-width letters are one word
		{"痛，", []int32{1}},                             // at the end: before no word
	} {
		got := ClauseBreaks(tc.in, make([]int32, 0, 8))
		if !slices.Equal(got, tc.want) {
			t.Errorf("ClauseBreaks(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got, want := countWords(tc.in), len(strings.Fields(Normalize(tc.in))); got != want {
			t.Errorf("%q: counted %d words, Normalize wrote %d", tc.in, got, want)
		}
	}
	var buf [4]int32
	msg := "没有胸痛，但是呼吸困难"
	if n := testing.AllocsPerRun(100, func() { _ = ClauseBreaks(msg, buf[:0]) }); n != 0 {
		t.Errorf("ClauseBreaks allocates %v times, want 0", n)
	}
}

var sink string

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ascii-normal", "yes"},
		{"ascii-digit", "1"},
		{"ascii-upper", "YES"},
		{"ascii-punct", "Yes, I took it!"},
		{"accented", "¿Sí, lo tomé?"},
		{"full-width", "ＹＥＳ"},
		{"arabic-digits", "٢"},
		{"emoji-skin-tone", "👍🏽"},
		{"sentence", "Sí, ya me tomé la medicina de la presión esta mañana 👍"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				sink = Normalize(bc.in)
			}
		})
	}
}
