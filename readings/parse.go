package readings

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tendcare/tend/locales"
)

// Problem is why a typed or keyed reading cannot be recorded as it is. The
// engine acts on it: NotReading lets the message go on to the flow,
// Implausible asks for the reading again (an impossible value is never
// alerted on), UnitUnclear asks which unit ("kg or lb?").
type Problem int

const (
	// OK: the reading is plausible and in its canonical unit.
	OK Problem = iota
	// NotReading: the message does not look like a reading.
	NotReading
	// Implausible: it names a reading (Kind is set) whose value is
	// missing, incomplete or outside the plausible range.
	Implausible
	// UnitUnclear: a weight without a unit that is plausible in both kg
	// and lb; Value holds the number as typed and Unit is empty. Resolve
	// it with WithUnit once the patient (or GuessWeightUnit) says which.
	UnitUnclear
)

func (p Problem) String() string {
	switch p {
	case OK:
		return "ok"
	case NotReading:
		return "not a reading"
	case Implausible:
		return "implausible"
	case UnitUnclear:
		return "unit unclear"
	}
	return "problem?"
}

// Filler limits: how many words that are not the reading's own (keyword,
// unit, numbers, "over") a message may hold and still be read as a
// reading. "my sugar was 210 this morning" is one; "I took my BP pill 2
// times" is a sentence about something else. An implausible reading asks
// the patient again, so it needs a shorter message to be believed.
const (
	maxFiller            = 4
	maxFillerImplausible = 2
)

// ParseText reads a reading typed by a patient: "BP 150/95", "150 over
// 95", "presión 150 sobre 95", "peso 82,4", "weight 182 lb", "sugar 210",
// "azúcar 6,1" (mmol/L), "O2 93", "pulse 72", in the words of any of the
// given languages (all are tried: patients mix them), with the digits of
// any script, full-width forms, and decimal commas. Without a keyword only
// a pair ("150/95", "150 over 95") or a number with a unit ("82.4 kg") is a
// reading. The reading is patient-sourced, canonical, with no time: the
// caller stamps it.
func ParseText(raw string, words []*locales.Words) (Reading, Problem) {
	if !hasDigit(raw) || onlyDigits(raw) {
		// Most messages ("yes", "I took it") have no number at all, and
		// most others are a choice's number ("1"): bare numbers are no
		// reading without a word or a unit, and need no lexing.
		return Reading{}, NotReading
	}
	v := vocabularyOf(words)
	toks := v.lex(raw)
	if len(toks) == 0 {
		return Reading{}, NotReading
	}
	// The first keyword decides the kind; the reading's numbers follow it
	// up to the next keyword, or precede it ("150/95 bp").
	start, end, kind := -1, len(toks), Kind("")
	for i, t := range toks {
		if t.kind == "" {
			continue
		}
		if start < 0 {
			start, kind = i, t.kind
		} else if t.kind != kind {
			end = i
			break
		}
	}
	if start > 0 && hasNumber(toks[:start]) && hasNumber(toks[start+1:end]) {
		// "120/80 hr 60": a reading before the first keyword comes first.
		if r, filler, p := readSegment(toks[:start], ""); p == OK && filler <= maxFiller {
			r.Source = Patient
			return r, OK
		}
	}
	var seg, rest []token // rest: the words around the keyword, outside seg
	keyword := start >= 0
	if keyword {
		seg, rest = toks[start+1:end], toks[:start]
		if !hasNumber(seg) {
			seg, rest = toks[:start], toks[start+1:end]
		}
	} else {
		seg = toks
	}
	r, filler, p := readSegment(seg, kind)
	for _, t := range rest {
		if t.word != "" && t.kind == "" && t.unit == "" && !t.join {
			filler++
		}
	}
	if p == NotReading || (!keyword && r.Kind == "") {
		return Reading{}, NotReading
	}
	if r.Kind == "" {
		r.Kind = kind
	}
	if !keyword && p != OK && p != UnitUnclear {
		// "12/25" alone is a date, not a pressure of 12: without a
		// keyword, only a plausible reading is one.
		return Reading{}, NotReading
	}
	if filler > maxFiller || (p == Implausible && filler > maxFillerImplausible) {
		return Reading{}, NotReading
	}
	r.Source = Patient
	return r, p
}

// ParseTextAs reads raw as ParseText does and, when raw names no reading,
// as a reading of kind: a question that asks for one ("Please measure
// again and reply with the number") is answered with a bare "95" or
// "82,4", which alone would be no reading.
func ParseTextAs(raw string, words []*locales.Words, kind Kind) (Reading, Problem) {
	r, p := ParseText(raw, words)
	if p != NotReading || kind == "" || !Known(kind) || !hasDigit(raw) {
		return r, p
	}
	r, filler, p := readSegment(vocabularyOf(words).lex(raw), kind)
	if p == NotReading || filler > maxFiller || (p == Implausible && filler > maxFillerImplausible) {
		return Reading{}, NotReading
	}
	r.Source = Patient
	return r, p
}

// readSegment reads the numbers, units and joiners of one reading; kind is
// the keyword's ("" when there is none, and then the unit or a pair of
// numbers says it). filler counts the words that are none of these.
func readSegment(seg []token, kind Kind) (r Reading, filler int, p Problem) {
	named := kind != "" // a keyword said what the reading is
	var nums []float64
	var numText []string
	unit, joined := "", false
	pairAt := -1 // index in nums of a pair joined by "/", "-" or "over"
	for i, t := range seg {
		switch {
		case t.num:
			nums = append(nums, t.value)
			numText = append(numText, t.text)
		case t.join:
			if len(nums) > 0 && i+1 < len(seg) && seg[i+1].num && pairAt < 0 {
				pairAt, joined = len(nums)-1, true
			}
		case t.unit != "":
			if unit == "" {
				unit = t.unit
			}
		case t.kind != "":
		default:
			filler++
		}
	}
	if kind == "" {
		switch {
		case unit != "":
			kind = kindOfUnit(unit)
		case joined:
			kind = BloodPressure
		default:
			return Reading{}, filler, NotReading
		}
	}
	if len(nums) == 0 {
		return Reading{}, filler, NotReading
	}
	r.Kind = kind
	if kind == BloodPressure {
		i := 0
		if pairAt >= 0 {
			i = pairAt
		}
		filler += max(len(nums)-2, 0)
		if len(nums) < i+2 || (unit != "" && unit != UnitMmHg) {
			return r, filler, Implausible
		}
		sys, dia := nums[i], nums[i+1]
		if named && unit == "" && cmHg(sys, dia) {
			// "tension 12/8", "pressão 13 por 8,5": centimetres of
			// mercury, as France and Brazil say a pressure aloud.
			sys, dia = math.Round(sys*10), math.Round(dia*10)
		} else if !whole(numText[i]) || !whole(numText[i+1]) {
			return r, filler, Implausible
		}
		r.Systolic, r.Diastolic, r.Unit = int(sys), int(dia), UnitMmHg
		if !Plausible(r) {
			return r, filler, Implausible
		}
		return r, filler, OK
	}
	// Any further number ("sugar 210 at 8") is a word of the sentence.
	filler += len(nums) - 1
	r.Value = nums[0]
	if joined {
		return r, filler, Implausible
	}
	switch {
	case unit == "":
		r, p = fillUnit(r)
		return r, filler, p
	case !unitOf(kind, unit):
		return r, filler, Implausible
	}
	r.Unit = unit
	r = Canonical(r)
	if !Plausible(r) {
		return r, filler, Implausible
	}
	return r, filler, OK
}

// Text writes a canonical reading as a patient could type it, in a form
// ParseText reads back to the same reading with any words or none: a
// channel that takes a reading some other way (a call's keypad) hands it
// to the engine as this text, the same path a typed reading takes.
func Text(r Reading) string {
	if r.Kind == BloodPressure {
		return r.ValueText() + " " + UnitMmHg
	}
	return r.ValueText() + " " + r.Unit
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasDigit reports whether s holds a decimal digit of any script.
// onlyDigits reports whether s is ASCII digits and spaces only.
func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != ' ' {
			return false
		}
	}
	return true
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			return true
		}
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				if unicode.Is(unicode.Nd, r) {
					return true
				}
			}
			return false
		}
	}
	return false
}

func whole(s string) bool { return !strings.Contains(s, ".") }

// cmHg reports whether a pressure is in centimetres of mercury: a systolic
// of 5 to 30 over a smaller diastolic of 3 to 20, which no pressure in
// mmHg can be. Only a reading that names itself ("tension 12/8") is read
// so: "12/8" alone is a date.
func cmHg(sys, dia float64) bool {
	return sys >= 5 && sys <= 30 && dia >= 3 && dia <= 20 && dia < sys
}

func hasNumber(ts []token) bool {
	for _, t := range ts {
		if t.num {
			return true
		}
	}
	return false
}

func kindOfUnit(u string) Kind {
	switch u {
	case UnitMmHg:
		return BloodPressure
	case UnitKg, UnitLb:
		return Weight
	case UnitMgDL, UnitMmolL, UnitGL:
		return Glucose
	case UnitPercent:
		return SpO2
	case UnitPerMin:
		return HeartRate
	}
	return ""
}

// fillUnit gives a number typed or keyed without a unit its unit: the
// kind's canonical one, but a glucose under 35 is mmol/L (no meter shows
// mg/dL that low; research 1.4) and a weight plausible both in kg and in
// lb is UnitUnclear.
func fillUnit(r Reading) (Reading, Problem) {
	switch r.Kind {
	case Glucose:
		r.Unit = UnitMgDL
		if r.Value < mmolGuessBelow {
			r.Unit = UnitMmolL
		}
	case Weight:
		kg := limits[Weight].has(r.Value)
		lb := limits[Weight].has(round(r.Value*KgPerLb, 10))
		switch {
		case kg && lb:
			return r, UnitUnclear
		case lb:
			r.Unit = UnitLb
		default:
			r.Unit = UnitKg
		}
	default:
		r.Unit = CanonicalUnit(r.Kind)
	}
	r = Canonical(r)
	if !Plausible(r) {
		return r, Implausible
	}
	return r, OK
}

// WithUnit settles a reading whose unit was unclear (UnitUnclear) once the
// patient says which: it converts to the canonical unit and checks the
// value again.
func WithUnit(r Reading, unit string) (Reading, Problem) {
	if !unitOf(r.Kind, unit) {
		return r, Implausible
	}
	r.Unit = unit
	r = Canonical(r)
	if !Plausible(r) {
		return r, Implausible
	}
	return r, OK
}

// GuessWeightUnit says which unit an unclear weight (the number as typed)
// is in from the patient's recent weight in kg: the unit that puts it
// within 10 % of the baseline. It returns "" when there is no baseline or
// neither unit fits, and the patient is asked.
func GuessWeightUnit(typed, baselineKg float64) string {
	if baselineKg <= 0 {
		return ""
	}
	near := func(kg float64) bool { return kg >= baselineKg*0.9 && kg <= baselineKg*1.1 }
	switch kg, lb := near(typed), near(typed*KgPerLb); {
	case kg && !lb:
		return UnitKg
	case lb && !kg:
		return UnitLb
	}
	return ""
}

// LooksLikeWrongUnit reports whether a canonical weight is about 2.2
// times (or 1/2.2 of) the patient's recent weight in kg: the patient
// probably typed pounds as kilograms or the other way round, and the
// reading is confirmed before it is classified (research 1.4).
func LooksLikeWrongUnit(r Reading, baselineKg float64) bool {
	if r.Kind != Weight || baselineKg <= 0 {
		return false
	}
	ratio := r.Value / baselineKg
	return (ratio > 1.9 && ratio < 2.5) || (ratio > 1/2.5 && ratio < 1/1.9)
}

// ---- lexing ----

// token is one piece of a typed message: a number, a joiner ("/", "-",
// "over"), or a word, which is a reading keyword (kind), a unit or filler.
type token struct {
	num   bool
	value float64
	text  string // a number as read, "." for the decimal mark
	join  bool
	kind  Kind
	unit  string
	word  string // normalized
}

// vocabulary is the reading words of a set of languages, as phrases of
// normalized words indexed by their first word (longest first); built once
// per set of Words (they do not change after loading) and shared.
type vocabulary struct {
	first  map[string][]phrase
	single map[string]bool
}

type phrase struct {
	words []string
	kind  Kind
	unit  string
	join  bool
}

// vocabKey identifies a set of Words without allocating: the engine
// passes the same slice on every turn.
type vocabKey struct {
	first, last *locales.Words
	n           int
}

var vocabularies sync.Map // vocabKey -> *vocabulary

func vocabularyOf(words []*locales.Words) *vocabulary {
	var key vocabKey
	if n := len(words); n > 0 {
		key = vocabKey{words[0], words[n-1], n}
	}
	if v, ok := vocabularies.Load(key); ok {
		return v.(*vocabulary)
	}
	v := &vocabulary{first: map[string][]phrase{}, single: map[string]bool{}}
	add := func(s string, p phrase) {
		p.words = strings.Fields(locales.Normalize(s))
		if len(p.words) == 0 {
			return
		}
		if len(p.words) == 1 {
			v.single[p.words[0]] = true
		}
		v.first[p.words[0]] = append(v.first[p.words[0]], p)
	}
	// The canonical units' own names are read in every language, so that
	// Text's form of a reading reads back whatever words are loaded.
	for _, u := range []string{UnitMmHg, UnitKg, UnitLb, UnitMgDL, UnitMmolL, UnitPerMin} {
		add(u, phrase{unit: u})
	}
	for _, w := range words {
		if w == nil {
			continue
		}
		for k, list := range w.Readings.Kinds {
			for _, s := range list {
				add(s, phrase{kind: Kind(k)})
			}
		}
		for u, list := range w.Readings.Units {
			for _, s := range list {
				add(s, phrase{unit: u})
			}
		}
		for _, s := range w.Readings.Over {
			add(s, phrase{join: true})
		}
	}
	for w, ps := range v.first {
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].words) > len(ps[j].words) })
		v.first[w] = ps
	}
	actual, _ := vocabularies.LoadOrStore(key, v)
	return actual.(*vocabulary)
}

// lex splits raw into tokens. It reads digits of every script (Unicode
// category Nd) as ASCII, folds full-width and other compatibility forms
// (NFKC: "１５０／９５" is "150/95"), takes "," or "." (or the Arabic
// decimal separator) between digits as a decimal mark, and matches words
// against the vocabulary, longest phrase first, a "/" allowed between a
// phrase's words ("mg/dL").
func (v *vocabulary) lex(raw string) []token {
	if !isASCII(raw) {
		raw = norm.NFKC.String(raw)
	}
	s := []rune(raw)
	var raws []token
	for i := 0; i < len(s); {
		r := s[i]
		switch {
		case unicode.Is(unicode.Nd, r):
			var b strings.Builder
			dot := false
			for i < len(s) {
				c := s[i]
				if unicode.Is(unicode.Nd, c) {
					b.WriteByte(byte('0' + locales.DigitValue(c)))
					i++
					continue
				}
				if (c == '.' || c == ',' || c == '\u066B') && !dot && i+1 < len(s) && unicode.Is(unicode.Nd, s[i+1]) {
					b.WriteByte('.')
					dot = true
					i++
					continue
				}
				break
			}
			raws = append(raws, numberToken(b.String()))
		case unicode.IsLetter(r) || unicode.IsMark(r):
			j := i + 1
			if !unicode.Is(unicode.Han, r) {
				// A run of letters is a word; a Chinese character is a word
				// of its own, as Normalize has it (体重 is 体 重).
				for j < len(s) && (unicode.IsLetter(s[j]) || unicode.IsMark(s[j]) || unicode.Is(unicode.Nd, s[j])) && !unicode.Is(unicode.Han, s[j]) {
					j++
				}
			}
			w := locales.Normalize(string(s[i:j]))
			if !v.single[w] {
				// "bp150" is a keyword and a number; "o2" stays a word.
				k := j
				for k > i && unicode.Is(unicode.Nd, s[k-1]) {
					k--
				}
				if k < j && k > i {
					j = k
					w = locales.Normalize(string(s[i:j]))
				}
			}
			if w != "" {
				raws = append(raws, token{word: w})
			}
			i = j
		case r == '/' || r == '-' || r == '\u2010' || r == '\u2011' || r == '\u2013' || r == '\u2212' || r == '\\':
			raws = append(raws, token{join: true, text: "/"})
			i++
		case r == '%':
			raws = append(raws, token{unit: UnitPercent, word: "%"})
			i++
		default:
			i++
		}
	}
	// Phrases over the word tokens.
	var out []token
	for i := 0; i < len(raws); {
		t := raws[i]
		if t.word == "" || t.unit != "" {
			out = append(out, t)
			i++
			continue
		}
		p, n := v.match(raws[i:])
		if n == 0 {
			out = append(out, t)
			i++
			continue
		}
		out = append(out, token{kind: p.kind, unit: p.unit, join: p.join, word: t.word})
		i += n
	}
	return out
}

// match finds the longest phrase at the start of ts, returning it and how
// many tokens it took (0 when none matches).
func (v *vocabulary) match(ts []token) (phrase, int) {
next:
	for _, p := range v.first[ts[0].word] {
		j := 0
		for wi, w := range p.words {
			if wi > 0 && j < len(ts) && ts[j].join && ts[j].word == "" {
				j++ // "mg/dl"
			}
			if j >= len(ts) || ts[j].word != w {
				continue next
			}
			j++
		}
		return p, j
	}
	return phrase{}, 0
}

func numberToken(s string) token {
	var v, frac float64
	scale := 1.0
	for _, c := range s {
		if c == '.' {
			frac = 1
			continue
		}
		d := float64(c - '0')
		if frac > 0 {
			scale /= 10
			v += d * scale
		} else {
			v = v*10 + d
		}
	}
	return token{num: true, value: round(v, 1e6), text: s}
}

// CheckWords lists what is wrong with a language's reading words (for
// lint; the loader cannot check them, as locales does not know the
// readings package): a kind or unit this package does not know, or, in a
// language that has reading words at all, a kind with none, which leaves
// its patients unable to type it.
func CheckWords(w *locales.Words) []string {
	var out []string
	for k := range w.Readings.Kinds {
		if !Known(Kind(k)) {
			out = append(out, fmt.Sprintf("kinds: %q is not a reading kind (one of %s)", k, kindList()))
		}
	}
	for _, k := range Kinds {
		if len(w.Readings.Kinds) > 0 && len(w.Readings.Kinds[string(k)]) == 0 {
			out = append(out, fmt.Sprintf("kinds: %s has no words", k))
		}
	}
	for u := range w.Readings.Units {
		if kindOfUnit(u) == "" {
			out = append(out, fmt.Sprintf("units: %q is not a unit Tend reads (%s, %s, %s, %s, %s, %s or %s)", u,
				UnitMmHg, UnitKg, UnitLb, UnitMgDL, UnitMmolL, UnitPercent, UnitPerMin))
		}
	}
	sort.Strings(out)
	return out
}
