package locales

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds a patient's reply and a content author's word to the same
// form, so that matching is a plain string comparison. Patients answer from
// every kind of keyboard: "SÍ", "si", "Sí!!", "ＹＥＳ" and "yes 👍🏽" must all
// reach the same branch of a flow as the words the author wrote.
//
// The folding is, in order: Unicode compatibility decomposition (NFKD, which
// turns full-width and other presentation forms into plain ones), lower case,
// removal of accents (combining marks of the Latin, Greek, Cyrillic, Arabic and
// Hebrew scripts and of no script in particular; the vowel signs of Indic and
// Southeast Asian scripts are letters' spelling and stay), decimal digits of
// every script to ASCII, apostrophes inside a word removed ("can't" is
// "cant"), every other punctuation mark and symbol that is not an emoji to a
// space, whitespace collapsed and trimmed, and recomposition (NFC) of what
// remains. Chinese characters become words of their own (Chinese has no
// spaces), Vietnamese đ becomes d, as patients without the key type it,
// and the Arabic letters patients type for one another are one (ى ی → ي,
// ة → ه, ک → ك).
// Emoji survive as the patient sent them, less variation selectors
// and skin-tone modifiers, so that 👍🏽 matches the 👍 an author wrote.
//
// Normalize runs on every inbound message: a string that is already in
// normal form, such as "1" or "yes", is returned without allocating.
func Normalize(s string) string {
	if isNormalASCII(s) {
		return s
	}
	n := normalizer{src: s}
	n.feed(s)
	return n.result()
}

// feed folds s rune by rune (Normalize's work; ClauseBreaks counts the
// words it would write).
func (n *normalizer) feed(s string) {
	prev := rune(' ') // while counting: the last rune of s that is not a space
	for i := 0; i < len(s); {
		c := s[i]
		if n.count {
			r, _ := utf8.DecodeRuneInString(s[i:])
			if isClauseComma(r, prev) {
				n.clause()
			}
			if !unicode.IsSpace(r) {
				prev = r
			}
		}
		if c < utf8.RuneSelf {
			if c == '\'' || c == '`' {
				n.apostrophe(firstRune(s[i+1:]))
			} else {
				n.rune(rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		next := s[i+size:]
		if isApostrophe(r) {
			n.apostrophe(firstRune(next))
		} else if isKoreanFace(r) {
			n.rune(r) // before NFKD, which would make it part of a syllable
		} else if d := norm.NFKD.PropertiesString(s[i:]).Decomposition(); d != nil {
			// The decomposition is complete (not one level deep), so each
			// of its runes is final.
			for len(d) > 0 {
				dr, dsize := utf8.DecodeRune(d)
				d = d[dsize:]
				switch {
				case !isApostrophe(dr):
					n.rune(dr)
				case len(d) > 0: // ŉ is ʼn
					r, _ := utf8.DecodeRune(d)
					n.apostrophe(r)
				default:
					n.apostrophe(firstRune(next))
				}
			}
		} else {
			n.rune(r)
		}
		i += size
	}
}

// isNormalASCII reports whether s is already lower-case ASCII letters and
// digits separated by single spaces: most replies ("1", "yes", "stop") are,
// and this check is all they cost.
func isNormalASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' ':
		default:
			return false
		}
	}
	return true
}

// normalizer accumulates Normalize's output. While the output is a prefix of
// the input it is not copied at all ("yes!" returns "yes" as a substring);
// the first byte that differs switches to a builder.
type normalizer struct {
	src      string
	n        int // output bytes so far while they equal src[:n]
	b        strings.Builder
	copied   bool // the output lives in b
	any      bool // something has been written
	space    bool // a separator is pending before the next written rune
	zwj      bool // a zero-width joiner is pending between two emoji
	word     bool // the last rune written is part of a word (letter, digit, mark)
	emoji    bool // the last rune written is an emoji
	nonASCII bool // the output holds a non-ASCII rune, so may need NFC
	// count makes the normalizer write nothing and count the words it
	// would write, noting where a clause comma stands (ClauseBreaks).
	// The breaks are an array, not the caller's slice: the builder's
	// methods leak the normalizer's contents to the heap.
	count   bool
	words   int32
	breaks  [maxMarks]int32
	nbreaks int
}

// rune folds one rune of the (decomposed) input and writes what is left of it.
func (n *normalizer) rune(r rune) {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			n.write(r, true)
		case 'A' <= r && r <= 'Z':
			n.write(r+('a'-'A'), true)
		default:
			// Whitespace, controls, punctuation and symbols.
			n.separate()
		}
		return
	}
	switch {
	case r == '\uFE0E', r == '\uFE0F', isSkinTone(r):
		// Variation selectors and skin tones only change how an emoji looks.
	case r == '\u200D':
		// A joiner is kept only inside an emoji sequence (👨‍👩‍👧).
		if n.emoji && !n.space {
			n.zwj = true
		}
	case isEmojiPart(r):
		n.write(r, false)
		n.emoji = true
	case unicode.Is(unicode.Han, r), isKoreanFace(r):
		// Chinese is written without spaces: each character is a word of
		// its own, so that a lexicon or answer term is one or two
		// characters and patterns allow the words between them. Korean
		// letters standing alone (ㅠㅠ, ㅋㅋ) are faces, not part of the
		// word they are typed against (아파요ㅠㅠ).
		n.separate()
		n.write(r, true)
		n.separate()
	case unicode.IsLetter(r):
		switch r {
		case '\u0640': // Arabic tatweel only stretches a word.
		case 'đ', 'Đ': // Vietnamese đ is typed d on phones without the key.
			n.write('d', true)
		case 'œ', 'Œ': // French cœur: phones write the ligature, people oe.
			n.write('o', true)
			n.write('e', true)
		case 'æ', 'Æ':
			n.write('a', true)
			n.write('e', true)
		case 'ى', 'ی': // Arabic alef maksura and Persian yeh are typed for ي.
			n.write('ي', true)
		case 'ة': // Arabic taa marbuta is typed as ه as often as not.
			n.write('ه', true)
		case 'ک': // Persian keheh for Arabic kaf.
			n.write('ك', true)
		case 'ς': // Greek final sigma is a position, not a letter.
			n.write('σ', true)
		default:
			n.write(unicode.ToLower(r), true)
		}
	case unicode.Is(unicode.Nd, r):
		n.write('0'+rune(digitValue(r)), true)
	case unicode.Is(unicode.Mn, r):
		if !isAccent(r) {
			n.write(r, true)
		}
	case unicode.Is(unicode.Mc, r):
		n.write(r, true)
	case unicode.Is(unicode.Me, r):
		// Enclosing marks: the keycap of 1️⃣, circles, ...: the enclosed
		// character is what the patient meant.
	case unicode.Is(unicode.Cf, r):
		// Invisible formatting (zero-width space, direction marks, soft
		// hyphen, byte-order mark) joins rather than separates.
	case unicode.IsSpace(r), unicode.Is(unicode.Z, r), unicode.Is(unicode.Cc, r),
		unicode.IsPunct(r), unicode.IsSymbol(r):
		n.separate()
	default:
		// Other numbers (No, Nl), private use and characters newer than
		// this Go's Unicode tables: keep rather than lose them.
		n.write(r, true)
	}
}

// apostrophe drops an apostrophe between two parts of a word ("can't",
// "l’eau") and treats any other (a quotation mark) as a separator. next is
// the rune after the apostrophe, or -1 at the end of the input.
func (n *normalizer) apostrophe(next rune) {
	if n.word && !n.space &&
		(unicode.IsLetter(next) || unicode.IsDigit(next) || unicode.IsMark(next)) {
		return
	}
	n.separate()
}

// firstRune returns the first rune of s, or -1 if s is empty.
func firstRune(s string) rune {
	if s == "" {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func (n *normalizer) separate() {
	n.space = true
	n.zwj = false
}

// write appends r, preceded by the pending separator or joiner.
func (n *normalizer) write(r rune, word bool) {
	if n.count {
		if !n.any || n.space {
			n.words++
		}
		n.space, n.zwj = false, false
		n.any, n.word, n.emoji = true, word, false
		return
	}
	if n.any {
		if n.space {
			n.put(' ')
		} else if n.zwj && !word {
			n.put('\u200D')
		}
	}
	n.space, n.zwj = false, false
	n.put(r)
	n.any, n.word, n.emoji = true, word, false
}

func (n *normalizer) put(r rune) {
	if r >= utf8.RuneSelf {
		n.nonASCII = true
	}
	if !n.copied {
		if r < utf8.RuneSelf {
			if n.n < len(n.src) && n.src[n.n] == byte(r) {
				n.n++
				return
			}
		} else {
			var buf [utf8.UTFMax]byte
			k := utf8.EncodeRune(buf[:], r)
			if n.n+k <= len(n.src) && n.src[n.n:n.n+k] == string(buf[:k]) {
				n.n += k
				return
			}
		}
		n.copied = true
		n.b.Grow(len(n.src) + utf8.UTFMax)
		n.b.WriteString(n.src[:n.n])
	}
	n.b.WriteRune(r)
}

func (n *normalizer) result() string {
	out := n.src[:n.n]
	if n.copied {
		out = n.b.String()
	}
	if n.nonASCII {
		// Recompose what decomposition split and no rule removed: the
		// voicing mark of ｶﾞ and が, Indic nukta forms, ... NFC returns a
		// string that is already composed as it is.
		out = norm.NFC.String(out)
	}
	return out
}

// isApostrophe reports whether r is written as an apostrophe on some keyboard:
// phones substitute ’ for ', and ´ ` ′ ʼ are typed in its place.
func isApostrophe(r rune) bool {
	switch r {
	case '\'', '`', '´', '‘', '’', 'ʼ', '′', '＇':
		return true
	}
	return false
}

// isAccent reports whether the nonspacing mark r is an accent a patient may
// or may not type (é, ñ, the Arabic harakat, Hebrew points) rather than part
// of how a word is spelled, as the vowel signs of Devanagari or Thai are.
func isAccent(r rune) bool {
	if r == '\u3099' || r == '\u309A' {
		// Japanese voicing marks make different syllables (か, が).
		return false
	}
	return unicode.In(r, unicode.Inherited, unicode.Latin, unicode.Greek,
		unicode.Cyrillic, unicode.Arabic, unicode.Hebrew)
}

// DigitValue returns the value of the decimal digit r of any script.
func DigitValue(r rune) int { return digitValue(r) }

// digitValue returns the value of the decimal digit r. Unicode encodes the
// digits of every script (category Nd) as runs of ten in order from zero,
// sometimes several runs back to back, so the value is the distance from the
// start of r's run of digits, modulo ten; no per-script table is needed.
func digitValue(r rune) int {
	start := r
	for start > 0 && unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10
}

func isSkinTone(r rune) bool { return 0x1F3FB <= r && r <= 0x1F3FF }

// isEmojiPart reports whether r is a pictograph (Unicode's
// Extended_Pictographic property) or a regional indicator, the halves of a
// flag. Go's unicode package has no emoji property, and general categories
// cannot tell ✅ from ✓, so the ranges are listed here; they include the
// blocks Unicode reserves for future emoji, so new emoji need no update.
func isEmojiPart(r rune) bool {
	if r < 0xA9 {
		return false
	}
	lo, hi := 0, len(emojiRanges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case emojiRanges[m][1] < r:
			lo = m + 1
		case emojiRanges[m][0] > r:
			hi = m
		default:
			return true
		}
	}
	return false
}

// emojiRanges are Extended_Pictographic from Unicode's emoji-data.txt (stable
// since Emoji 11.0), plus the regional indicators U+1F1E6..U+1F1FF, sorted
// and disjoint.
var emojiRanges = [...][2]rune{
	{0x00A9, 0x00A9}, {0x00AE, 0x00AE}, {0x203C, 0x203C}, {0x2049, 0x2049},
	{0x2122, 0x2122}, {0x2139, 0x2139}, {0x2194, 0x2199}, {0x21A9, 0x21AA},
	{0x231A, 0x231B}, {0x2328, 0x2328}, {0x2388, 0x2388}, {0x23CF, 0x23CF},
	{0x23E9, 0x23F3}, {0x23F8, 0x23FA}, {0x24C2, 0x24C2}, {0x25AA, 0x25AB},
	{0x25B6, 0x25B6}, {0x25C0, 0x25C0}, {0x25FB, 0x25FE}, {0x2600, 0x2605},
	{0x2607, 0x2612}, {0x2614, 0x2685}, {0x2690, 0x2705}, {0x2708, 0x2712},
	{0x2714, 0x2714}, {0x2716, 0x2716}, {0x271D, 0x271D}, {0x2721, 0x2721},
	{0x2728, 0x2728}, {0x2733, 0x2734}, {0x2744, 0x2744}, {0x2747, 0x2747},
	{0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757},
	{0x2763, 0x2767}, {0x2795, 0x2797}, {0x27A1, 0x27A1}, {0x27B0, 0x27B0},
	{0x27BF, 0x27BF}, {0x2934, 0x2935}, {0x2B05, 0x2B07}, {0x2B1B, 0x2B1C},
	{0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x3030, 0x3030}, {0x303D, 0x303D},
	{0x3297, 0x3297}, {0x3299, 0x3299},
	{0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F}, {0x1F12F, 0x1F12F},
	{0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1FF}, {0x1F201, 0x1F20F},
	{0x1F21A, 0x1F21A}, {0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A},
	{0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA}, {0x1F400, 0x1F53D},
	{0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F},
	{0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F},
	{0x1F85A, 0x1F85F}, {0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF},
	{0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1FAFF},
	{0x1FC00, 0x1FFFD},
}

// isKoreanFace reports whether r is a Hangul compatibility letter, which
// standing alone is a face (ㅠㅠ crying, ㅋㅋ laughing), not a syllable.
func isKoreanFace(r rune) bool { return 0x3131 <= r && r <= 0x318E }

// ClauseBreaks appends to breaks the positions of the words of
// Normalize(raw) that a comma which ends a clause stands before (word 0 is
// the first), at most cap(breaks) of them, and returns it. Normalize turns
// every punctuation mark into a space, which is right for matching words but
// loses where a clause ends; in English the words do that ("but", "now"),
// while Chinese and Korean end a clause with a comma where English would
// say "and" or "but": "没有胸痛，呼吸困难" is no chest pain, (but) trouble
// breathing. The emergency detector ends negation and hedges there as it
// does at a break word; patterns reach over it (Chinese strings one
// event's parts with commas). The commas are the full-width ， and the
// small ﹐, and an ASCII "," typed after a Chinese character, a Hangul
// syllable or a Devanagari letter (Hindi: "बोला नहीं जा रहा, साँस टूट
// टूट कर आ रही है" is a negated clause, then trouble breathing); a comma in
// other text is left alone, as the lexicons were measured without it. The
// enumeration comma 、 is not one: it joins the items of a list, over which
// a negation reaches ("没有发烧、胸痛", no fever or chest pain). Counting
// runs the normalizer a second time, only over a message that has such a
// comma. It does not allocate when breaks has room.
func ClauseBreaks(raw string, breaks []int32) []int32 {
	if !hasClauseComma(raw) {
		return breaks
	}
	n := normalizer{src: raw, count: true}
	n.feed(raw)
	for _, b := range n.breaks[:n.nbreaks] {
		if len(breaks) == cap(breaks) {
			break
		}
		breaks = append(breaks, b)
	}
	return breaks
}

// clause notes a clause comma before the next word.
func (n *normalizer) clause() {
	if k := n.nbreaks; k < len(n.breaks) && (k == 0 || n.breaks[k-1] != n.words) {
		n.breaks[k] = n.words
		n.nbreaks++
	}
}

// hasClauseComma is a quick look for what isClauseComma finds, so that a
// message without one (an English message with commas too) costs a byte
// scan, not a second pass of the normalizer.
func hasClauseComma(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',':
			prev, _ := utf8.DecodeLastRuneInString(strings.TrimRight(s[:i], " "))
			if isClauseComma(',', prev) {
				return true
			}
		case 0xEF: // the first byte of ， and ﹐
			if r, _ := utf8.DecodeRuneInString(s[i:]); isClauseComma(r, 0) {
				return true
			}
		}
	}
	return false
}

// isClauseComma reports whether r, after the rune prev (the last one that
// is not a space), is a comma that ends a clause (ClauseBreaks).
func isClauseComma(r, prev rune) bool {
	switch r {
	case '，', '﹐':
		return true
	case ',':
		return unicode.In(prev, unicode.Han, unicode.Hangul, unicode.Devanagari)
	}
	return false
}
