package locales

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Level is what a message calls for from the safety net.
type Level uint8

const (
	// LevelNone: nothing in the message suggests danger.
	LevelNone Level = iota
	// LevelAsk: a concept is named but negated, in the past, in a question
	// or in words that are not sure: ask the patient before paging anyone.
	LevelAsk
	// LevelEmergency: the safety reply now and an acute ticket.
	LevelEmergency
)

func (l Level) String() string {
	switch l {
	case LevelAsk:
		return "ask"
	case LevelEmergency:
		return "emergency"
	}
	return "none"
}

// Finding is what the detector found in one message.
type Finding struct {
	Level   Level
	Concept string // one of Concepts; empty with LevelNone
	// Why says what made an emergency pattern a question: "negated",
	// "hedged", "value" (a low glucose number without a symptom).
	Why string
}

// Detector finds the emergencies of Concepts in a patient's message,
// in any of the bundled languages at once (patients mix them). It matches
// concepts, not phrases: a pattern is a few terms in order or either order
// with words between, a term is a group of word forms or stems, and a word
// of five letters or more also matches one letter off (a typo). It is
// compiled once from the lexicons and is safe for concurrent use; Detect
// does no I/O and, for an ordinary message, no allocation.
type Detector struct {
	exact    map[string][]uint16 // word form → terms
	stems    map[string][]uint16 // stem → terms
	stemLens []int               // the distinct stem lengths, in bytes
	fuzzy    map[uint64][]int32  // deletion hash → forms
	forms    []fuzzyForm         // forms of five letters or more
	notTypo  map[string]bool
	endings  []ending
	prefixes []prefix // longest first
	// negWords are the negation and negative words: a match that starts
	// with one says no itself ("no puedo respirar", "cant breathe").
	negWords map[string]langSet
	numbers  []numberTerm   // "#10+", "#1950-2099"
	occ      [][]occurrence // term → where patterns use it, last position first
	flags    []termFlag     // term → what else the word means
	termLang []uint8        // term → the language (lexicon) it belongs to
	// hears[l] are the languages whose negations, hedges and ignored
	// phrases act on matches of language l: every language, or, when its
	// lexicon says mixes, l and those.
	hears []langSet
	pats  []pattern
	// seenBit gives terms that something must see anywhere in the message
	// (a pattern's "& @group", the glucose context and symptoms) a bit.
	seenBit  []bitset
	glucose  glucoseTerms
	yes, no  map[string]bool
	concepts []string
}

// prefix is a clitic some languages write onto the front of a word
// (Lexicon.Prefixes): a word is also looked up without it.
type prefix struct {
	text  string
	langs langSet // the languages that declare it: only their terms match
}

// Stripping prefixes: how many, and how many letters must remain (Arabic
// roots have three; "لما", when, less its ل is "ما", not).
const (
	maxPrefixes   = 3
	minUnprefixed = 3
)

// ending is a spoken spelling of a word ending: a word ending in from is
// also looked up ending in to.
type ending struct{ from, to string }

// numberTerm is a term that a number in a range matches.
type numberTerm struct {
	lo, hi int
	term   uint16
}

type fuzzyForm struct {
	text  string
	terms []uint16
}

type occurrence struct {
	pat uint16
	pos uint8
}

type termFlag uint8

const (
	flagNegation termFlag = 1 << iota
	flagBreak
	flagNegAfter // a negation_after word
)

// langSet is a set of languages by their lexicon's index. A negation, a
// hedge or an ignored phrase acts on matches of its own language only:
// English "no" is Vietnamese "nó" (he), Tagalog "di" (not) is Vietnamese
// "đi" (go), and one language's word must not silence another's alarm.
type langSet uint32

// maxLanguages bounds the lexicons one detector compiles (langSet's bits).
const maxLanguages = 32

func (l langSet) has(lang uint8) bool { return l&(1<<lang) != 0 }

type patKind uint8

const (
	kindMatch patKind = iota
	kindAsk
	kindHedge
	kindResolved
	kindIgnore
)

// maxTerms bounds a pattern's length; patterns are short phrases.
const maxTerms = 8

// Gaps: how many words may stand between two terms of a pattern.
const (
	gapNear = 1 // "end my own life", "passed right out"
	gapWide = 4 // "..": "pain in my chest", "chest is really really tight"
	// negationReach is how many words before a match a negation reaches.
	negationReach = 3
	// negationAfterReach is how many words after a match a negation_after
	// word reaches: "दर्द नहीं", "दर्द बिल्कुल नहीं". One less than a
	// negation before it: the next clause often follows with no word to
	// end the first one, and its own negated verb must not silence the
	// match ("सीने में दर्द है पसीना नहीं रुक रहा", chest pain, the sweat
	// won't stop).
	negationAfterReach = 2
	// hedgeReach is how many words from a match a hedge reaches.
	hedgeReach = 6
	// resolvedReach is how far back a hedge that says it is over reaches:
	// "passed out at the wedding from the heat but hes fine now".
	resolvedReach = 10
)

type pattern struct {
	kind     patKind
	concept  uint8
	lang     uint8 // index of the lexicon it comes from
	n        uint8
	gaps     [maxTerms]uint8 // gaps[j]: words allowed between terms j-1 and j
	with     bitset          // seen bits every one of which the message must hold
	negative bool            // the pattern itself is negative ("cant breathe")
	firm     bool            // "!": no hedge makes it a question ("better off if i was gone")
	src      string
}

type glucoseTerms struct {
	context, symptoms bitset // seen bits
	units             map[string]unit
}

type unit uint8

const (
	unitNone unit = iota
	unitMg
	unitMmol
	unitOther // minutes, units of insulin, years...: not a glucose value
)

// LexiconError is a lexicon entry that cannot be compiled, with its place.
type LexiconError struct {
	File string
	Line int
	Err  error
}

func (e *LexiconError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LexiconError) Unwrap() error { return e.Err }

// NewDetector compiles the lexicons of every language into one detector.
// Every problem is returned, each naming its file and line.
func NewDetector(lexicons []*Lexicon) (*Detector, []error) {
	d := &Detector{exact: map[string][]uint16{}, stems: map[string][]uint16{}, fuzzy: map[uint64][]int32{},
		notTypo: map[string]bool{}, negWords: map[string]langSet{}, yes: map[string]bool{}, no: map[string]bool{},
		glucose: glucoseTerms{units: map[string]unit{}}, concepts: concepts}
	c := &compiler{d: d, terms: map[string]uint16{}, forms: map[uint16]int{}, negs: map[uint16]int{}, alarm: map[uint16]bool{}}
	if len(lexicons) > maxLanguages {
		return nil, []error{fmt.Errorf("%d emergency lexicons: at most %d", len(lexicons), maxLanguages)}
	}
	index := map[string]uint8{}
	for i, lex := range lexicons {
		index[lex.Language] = uint8(i)
	}
	d.hears = make([]langSet, len(lexicons))
	for i, lex := range lexicons {
		c.lang = uint8(i)
		c.language(lex)
		d.hears[i] = 1 << i
		if lex.Line["mixes"] == 0 {
			d.hears[i] = ^langSet(0) // no mixes: every language's words act
		}
		for _, m := range lex.Mixes {
			if j, ok := index[m]; ok {
				d.hears[i] |= 1 << j
			} else {
				c.errorf(lex.Line["mixes"], "mixes: %q is not a language with a lexicon", m)
			}
		}
	}
	for i := range d.forms {
		d.forms[i].terms = slices.DeleteFunc(d.forms[i].terms, func(t uint16) bool { return !c.alarm[t] })
	}
	for t := range d.occ {
		// Later positions first, so that one word cannot advance a pattern
		// by two terms.
		slices.SortFunc(d.occ[t], func(a, b occurrence) int { return int(b.pos) - int(a.pos) })
	}
	lens := map[int]bool{}
	for s := range d.stems {
		lens[len(s)] = true
	}
	for l := range lens {
		d.stemLens = append(d.stemLens, l)
	}
	slices.Sort(d.stemLens)
	return d, c.errs
}

// compiler holds NewDetector's state.
type compiler struct {
	d     *Detector
	terms map[string]uint16 // "lang\x00term" → id
	bits  int
	errs  []error
	lex   *Lexicon
	lang  uint8 // index of lex
	// negForms are the language's negation and negative words: a term
	// with one of them makes its patterns negative.
	negForms map[string]bool
	// forms and negs count each term's forms and its negative ones: a
	// term all of whose forms are negative makes its patterns negative.
	forms, negs map[uint16]int
	// alarm holds the terms of match and ask patterns: only they are
	// looked for with a typo. A hedge or an ignore read from a typo would
	// silence an alarm ("shops" is not "shows").
	alarm map[uint16]bool
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &LexiconError{File: c.lex.File, Line: line, Err: fmt.Errorf(format, args...)})
}

func (c *compiler) language(lex *Lexicon) {
	c.lex = lex
	d := c.d
	for _, e := range lex.NotTypos {
		if w, ok := c.word("not_typos", e); ok {
			d.notTypo[w] = true
		}
	}
	for _, e := range lex.Prefixes {
		p := Normalize(e.Text)
		if p == "" || strings.Contains(p, " ") || p != strings.TrimSpace(e.Text) {
			c.errorf(e.Line, "prefix %q: want letters as they are written, normalized (و, ال)", e.Text)
			continue
		}
		if i := slices.IndexFunc(d.prefixes, func(x prefix) bool { return x.text == p }); i >= 0 {
			d.prefixes[i].langs |= 1 << c.lang
			continue
		}
		d.prefixes = append(d.prefixes, prefix{p, 1 << c.lang})
		slices.SortStableFunc(d.prefixes, func(a, b prefix) int { return len(b.text) - len(a.text) })
	}
	for _, e := range lex.Endings {
		from, to, ok := strings.Cut(e.Text, "=")
		from, to = Normalize(from), Normalize(to)
		if !ok || from == "" || to == "" || strings.Contains(from+to, " ") {
			c.errorf(e.Line, "ending %q: want written=lexicon, one word ending each (in=ing)", e.Text)
			continue
		}
		d.endings = append(d.endings, ending{from, to})
	}
	for _, e := range lex.Yes {
		d.yes[c.answer("yes", e)] = true
	}
	for _, e := range lex.No {
		d.no[c.answer("no", e)] = true
	}
	// The negative forms first: a negation word compiled before them
	// would not count as negative, and a pattern holding it (讲不清楚)
	// would not be negative itself.
	c.negForms = map[string]bool{}
	for _, e := range slices.Concat(lex.Negation, lex.Negative) {
		if w, ok := c.word("negation and negative", e); ok {
			c.negForms[w] = true
			d.negWords[w] |= 1 << c.lang
		}
	}
	for _, e := range lex.Negation {
		if t, ok := c.term(e); ok {
			d.flags[t] |= flagNegation
		}
	}
	for _, e := range lex.NegationAfter {
		if t, ok := c.term(e); ok {
			d.flags[t] |= flagNegAfter
		}
	}
	for _, e := range lex.Breaks {
		if t, ok := c.term(e); ok {
			d.flags[t] |= flagBreak
		}
	}
	for _, e := range lex.Hedges {
		c.pattern(e, kindHedge, 0)
	}
	for _, e := range lex.Resolved {
		c.pattern(e, kindResolved, 0)
	}
	for _, e := range lex.Ignore {
		c.pattern(e, kindIgnore, 0) // 0: every concept; i+1: concept i
	}
	for i, id := range concepts {
		con := lex.Concept(id)
		if con == nil {
			continue // lint reports it
		}
		for _, e := range con.Match {
			c.pattern(e, kindMatch, uint8(i))
		}
		for _, e := range con.Ask {
			c.pattern(e, kindAsk, uint8(i))
		}
		for _, e := range con.Ignore {
			c.pattern(e, kindIgnore, uint8(i)+1)
		}
	}
	g := lex.Glucose
	if g.Context.Text != "" {
		if t, ok := c.term(g.Context); ok {
			d.glucose.context.or(c.bit(t))
		}
	}
	if g.Symptoms.Text != "" {
		if t, ok := c.term(g.Symptoms); ok {
			d.glucose.symptoms.or(c.bit(t))
		}
	}
	for _, list := range []struct {
		es Entries
		u  unit
	}{{g.MgDL, unitMg}, {g.MmolL, unitMmol}, {g.NotUnits, unitOther}} {
		for _, e := range list.es {
			if w, ok := c.word("glucose units", e); ok {
				d.glucose.units[w] = list.u
			}
		}
	}
}

// word reads an entry of a list of single words that are not terms
// (negation and negative words are looked up whole, to say that a match
// starts with one; not_typos; glucose units): one word, no "|" or "*",
// which Normalize would otherwise turn into a phrase no message word
// equals, silently.
func (c *compiler) word(list string, e Entry) (string, bool) {
	w := Normalize(strings.TrimSpace(e.Text))
	if w == "" || strings.Contains(w, " ") || strings.ContainsAny(e.Text, "|*()") {
		c.errorf(e.Line, "%s: %q: one word each, no | or *: write alternatives as entries of their own", list, e.Text)
		return "", false
	}
	return w, true
}

// answer reads a yes or no answer: a phrase, matched as the first words of
// a reply, in which "|" would silently be a space ("im fine|ok" is the
// phrase "im fine ok").
func (c *compiler) answer(list string, e Entry) string {
	if strings.ContainsAny(e.Text, "|*()") {
		c.errorf(e.Line, "%q: %q: an answer is a phrase, no | or *: write alternatives as entries of their own", list, e.Text)
	}
	return Normalize(e.Text)
}

// bit gives a term a seen bit (one of 512: every language's & terms and glucose words share them) and returns it.
func (c *compiler) bit(t uint16) bitset {
	d := c.d
	for len(d.seenBit) <= int(t) {
		d.seenBit = append(d.seenBit, bitset{})
	}
	if d.seenBit[t].zero() {
		if c.bits == 64*len(bitset{}) {
			c.errorf(0, "more than 512 terms are required anywhere in a message (& terms and glucose)")
			return bitset{}
		}
		d.seenBit[t][c.bits/64] = 1 << (c.bits % 64)
		c.bits++
	}
	return d.seenBit[t]
}

// bitset holds the seen bits of a message scan: one per term that some
// pattern needs anywhere in the message. Fixed size, so a scan allocates
// nothing; 512 bits hold thirteen languages' terms with room to spare.
type bitset [8]uint64

func (b bitset) zero() bool { return b == bitset{} }
func (b *bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// intersects reports whether b and o share a bit.
func (b bitset) intersects(o bitset) bool {
	for i := range b {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// outside reports whether b has a bit o lacks.
func (b bitset) outside(o bitset) bool {
	for i := range b {
		if b[i]&^o[i] != 0 {
			return true
		}
	}
	return false
}

// pattern compiles "a b .. c ~ d & @e" (see docs/content.md).
func (c *compiler) pattern(e Entry, kind patKind, concept uint8) {
	if strings.ContainsAny(e.Text, "()") {
		phrases, err := expandPhrases(strings.TrimSpace(e.Text))
		if err != nil {
			c.errorf(e.Line, "pattern %q: %v", e.Text, err)
			return
		}
		for _, ph := range phrases {
			c.pattern(Entry{Text: ph, Line: e.Line}, kind, concept)
		}
		return
	}
	src := strings.TrimSpace(e.Text)
	p := pattern{kind: kind, concept: concept, lang: c.lang, src: src}
	if rest, ok := strings.CutPrefix(src, "!"); ok {
		p.firm, src = true, rest
	}
	main, with, _ := strings.Cut(src, "&")
	for w := range strings.SplitSeq(with, "&") {
		if w = strings.TrimSpace(w); w == "" {
			if with != "" || strings.Contains(src, "&") {
				c.errorf(e.Line, "pattern %q: nothing after &", src)
				return
			}
			continue
		}
		t, ok := c.term(Entry{Text: w, Line: e.Line})
		if !ok {
			return
		}
		p.with.or(c.bit(t))
	}
	sides := strings.Split(main, "~")
	if len(sides) > 2 {
		c.errorf(e.Line, "pattern %q: at most one ~ (either order)", src)
		return
	}
	var parts [2][]uint16
	var gaps [2][]uint8
	for i, side := range sides {
		gap := uint8(gapNear)
		toks := strings.Fields(side)
		if len(toks) > 0 && (toks[0] == ".." || toks[len(toks)-1] == "..") {
			// Most often a " #" that YAML read as a comment.
			c.errorf(e.Line, "pattern %q starts or ends with ..: quote a pattern that holds \" #\"", src)
			return
		}
		for _, tok := range toks {
			if tok == ".." {
				gap = gapWide
				continue
			}
			t, ok := c.term(Entry{Text: tok, Line: e.Line})
			if !ok {
				return
			}
			parts[i] = append(parts[i], t)
			gaps[i] = append(gaps[i], gap)
			gap = gapNear
			if c.negs[t] > 0 && c.negs[t] == c.forms[t] {
				p.negative = true
			}
		}
		if len(parts[i]) == 0 {
			c.errorf(e.Line, "pattern %q has an empty side", src)
			return
		}
	}
	if len(parts[0])+len(parts[1]) > maxTerms {
		c.errorf(e.Line, "pattern %q: more than %d terms", src, maxTerms)
		return
	}
	c.add(p, parts[0], gaps[0], parts[1], gaps[1])
	if len(sides) == 2 {
		c.add(p, parts[1], gaps[1], parts[0], gaps[0])
	}
}

// maxPhrases bounds the patterns one entry's parentheses expand to.
const maxPhrases = 32

// expandPhrases writes out the phrase alternatives of a pattern, "(a b|c)
// d" as "a b d" and "c d". A space binds looser than "|": "a b|c d" is
// the three terms a, b|c and d, which is what most patterns mean ("last
// night|week"), so alternatives of several words, which an author may
// write there by mistake (the Arabic "سانتحر|ساقتل نفسي|سانهي حياتي" was
// three terms that matched none of its three phrases), need the
// parentheses. Parentheses stand apart from the words around them, hold
// no parentheses, "~" or "&", and no empty alternative.
func expandPhrases(src string) ([]string, error) {
	out := []string{src}
	for {
		s := out[0]
		open := strings.IndexByte(s, '(')
		closing := strings.IndexByte(s, ')')
		switch {
		case open < 0 && closing < 0:
			return out, nil
		case closing < 0:
			return nil, fmt.Errorf("a %q without its %q", "(", ")")
		case open < 0 || closing < open:
			return nil, fmt.Errorf("a %q without its %q", ")", "(")
		}
		inner := s[open+1 : closing]
		switch {
		case strings.ContainsAny(inner, "(~&"):
			return nil, fmt.Errorf("(%s): parentheses hold words, .. and |, not (, ~ or &", inner)
		case open > 0 && s[open-1] != ' ' && s[:open] != "!", closing+1 < len(s) && s[closing+1] != ' ':
			return nil, fmt.Errorf("(%s): parentheses stand apart from the words around them", inner)
		case len(out)*(strings.Count(inner, "|")+1) > maxPhrases:
			return nil, fmt.Errorf("more than %d phrases: write it as several patterns", maxPhrases)
		}
		var next []string
		for _, p := range out {
			o := strings.IndexByte(p, '(')
			cl := o + strings.IndexByte(p[o:], ')')
			for alt := range strings.SplitSeq(p[o+1:cl], "|") {
				if strings.TrimSpace(alt) == "" {
					return nil, fmt.Errorf("(%s) has an empty alternative", inner)
				}
				next = append(next, p[:o]+strings.TrimSpace(alt)+p[cl+1:])
			}
		}
		out = next
	}
}

// add appends a pattern of the terms a then b, with a wide gap between.
func (c *compiler) add(p pattern, a []uint16, ga []uint8, b []uint16, gb []uint8) {
	d := c.d
	id := uint16(len(d.pats))
	terms := append(slices.Clone(a), b...)
	gaps := append(slices.Clone(ga), gb...)
	if len(b) > 0 {
		gaps[len(a)] = gapWide
	}
	p.n = uint8(len(terms))
	copy(p.gaps[:], gaps)
	for j, t := range terms {
		d.occ[t] = append(d.occ[t], occurrence{pat: id, pos: uint8(j)})
		if p.kind == kindMatch || p.kind == kindAsk {
			c.alarm[t] = true
		}
	}
	d.pats = append(d.pats, p)
}

// term compiles one term: "@group", "form", "stem*" or alternatives joined
// by "|". The same term text in one language is one term.
func (c *compiler) term(e Entry) (uint16, bool) {
	text := strings.TrimSpace(e.Text)
	key := c.lex.Language + "\x00" + text
	if t, ok := c.terms[key]; ok {
		return t, true
	}
	d := c.d
	t := uint16(len(d.occ))
	d.occ = append(d.occ, nil)
	d.flags = append(d.flags, 0)
	d.termLang = append(d.termLang, c.lang)
	c.terms[key] = t
	ok := true
	for alt := range strings.SplitSeq(text, "|") {
		if strings.HasPrefix(alt, "@") {
			g, found := c.lex.Groups[alt[1:]]
			if !found {
				c.errorf(e.Line, "term %q: no group %q in groups", text, alt[1:])
				ok = false
				continue
			}
			for _, ge := range g {
				if strings.HasPrefix(ge.Text, "@") || strings.Contains(ge.Text, "|") {
					c.errorf(ge.Line, "group %s: %q: a group holds words, not other groups", alt[1:], ge.Text)
					ok = false
					continue
				}
				ok = c.form(ge, t) && ok
			}
			continue
		}
		ok = c.form(Entry{Text: alt, Line: e.Line}, t) && ok
	}
	return t, ok
}

// form indexes one word form, stem or number range under term t.
func (c *compiler) form(e Entry, t uint16) bool {
	d := c.d
	raw := strings.TrimSpace(e.Text)
	if strings.HasPrefix(raw, "#") {
		lo, hi, ok := parseRange(raw[1:])
		if !ok {
			c.errorf(e.Line, "%q: a number term is #N+ (N or more) or #N-M", raw)
			return false
		}
		d.numbers = append(d.numbers, numberTerm{lo: lo, hi: hi, term: t})
		return true
	}
	stem := strings.HasSuffix(raw, "*")
	w := Normalize(strings.TrimSuffix(raw, "*"))
	switch {
	case strings.ContainsAny(raw, "()"):
		c.errorf(e.Line, "%q: parentheses group the phrases of a pattern, not words", e.Text)
		return false
	case w == "":
		c.errorf(e.Line, "empty word in %q", e.Text)
		return false
	case strings.Contains(w, " "):
		c.errorf(e.Line, "%q is more than one word: write words apart in a pattern", e.Text)
		return false
	case stem && utf8.RuneCountInString(w) < minStem(w):
		c.errorf(e.Line, "stem %q is shorter than %d letters: it would match too much", e.Text, minStem(w))
		return false
	}
	c.forms[t]++
	if c.negForms[w] {
		c.negs[t]++
	}
	if stem {
		d.stems[w] = addTerm(d.stems[w], t)
		return true
	}
	d.exact[w] = addTerm(d.exact[w], t)
	if utf8.RuneCountInString(w) >= 5 && len(w) <= maxFuzzyBytes {
		i := slices.IndexFunc(d.forms, func(f fuzzyForm) bool { return f.text == w })
		if i < 0 {
			i = len(d.forms)
			d.forms = append(d.forms, fuzzyForm{text: w})
			for h := range deletionHashes(w) {
				d.fuzzy[h] = append(d.fuzzy[h], int32(i))
			}
		}
		d.forms[i].terms = addTerm(d.forms[i].terms, t)
	}
	return true
}

// minStem is the fewest letters a stem may have: three, or two Korean
// syllables, each of which is a consonant and a vowel or more (가슴* is
// 가슴이, 가슴에, 가슴을).
func minStem(w string) int {
	if r, _ := utf8.DecodeRuneInString(w); unicode.Is(unicode.Hangul, r) {
		return 2
	}
	return 3
}

// parseRange reads "10+" or "1950-2099".
func parseRange(s string) (lo, hi int, ok bool) {
	if n, found := strings.CutSuffix(s, "+"); found {
		lo, ok = ASCIIInt(n)
		return lo, 1<<31 - 1, ok
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	lo, ok1 := ASCIIInt(a)
	hi, ok2 := ASCIIInt(b)
	return lo, hi, ok1 && ok2 && lo <= hi
}

// ASCIIInt reads up to nine ASCII digits, nothing else: the value of a
// number written in a normalized message ("12"), without the sign, spaces
// and overflow strconv.Atoi would take.
func ASCIIInt(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func addTerm(ts []uint16, t uint16) []uint16 {
	if slices.Contains(ts, t) {
		return ts
	}
	return append(ts, t)
}

// maxFuzzyBytes bounds the words typos are looked for in: the lexicon's
// words are short, and a long token is not one of them misspelt.
const maxFuzzyBytes = 24

// deletionHashes yields the hash of w and of w less each one of its runes.
// Two words one edit apart (a letter changed, added, dropped or two
// swapped) share one of these hashes, so a typo is found with a few map
// lookups instead of a comparison with every form.
func deletionHashes(w string) func(func(uint64) bool) {
	return func(yield func(uint64) bool) {
		if !yield(fnv(fnvOffset, w)) {
			return
		}
		for i := 0; i < len(w); {
			_, size := utf8.DecodeRuneInString(w[i:])
			if !yield(fnv(fnv(fnvOffset, w[:i]), w[i+size:])) {
				return
			}
			i += size
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// oneEdit reports whether a and b differ by at most one substitution,
// insertion, deletion or swap of two neighbouring runes.
func oneEdit(a, b string) bool {
	if a == b {
		return true
	}
	if d := len(a) - len(b); d > utf8.UTFMax || d < -utf8.UTFMax {
		return false
	}
	// Strip the common prefix and suffix, rune by rune; what is left of
	// each must be one edit.
	for a != "" && b != "" {
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if ra != rb {
			break
		}
		a, b = a[sa:], b[sb:]
	}
	for a != "" && b != "" {
		ra, sa := utf8.DecodeLastRuneInString(a)
		rb, sb := utf8.DecodeLastRuneInString(b)
		if ra != rb {
			break
		}
		a, b = a[:len(a)-sa], b[:len(b)-sb]
	}
	na, nb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	switch {
	case na <= 1 && nb <= 1:
		return true
	case na == 2 && nb == 2:
		a1, s1 := utf8.DecodeRuneInString(a)
		a2, _ := utf8.DecodeRuneInString(a[s1:])
		b1, t1 := utf8.DecodeRuneInString(b)
		b2, _ := utf8.DecodeRuneInString(b[t1:])
		return a1 == b2 && a2 == b1
	}
	return false
}

// Limits of one Detect call's working memory, which lives on the stack:
// beyond them a message's later parts are looked at with less context
// (older partial matches are dropped), never with less safety: a dropped
// negation or hedge leaves a match an emergency.
const (
	maxPartials = 256 // Chinese: every character is a word and opens patterns
	maxMarks    = 32
	maxFound    = 32
	maxWordTerm = 48
)

type partial struct {
	pat         uint16
	pos         uint8
	start, last int32
}

type span struct {
	s, e     int32
	resolved bool
	concept  uint8 // ignores: 0 for all concepts, else 1 + the concept
	lang     uint8 // the language of the hedge or ignored phrase
}

// mark is a word that is a negation (or a negative word) in some
// languages.
type mark struct {
	pos   int32
	langs langSet
}

type candidate struct {
	pat  uint16
	s, e int32
}

// scan is one Detect call's state; it lives on the stack.
type scan struct {
	partials  [maxPartials]partial
	np        int
	negations [maxMarks]mark
	nn        int
	negAfter  [maxMarks]mark // negation_after words
	na        int
	negStarts [maxMarks]mark // words that are negation or negative words
	ns        int
	breaks    [maxMarks]int32 // in half words: see breakBetween
	nb        int
	hedges    [maxMarks]span
	nh        int
	ignores   [maxMarks]span
	ni        int
	found     [maxFound]candidate
	nf        int
	seen      bitset
	// symptoms are where glucose symptom words stand.
	symptoms [maxMarks]int32
	nsym     int
}

// Detect reads one message: raw as the patient sent it (for numbers and
// their decimal marks) and norm, its Normalize form.
func (d *Detector) Detect(raw, norm string) Finding {
	if d == nil {
		return Finding{}
	}
	var sc scan
	var buf [maxWordTerm]uint16
	var cb [maxMarks]int32
	commas := ClauseBreaks(raw, cb[:0])
	pos := int32(0)
	for rest := norm; rest != ""; pos++ {
		word := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			word, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(commas) > 0 && commas[0] == pos {
			// A comma that ends a clause stands before this word:
			// negation and hedges do not reach over it, as over a break
			// word. Patterns do: Chinese strings one event's parts with
			// commas ("他咬到舌头了，在地上抽").
			commas = commas[1:]
			sc.breaks[sc.nb%maxMarks] = 2*pos - 1
			sc.nb++
		}
		if langs := d.negWords[word]; langs != 0 {
			sc.negStarts[sc.ns%maxMarks] = mark{pos, langs}
			sc.ns++
		}
		terms := d.lookup(word, buf[:0])
		if len(terms) == 0 {
			continue
		}
		d.step(&sc, pos, terms)
	}
	return d.decide(&sc, raw)
}

// lookup appends the terms word is a form of (exactly, by a stem, or one
// edit away) to buf.
func (d *Detector) lookup(word string, buf []uint16) []uint16 {
	add := func(ts []uint16) {
		for _, t := range ts {
			if len(buf) < cap(buf) && !slices.Contains(buf, t) {
				buf = append(buf, t)
			}
		}
	}
	add(d.exact[word])
	if len(d.numbers) > 0 {
		if n, ok := ASCIIInt(word); ok {
			for _, r := range d.numbers {
				if r.lo <= n && n <= r.hi {
					add([]uint16{r.term})
				}
			}
		}
	}
	d.stemmed(word, add)
	d.hangulStems(word, add)
	d.respelled(word, add)
	if len(buf) == 0 && len(d.prefixes) > 0 {
		buf = d.unprefixed(word, buf)
	}
	if len(buf) > 0 || len(word) > maxFuzzyBytes || d.notTypo[word] || utf8.RuneCountInString(word) < 4 {
		return buf
	}
	for h := range deletionHashes(word) {
		for _, i := range d.fuzzy[h] {
			if f := &d.forms[i]; oneEdit(word, f.text) {
				add(f.terms)
			}
		}
	}
	return buf
}

// unprefixed appends to buf the terms word is a form of without the
// prefixes its language writes onto words (وبالصدر: بالصدر, الصدر, صدر),
// trying fewer stripped first and stopping at the first remainder that is
// a form or stem of a term of the languages that declare every prefix
// stripped. It works on substrings and a fixed stack, so allocates nothing.
func (d *Detector) unprefixed(word string, buf []uint16) []uint16 {
	type cand struct {
		rest  string
		langs langSet
	}
	var level, next [8]cand
	level[0] = cand{word, ^langSet(0)}
	nl := 1
	var langs langSet // of the remainder being looked up
	add := func(ts []uint16) {
		for _, t := range ts {
			if langs.has(d.termLang[t]) && len(buf) < cap(buf) && !slices.Contains(buf, t) {
				buf = append(buf, t)
			}
		}
	}
	for range maxPrefixes {
		nn := 0
		for _, c := range level[:nl] {
			for _, p := range d.prefixes {
				rest, ok := strings.CutPrefix(c.rest, p.text)
				langs = c.langs & p.langs
				if !ok || langs == 0 || utf8.RuneCountInString(rest) < minUnprefixed || nn == len(next) {
					continue
				}
				next[nn] = cand{rest, langs}
				nn++
				add(d.exact[rest])
				d.stemmed(rest, add)
			}
		}
		if len(buf) > 0 || nn == 0 {
			return buf
		}
		level, nl = next, nn
	}
	return buf
}

// stemmed adds the terms of the stems word starts with.
func (d *Detector) stemmed(word string, add func([]uint16)) {
	for _, l := range d.stemLens {
		if l > len(word) {
			break
		}
		add(d.stems[word[:l]])
	}
}

// hangulStems finds the Korean stems that end inside one of word's
// syllables. An ending's consonant joins the stem's last syllable
// (쓰러지* in 쓰러짐 and 쓰러진, 뛰어내리* in 뛰어내릴), and 어 after a stem's
// ㅣ contracts into ㅕ (쓰러졌어요, 뛰어내려): each syllable after the first
// that ends in ㄴ ㄹ ㅁ ㅂ ㅆ, or has ㅕ, is looked up as the end of a stem with
// ㅣ for its ㅕ, or without its final consonant, in a stack buffer. A noun whose
// own last consonant is one of them (사람) could meet a stem of its open
// form (사라*): lexicons write stems of verbs, which this is for.
func (d *Detector) hangulStems(word string, add func([]uint16)) {
	if len(word) < 6 || word[0] < 0xEA || word[0] > 0xED {
		return // not two Hangul syllables at least
	}
	var b [maxFuzzyBytes + 8]byte
	for i, r := range word {
		if i < 3 || r < 0xAC00 || r > 0xD7A3 {
			continue
		}
		idx := r - 0xAC00
		open := r - idx%28 // without its final consonant
		switch {
		case (idx/28)%21 == 6: // ㅕ: ㅣ + 어
			open = open + (20-6)*28
		case idx%28 == 4 || idx%28 == 8 || idx%28 == 16 || idx%28 == 17 || idx%28 == 20: // ㄴ ㄹ ㅁ ㅂ ㅆ
		default:
			continue
		}
		if i+3 > len(b) {
			return
		}
		n := copy(b[:], word[:i])
		n += utf8.EncodeRune(b[n:], open)
		add(d.stems[string(b[:n])])
	}
}

// respelled looks word up again with each spoken ending in the lexicon's
// spelling ("breathin" as "breathing"), in a stack buffer.
func (d *Detector) respelled(word string, add func([]uint16)) {
	var b [maxFuzzyBytes + 8]byte
	for _, e := range d.endings {
		stem := len(word) - len(e.from)
		if stem < 3 || !strings.HasSuffix(word, e.from) || stem+len(e.to) > len(b) {
			continue
		}
		n := copy(b[:], word[:stem])
		n += copy(b[n:], e.to)
		add(d.exact[string(b[:n])])
		for _, l := range d.stemLens {
			if l > n {
				break
			}
			add(d.stems[string(b[:l])])
		}
	}
}

// step feeds the terms of the word at pos to the partial matches.
func (d *Detector) step(sc *scan, pos int32, terms []uint16) {
	brk := false
	var neg, after langSet
	for _, t := range terms {
		if d.flags[t]&flagNegAfter != 0 {
			after |= 1 << d.termLang[t]
		}
		if d.flags[t]&flagBreak != 0 && !brk {
			brk = true
			sc.breaks[sc.nb%maxMarks] = 2 * pos
			sc.nb++
		}
		if d.flags[t]&flagNegation != 0 {
			neg |= 1 << d.termLang[t]
		}
		if int(t) < len(d.seenBit) {
			sc.seen.or(d.seenBit[t])
			if d.seenBit[t].intersects(d.glucose.symptoms) && sc.nsym < maxMarks && (sc.nsym == 0 || sc.symptoms[sc.nsym-1] != pos) {
				sc.symptoms[sc.nsym] = pos
				sc.nsym++
			}
		}
	}
	if neg != 0 {
		sc.negations[sc.nn%maxMarks] = mark{pos, neg}
		sc.nn++
	}
	if after != 0 && sc.na < maxMarks {
		sc.negAfter[sc.na] = mark{pos, after}
		sc.na++
	}
	// Forget partial matches this word is too far from to continue.
	n := 0
	for _, p := range sc.partials[:sc.np] {
		pat := &d.pats[p.pat]
		if pos-p.last-1 <= int32(pat.gaps[p.pos+1]) {
			sc.partials[n] = p
			n++
		}
	}
	sc.np = n
	for _, t := range terms {
		for _, o := range d.occ[t] {
			pat := &d.pats[o.pat]
			if o.pos == 0 {
				d.advance(sc, o.pat, 0, pos, pos)
				continue
			}
			if sc.np == 0 {
				continue // nothing to continue
			}
			for i := 0; i < sc.np; i++ {
				p := sc.partials[i]
				if p.pat == o.pat && p.pos == o.pos-1 && p.last < pos && pos-p.last-1 <= int32(pat.gaps[o.pos]) {
					d.advance(sc, o.pat, o.pos, p.start, pos)
				}
			}
		}
	}
	if brk {
		// A new clause: only what this word itself continued ("better
		// now") carries over it.
		n := 0
		for _, p := range sc.partials[:sc.np] {
			if p.last == pos {
				sc.partials[n] = p
				n++
			}
		}
		sc.np = n
	}
}

// advance records that pattern pat matched up to term pos, from word start
// to word end: a complete match is found, a partial one kept.
func (d *Detector) advance(sc *scan, pat uint16, pos uint8, start, end int32) {
	p := &d.pats[pat]
	if pos+1 < p.n {
		i := sc.np
		if i == maxPartials {
			// Full: the partial that last moved longest ago makes room.
			i = 0
			for j := range sc.partials {
				if sc.partials[j].last < sc.partials[i].last {
					i = j
				}
			}
		} else {
			sc.np++
		}
		sc.partials[i] = partial{pat: pat, pos: pos, start: start, last: end}
		return
	}
	switch p.kind {
	case kindHedge, kindResolved:
		if sc.nh < maxMarks {
			sc.hedges[sc.nh] = span{s: start, e: end, resolved: p.kind == kindResolved, lang: p.lang}
			sc.nh++
		}
	case kindIgnore:
		if sc.ni < maxMarks {
			sc.ignores[sc.ni] = span{s: start, e: end, concept: p.concept, lang: p.lang}
			sc.ni++
		}
	default:
		sc.addFound(d, candidate{pat: pat, s: start, e: end})
	}
}

// addFound keeps a match for decide. A long message can match more than
// the slots hold ("took my pills" at every line); an emergency at its end
// must not be lost to them, so when the slots are full a question gives
// way to a match, and an earlier place of the same pattern to a later one;
// a further question is dropped.
func (sc *scan) addFound(d *Detector, c candidate) {
	if sc.nf < maxFound {
		sc.found[sc.nf] = c
		sc.nf++
		return
	}
	ask := d.pats[c.pat].kind == kindAsk
	for i := range sc.found {
		if old := sc.found[i]; (!ask && d.pats[old.pat].kind == kindAsk) || old.pat == c.pat {
			sc.found[i] = c
			return
		}
	}
}

// decide weighs what the scan found: the most urgent level wins, then the
// concept that comes first in Concepts.
func (d *Detector) decide(sc *scan, raw string) Finding {
	best := Finding{}
	bestRank := len(d.concepts)
	consider := func(level Level, concept int, why string) {
		if level > best.Level || (level == best.Level && level != LevelNone && concept < bestRank) {
			best, bestRank = Finding{Level: level, Concept: d.concepts[concept], Why: why}, concept
		}
	}
	for _, c := range sc.found[:sc.nf] {
		p := &d.pats[c.pat]
		if p.with.outside(sc.seen) || sc.ignoredFor(c.s, c.e, p.concept+1, d.hears[p.lang]) {
			continue
		}
		switch {
		case p.kind == kindAsk:
			consider(LevelAsk, int(p.concept), "ask")
		case !p.negative && !sc.saysNo(c.s, d.hears[p.lang]) && sc.negated(c.s, d.hears[p.lang]),
			!p.negative && sc.negatedAfter(c.e, d.hears[p.lang]):
			consider(LevelAsk, int(p.concept), "negated")
		case !p.firm && sc.hedged(c.s, c.e, d.hears[p.lang]):
			consider(LevelAsk, int(p.concept), "hedged")
		default:
			consider(LevelEmergency, int(p.concept), "")
		}
	}
	if best.Level < LevelEmergency && !d.glucose.context.zero() && sc.seen.intersects(d.glucose.context) && d.lowGlucose(raw) {
		i := slices.Index(d.concepts, "low_sugar")
		if sc.feelsLow() {
			consider(LevelEmergency, i, "")
		} else {
			consider(LevelAsk, i, "value")
		}
	}
	return best
}

// feelsLow says a glucose symptom stands in the message now, not hedged
// ("shaky yesterday" is not). Negation is not asked: many symptoms are said
// with one ("cant think straight", "no puedo pararme"), and with a very low
// number a wrong yes costs a call, a wrong no a life.
func (sc *scan) feelsLow() bool {
	for _, p := range sc.symptoms[:sc.nsym] {
		if !sc.hedgedAny(p, p) {
			return true
		}
	}
	return false
}

// ignored reports whether words s..e overlap a phrase of lang ignored for
// every concept.
func (sc *scan) ignored(s, e int32, langs langSet) bool { return sc.ignoredFor(s, e, 0, langs) }

// ignoredFor reports whether words s..e overlap a phrase of lang ignored
// for every concept or for concept (1 + its index; 0 for none in
// particular).
func (sc *scan) ignoredFor(s, e int32, concept uint8, langs langSet) bool {
	for _, ig := range sc.ignores[:sc.ni] {
		if ig.s <= e && ig.e >= s && langs.has(ig.lang) && (ig.concept == 0 || ig.concept == concept) {
			return true
		}
	}
	return false
}

// saysNo reports whether word s is a negation or negative word: a match
// that starts with one is negative itself ("no, I can't breathe").
func (sc *scan) saysNo(s int32, langs langSet) bool {
	for _, n := range sc.negStarts[:min(sc.ns, maxMarks)] {
		if n.pos == s && n.langs&langs != 0 {
			return true
		}
	}
	return false
}

// negated reports whether a negation stands within negationReach words
// before word s, in the same clause.
func (sc *scan) negated(s int32, langs langSet) bool {
	for _, m := range sc.negations[:min(sc.nn, maxMarks)] {
		if n := m.pos; m.langs&langs != 0 && n < s && s-n <= negationReach && !sc.breakBetween(n, s) && !sc.ignored(n, n, langs) {
			return true
		}
	}
	return false
}

// negatedAfter reports whether a negation_after word stands within
// negationAfterReach words after word e, in the same clause.
func (sc *scan) negatedAfter(e int32, langs langSet) bool {
	for _, m := range sc.negAfter[:sc.na] {
		if n := m.pos; m.langs&langs != 0 && n > e && n-e <= negationAfterReach && !sc.breakBetween(e, n) && !sc.ignored(n, n, langs) {
			return true
		}
	}
	return false
}

// hedged reports whether a hedge touches words s..e or stands within
// hedgeReach words of them in the same clause; one that says it is over
// ("went away") also from the next clause.
// A hedge inside an ignored phrase does not count.
func (sc *scan) hedged(s, e int32, langs langSet) bool {
	for _, h := range sc.hedges[:sc.nh] {
		switch {
		case !langs.has(h.lang):
		case sc.ignored(h.s, h.e, langs):
			// "since yesterday" is not the past.
		case h.s <= e && h.e >= s:
			return true
		case h.e < s && s-h.e-1 <= hedgeReach && !sc.breakBetween(h.e, s):
			return true
		case h.s > e && h.resolved && h.s-e-1 <= resolvedReach,
			h.s > e && h.s-e-1 <= hedgeReach && !sc.breakBetween(e, h.s):
			// Words that say it is over reach back over "but": "chest
			// pain, but it went away".
			return true
		}
	}
	return false
}

// hedgedAny is hedged for a hedge of any language: a glucose symptom
// belongs to no one pattern.
func (sc *scan) hedgedAny(s, e int32) bool { return sc.hedged(s, e, ^langSet(0)) }

// breakBetween reports whether a clause ends between words a and b. Breaks
// are kept in half words: 2w for the break word w, 2w-1 for a comma before
// word w (ClauseBreaks).
func (sc *scan) breakBetween(a, b int32) bool {
	for _, x := range sc.breaks[:min(sc.nb, maxMarks)] {
		if 2*a < x && x < 2*b {
			return true
		}
	}
	return false
}

// Very low blood sugar (ADA level 2 hypoglycaemia).
const (
	lowMgDL   = 54
	lowMmolL  = 3.0
	minMgDL   = 20  // below, a bare integer is not a mg/dL reading ("sugar 2 times")
	maxMmolL  = 35  // a decimal below this without a unit is mmol/L
	minReport = 0.5 // below, a value is not a reading at all
)

// lowGlucose reports whether raw holds a glucose value that is very low.
// Numbers are read from the raw text because normalizing turns "2.8" into
// "2 8". A number in a word ("a1c"), in a ratio or a time ("150/95",
// "8:30"), or followed by a unit that is not glucose ("45 minutes") is not
// a glucose value.
func (d *Detector) lowGlucose(raw string) bool {
	prev := ' '
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRuneInString(raw[i:])
		// A number glued to a word ("o2", "a1c") is not a reading, but
		// Chinese and Korean glue numbers to words that name them
		// (血糖2.8, 혈당50): after a Han or Hangul letter it is one.
		glued := unicode.IsLetter(prev) && !unicode.In(prev, unicode.Han, unicode.Hangul)
		if !unicode.IsDigit(r) || glued || unicode.IsDigit(prev) || prev == '/' || prev == ':' || prev == '.' || prev == ',' {
			prev = r
			i += size
			continue
		}
		v, frac, n := readNumber(raw[i:])
		i += n
		next, _ := utf8.DecodeRuneInString(raw[i:])
		prev = ' '
		if next == '/' || next == ':' || next == '%' {
			continue
		}
		u := d.unitAfter(raw[i:])
		if u == unitOther {
			continue
		}
		switch {
		case u == unitMmol || (u == unitNone && frac && v < maxMmolL):
			if v >= minReport && v < lowMmolL {
				return true
			}
		case u == unitMg || v >= minMgDL:
			if v >= minMgDL && v < lowMgDL {
				return true
			}
		}
	}
	return false
}

// readNumber reads digits of any script with an optional decimal point or
// comma, and returns the value, whether it had a fraction, and its length.
func readNumber(s string) (v float64, frac bool, n int) {
	scale := 0.0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		switch {
		case unicode.IsDigit(r):
			dv := float64(DigitValue(r))
			if scale == 0 {
				v = v*10 + dv
			} else {
				v += dv * scale
				scale /= 10
			}
		case (r == '.' || r == ',') && scale == 0 && n+size < len(s) && startsWithDigit(s[n+size:]):
			scale, frac = 0.1, true
		default:
			return v, frac, n
		}
		n += size
	}
	return v, frac, n
}

func startsWithDigit(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsDigit(r)
}

// unitAfter reads the word right after a number ("48mg", "2.9 mmol/L",
// "45 min") and says what unit it is.
func (d *Detector) unitAfter(s string) unit {
	s = strings.TrimLeft(s, " ")
	end := 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !unicode.IsLetter(r) {
			break
		}
		end += size
	}
	if end == 0 || end > 24 {
		return unitNone
	}
	word := s[:end]
	for w, u := range d.glucose.units {
		if strings.EqualFold(w, word) {
			return u
		}
	}
	return unitNone
}

// Answer reads a reply to the safety question: yes, no, or neither.
func (d *Detector) Answer(norm string) (yes, no bool) {
	if d == nil || norm == "" {
		return false, false
	}
	for w := norm; ; {
		if d.yes[w] {
			return true, false
		}
		if d.no[w] {
			return false, true
		}
		// "yes it hurts", "no im fine": the first words decide.
		i := strings.LastIndexByte(w, ' ')
		if i < 0 {
			return false, false
		}
		w = w[:i]
	}
}
