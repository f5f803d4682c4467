package locales

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Concepts returns the situations that need an immediate safety reply, in
// the order a message that names several is answered: a risk of suicide
// first, because its reply carries both the crisis line and the emergency
// number. Every language's lexicon must describe every one of them. The
// slice is the caller's.
func Concepts() []string { return slices.Clone(concepts) }

var concepts = []string{
	"suicide",
	"chest_pain",
	"breathing",
	"stroke",
	"fainting",
	"overdose",
	"bleeding",
	"low_sugar",
	"seizure",
	"allergy",
}

// Lexicon is one language's emergency lexicon, as written in
// locales/safety/<lang>.yaml: the words and patterns that say a patient may
// be in danger now, and the words that say they are not (negation, the
// past, a question). It is data for content authors and clinicians; the
// conversations package compiles every language's lexicon into one
// detector. docs/content.md describes the format.
type Lexicon struct {
	Language string `yaml:"language"`
	// Groups name lists of one-word forms ("pain", "hurt*") that patterns
	// refer to as @name.
	Groups map[string]Entries `yaml:"groups"`
	// Negation words turn a match that follows within three words into a
	// question ("no chest pain").
	Negation Entries `yaml:"negation"`
	// NegationAfter are negation words that follow what they negate, as
	// Hindi "नहीं" does ("सीने में दर्द नहीं है", no chest pain): a match
	// that one of them follows within two words, in the same clause, is
	// a question. Negation alone only looks back; a language that says no
	// after the noun or the verb declares these rather than listing every
	// "... नहीं है" phrase under ignore.
	NegationAfter Entries `yaml:"negation_after"`
	// Negative words make a pattern that holds them negative itself
	// ("cant breathe"): a negation before it does not turn it into a
	// question ("no, I can't breathe").
	Negative Entries `yaml:"negative"`
	// Breaks end a clause: negation, hedges and patterns do not reach
	// across them ("no fever but my chest hurts"). Chinese, Korean and
	// Hindi commas end negation and hedges too, not patterns
	// (ClauseBreaks).
	Breaks Entries `yaml:"breaks"`
	// Hedges are patterns that put a match in the past, the future or a
	// question ("yesterday", "what if"): the patient is asked instead.
	Hedges Entries `yaml:"hedges"`
	// Mixes, when the key is there, are the only languages whose
	// negations, hedges and ignored phrases act on this language's
	// matches besides its own: the ones patients mix in (Taglish). Without
	// the key every language's do, as patients mix close languages
	// freely ("tengo chest pain"); a language one of whose words is
	// another's negation or hedge (Vietnamese "nó", he, is English "no")
	// says mixes to be safe from them.
	Mixes []string `yaml:"mixes"`
	// Resolved are hedges that say it is over ("went away", "ya pasó"):
	// they reach back over a break ("chest pain but it went away").
	Resolved Entries `yaml:"resolved"`
	// Ignore are patterns whose words never count ("chest of drawers").
	Ignore Entries `yaml:"ignore"`
	// NotTypos are real words one letter away from a lexicon word, which
	// must not be read as its misspelling ("paint" is not "faint").
	NotTypos Entries `yaml:"not_typos"`
	// Prefixes are letters a language writes onto the front of a word
	// (Arabic و and, ف so, ب with, ل for, ال the: وبالصدر is "and in the
	// chest"): a word that matches no term as written is looked up again
	// without them, one, two or three deep, while three letters or more
	// remain, before it is read as a typo. Listing every clitic form of
	// every word (صدري, بصدري, وصدري, فصدري, لصدري ...) missed the ones
	// nobody listed. Only the declaring language's terms are found this
	// way, so no other language's matching changes.
	Prefixes Entries `yaml:"prefixes"`
	// Endings are spoken spellings of word endings, "written=lexicon"
	// ("in=ing": "breathin" is read as "breathing"), tried when a word is
	// not in any lexicon as written.
	Endings Entries `yaml:"endings"`
	// Yes and No answer the safety question ("Do you have chest pain now?").
	Yes Entries `yaml:"yes"`
	No  Entries `yaml:"no"`
	// Glucose says how a number in a message is read as a blood sugar.
	Glucose Glucose `yaml:"glucose"`
	// Concepts holds the patterns of each of Concepts.
	Concepts map[string]*Concept `yaml:"concepts"`

	File string         `yaml:"-"`
	Line map[string]int `yaml:"-"` // top-level key → line, for lint
}

// Concept is what a lexicon says about one situation. A Match pattern is an
// emergency unless it is negated or hedged, which makes it a question; an
// Ask pattern is always a question.
type Concept struct {
	Match Entries `yaml:"match"`
	Ask   Entries `yaml:"ask"`
	// Ignore are phrases whose words never count for this concept ("blood
	// test" is no bleeding, but "blood sugar" may still be low).
	Ignore Entries `yaml:"ignore"`
	Line   int     `yaml:"-"`
}

// Glucose reads blood sugar numbers: a number in a message that also holds
// a Context word is a glucose value; below 54 mg/dL or 3.0 mmol/L it is very
// low, an emergency with a word of Symptoms and a question without.
type Glucose struct {
	Context  Entry   `yaml:"context"`  // a pattern term, e.g. "@sugar"
	Symptoms Entry   `yaml:"symptoms"` // a pattern term, e.g. "@hypo"
	MgDL     Entries `yaml:"mg"`       // unit words after a number: mg/dL
	MmolL    Entries `yaml:"mmol"`     // unit words after a number: mmol/L
	NotUnits Entries `yaml:"not_units"`
}

// Entry is one string of a lexicon with the line it is on, so that lint and
// start-up name the line of a bad entry.
type Entry struct {
	Text string
	Line int
}

// Entries is a list of Entry.
type Entries []Entry

// UnmarshalYAML keeps the entry's line.
func (e *Entry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a string", n.Line)
	}
	e.Text, e.Line = n.Value, n.Line
	return nil
}

// Texts returns the entries' strings.
func (es Entries) Texts() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Text
	}
	return out
}

// Concept returns the lexicon's entry for a concept, nil when it has none.
func (l *Lexicon) Concept(id string) *Concept {
	if l.Concepts == nil {
		return nil
	}
	return l.Concepts[id]
}

// LoadLexicons reads safety/<lang>.yaml for every language in dir.
func LoadLexicons(fsys fs.FS, dir string) (map[string]*Lexicon, []error) {
	files, _ := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	out := map[string]*Lexicon{}
	var errs []error
	for _, f := range files {
		lex, err := parseLexicon(fsys, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[lex.Language] = lex
	}
	return out, errs
}

func parseLexicon(fsys fs.FS, file string) (*Lexicon, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, &ParseError{File: file, Err: err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ParseError{File: file, Line: YAMLErrLine(err), Err: err}
	}
	lex := &Lexicon{File: file, Line: map[string]int{}}
	if len(doc.Content) == 0 {
		return nil, &ParseError{File: file, Line: 1, Err: errors.New("the lexicon is empty")}
	}
	root := doc.Content[0]
	if err := root.Decode(lex); err != nil {
		return nil, &ParseError{File: file, Line: YAMLErrLine(err), Err: err}
	}
	if err := strictKeys(root, lex); err != nil {
		return nil, &ParseError{File: file, Line: err.line, Err: err}
	}
	lang := strings.TrimSuffix(path.Base(file), ".yaml")
	if lex.Language == "" {
		lex.Language = lang
	}
	if lex.Language != lang {
		return nil, &ParseError{File: file, Line: 1, Err: fmt.Errorf("language %q does not match the file name", lex.Language)}
	}
	return lex, nil
}

// keyError is an unknown key, with its line.
type keyError struct {
	line int
	msg  string
}

func (e *keyError) Error() string { return e.msg }

// strictKeys refuses keys the format does not know (a misspelt "concepts"
// would silently disable detection) and records where each part is.
func strictKeys(root *yaml.Node, lex *Lexicon) *keyError {
	if root.Kind != yaml.MappingNode {
		return &keyError{root.Line, "a lexicon is a map"}
	}
	known := []string{"language", "mixes", "groups", "negation", "negation_after", "negative", "breaks", "hedges", "resolved", "ignore", "not_typos", "prefixes", "endings", "yes", "no", "glucose", "concepts"}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return &keyError{k.Line, fmt.Sprintf("unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))}
		}
		lex.Line[k.Value] = k.Line
		switch k.Value {
		case "concepts":
			for j := 0; j+1 < len(v.Content); j += 2 {
				ck, cv := v.Content[j], v.Content[j+1]
				c := lex.Concepts[ck.Value]
				if c == nil {
					return &keyError{ck.Line, fmt.Sprintf("concept %q has no patterns", ck.Value)}
				}
				c.Line = ck.Line
				for m := 0; m+1 < len(cv.Content); m += 2 {
					if f := cv.Content[m].Value; f != "match" && f != "ask" && f != "ignore" {
						return &keyError{cv.Content[m].Line, fmt.Sprintf("concept %s: unknown key %q (known: match, ask, ignore)", ck.Value, f)}
					}
				}
			}
		case "glucose":
			for j := 0; j+1 < len(v.Content); j += 2 {
				if f := v.Content[j].Value; !slices.Contains([]string{"context", "symptoms", "mg", "mmol", "not_units"}, f) {
					return &keyError{v.Content[j].Line, fmt.Sprintf("glucose: unknown key %q (known: context, symptoms, mg, mmol, not_units)", f)}
				}
			}
		}
	}
	return nil
}
