package content

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"

	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/risk"
)

//go:embed default
var defaultFiles embed.FS

// DefaultLanguage is the language of patients whose own is not bundled and
// of replies to numbers that are not enrolled.
const DefaultLanguage = "en"

// Default is the bundled pack: programs and flows from content/default and
// the catalogs and words from the locales package.
func Default() fs.FS {
	sub, _ := fs.Sub(defaultFiles, "default")
	return overlay{sub, prefixed{"locales/", locales.Files}}
}

// Dir is a pack on disk (TEND_CONTENT_DIR). A pack without its own locales/
// folder uses the bundled catalogs and words.
func Dir(dir string) fs.FS {
	own := os.DirFS(dir)
	if _, err := fs.Stat(own, "locales"); err == nil {
		return own
	}
	return overlay{own, prefixed{"locales/", locales.Files}}
}

// Overlay is a pack made of top's files over base's: a clinic's changes
// over the bundled pack, or a test's.
func Overlay(top, base fs.FS) fs.FS { return overlay{top, base} }

// overlay serves names from the first FS that has them.
type overlay [2]fs.FS

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o[0].Open(name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	return o[1].Open(name)
}

func (o overlay) Glob(pattern string) ([]string, error) {
	a, err := fs.Glob(o[0], pattern)
	if err != nil {
		return nil, err
	}
	b, err := fs.Glob(o[1], pattern)
	return append(a, b...), err
}

// prefixed serves fsys under a path prefix ("locales/" + name).
type prefixed struct {
	prefix string
	fsys   fs.FS
}

func (p prefixed) Open(name string) (fs.File, error) {
	rest, ok := strings.CutPrefix(name, p.prefix)
	if !ok {
		if name+"/" == p.prefix {
			return p.fsys.Open(".")
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return p.fsys.Open(rest)
}

func (p prefixed) Glob(pattern string) ([]string, error) {
	rest, ok := strings.CutPrefix(pattern, p.prefix)
	if !ok {
		return nil, nil
	}
	names, err := fs.Glob(p.fsys, rest)
	for i := range names {
		names[i] = p.prefix + names[i]
	}
	return names, err
}

// Problem is one finding of lint, placed at a file and line.
type Problem struct {
	File    string
	Line    int
	Warning bool // warnings do not stop the server
	Msg     string
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, kind, p.Msg)
}

// LintError is returned by Load when a pack has errors; it lists them all.
type LintError struct{ Problems []Problem }

func (e *LintError) Error() string {
	var b strings.Builder
	n := 0
	for _, p := range e.Problems {
		if p.Warning {
			continue
		}
		if n > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.String())
		n++
	}
	return fmt.Sprintf("content pack has %d error(s):\n%s", n, b.String())
}

// Load reads and lints a pack. It returns the pack and every problem found;
// the error is a *LintError when any problem is not a warning.
func Load(fsys fs.FS) (*Pack, []Problem, error) {
	p, problems := parse(fsys)
	if p != nil {
		problems = append(problems, Lint(p)...)
	}
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	for _, pr := range problems {
		if !pr.Warning {
			return p, problems, &LintError{Problems: problems}
		}
	}
	return p, problems, nil
}

func parse(fsys fs.FS) (*Pack, []Problem) {
	var problems []Problem
	addErr := func(err error) {
		var pe *locales.ParseError
		if errors.As(err, &pe) {
			problems = append(problems, Problem{File: pe.File, Line: pe.Line, Msg: pe.Err.Error()})
			return
		}
		problems = append(problems, Problem{File: "?", Msg: err.Error()})
	}
	cat, errs := locales.LoadCatalog(fsys, "locales/catalog", DefaultLanguage)
	for _, err := range errs {
		addErr(err)
	}
	words, errs := locales.LoadWords(fsys, "locales/words")
	for _, err := range errs {
		addErr(err)
	}
	if cat == nil {
		return nil, problems
	}
	p := &Pack{Programs: map[string]*Program{}, Flows: map[string]*Flow{}, Catalog: cat, Words: words}
	problems = append(problems, parseSafety(fsys, p)...)
	p.Languages = cat.Languages()
	sort.SliceStable(p.Languages, func(i, j int) bool { return p.Languages[i] == DefaultLanguage })
	p.LanguageList = languageList(p)
	p.matcher = languageMatcher(p.Languages)

	flowFiles, _ := fs.Glob(fsys, "flows/*.yaml")
	if len(flowFiles) == 0 {
		problems = append(problems, Problem{File: "flows", Msg: "no flows (flows/*.yaml)"})
	}
	for _, f := range flowFiles {
		var fl Flow
		root, err := decodeStrict(fsys, f, &fl)
		if err != nil {
			problems = append(problems, Problem{File: f, Line: locales.YAMLErrLine(err), Msg: err.Error()})
			continue
		}
		fl.File, fl.Line = f, root.Line
		placeFlow(&fl, root)
		if fl.ID == "" {
			problems = append(problems, Problem{File: f, Line: root.Line, Msg: "flow has no id"})
			continue
		}
		if prev, dup := p.Flows[fl.ID]; dup {
			problems = append(problems, Problem{File: f, Line: root.Line, Msg: fmt.Sprintf("flow %q is also defined in %s", fl.ID, prev.File)})
			continue
		}
		if pr := addConfidence(&fl); pr != nil {
			problems = append(problems, *pr)
		}
		p.Flows[fl.ID] = &fl
	}
	progFiles, _ := fs.Glob(fsys, "programs/*.yaml")
	if len(progFiles) == 0 {
		problems = append(problems, Problem{File: "programs", Msg: "no programs (programs/*.yaml)"})
	}
	for _, f := range progFiles {
		var pr Program
		root, err := decodeStrict(fsys, f, &pr)
		if err != nil {
			problems = append(problems, Problem{File: f, Line: locales.YAMLErrLine(err), Msg: err.Error()})
			continue
		}
		pr.File, pr.Line = f, root.Line
		if pr.ID == "" {
			problems = append(problems, Problem{File: f, Line: root.Line, Msg: "program has no id"})
			continue
		}
		p.Programs[pr.ID] = &pr
	}
	problems = append(problems, parseChannels(fsys, p)...)
	problems = append(problems, parseRules(fsys, p)...)
	problems = append(problems, parseMedications(fsys, p)...)
	problems = append(problems, parseRisk(fsys, p)...)
	return p, problems
}

// parseRisk loads the risk points table: the pack's risk.yaml, or the
// bundled one for a pack without it.
func parseRisk(fsys fs.FS, p *Pack) []Problem {
	t, ps := risk.Load(fsys)
	if t == nil && len(ps) == 0 {
		sub, _ := fs.Sub(defaultFiles, "default")
		t, ps = risk.Load(sub)
	}
	var problems []Problem
	for _, pr := range ps {
		problems = append(problems, Problem{File: risk.File, Line: firstLine(pr.Line), Msg: pr.Msg})
	}
	p.Risk = t
	return problems
}

// parseSafety loads the emergency lexicons and compiles the detector.
func parseSafety(fsys fs.FS, p *Pack) []Problem {
	var problems []Problem
	own, errs := locales.LoadLexicons(fsys, "locales/safety")
	for _, err := range errs {
		problems = append(problems, problemOf(err))
	}
	bundled, errs := locales.LoadLexicons(locales.Files, "safety")
	for _, err := range errs {
		problems = append(problems, problemOf(err))
	}
	p.Safety = own
	for lang, lex := range bundled {
		if p.Safety[lang] == nil {
			p.Safety[lang] = lex
		}
	}
	var list []*locales.Lexicon
	for _, lang := range sortedKeys(p.Safety) {
		list = append(list, p.Safety[lang])
	}
	p.Detector, errs = locales.NewDetector(list)
	for _, err := range errs {
		problems = append(problems, problemOf(err))
	}
	return problems
}

// problemOf places a loader's error at its file and line.
func problemOf(err error) Problem {
	var pe *locales.ParseError
	if errors.As(err, &pe) {
		return Problem{File: pe.File, Line: pe.Line, Msg: pe.Err.Error()}
	}
	var le *locales.LexiconError
	if errors.As(err, &le) {
		return Problem{File: le.File, Line: le.Line, Msg: le.Err.Error()}
	}
	return Problem{File: "?", Msg: err.Error()}
}

// ChannelsFile configures channels: voices per language and WhatsApp
// templates. It is optional.
const ChannelsFile = "channels.yaml"

func parseChannels(fsys fs.FS, p *Pack) []Problem {
	if _, err := fs.Stat(fsys, ChannelsFile); err != nil {
		return nil
	}
	var c struct {
		Voice    map[string]Voice `yaml:"voice"`
		WhatsApp WhatsApp         `yaml:"whatsapp"`
	}
	root, err := decodeStrict(fsys, ChannelsFile, &c)
	if err != nil {
		return []Problem{{File: ChannelsFile, Line: locales.YAMLErrLine(err), Msg: err.Error()}}
	}
	p.Voice, p.WhatsApp = c.Voice, c.WhatsApp
	audioFor(p, fsys)
	// Place each template at its language's line, for lint.
	msgs := mapValue(mapValue(root, "whatsapp"), "templates")
	for id, langs := range p.WhatsApp.Templates {
		for lang, t := range langs {
			t.File, t.Line = ChannelsFile, root.Line
			if n := mapValue(msgs, id); n != nil {
				t.Line = n.Line
				if ln := mapValue(n, lang); ln != nil {
					t.Line = ln.Line
				}
			}
			langs[lang] = t
		}
	}
	return nil
}

// decodeStrict decodes one YAML document, refusing unknown keys, and
// returns its root node for line numbers.
func decodeStrict(fsys fs.FS, file string, v any) (*yaml.Node, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return &doc, nil
	}
	return doc.Content[0], nil
}

// placeFlow copies line numbers from the YAML tree onto a decoded flow, so
// that lint can name the line of a state, choice, action or timeout.
func placeFlow(f *Flow, root *yaml.Node) {
	states := mapValue(root, "states")
	if states == nil || states.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(states.Content); i += 2 {
		id, node := states.Content[i].Value, states.Content[i+1]
		s := f.States[id]
		if s == nil {
			continue
		}
		s.ID, s.File, s.Line = id, f.File, states.Content[i].Line
		placeActions(s.Do, mapValue(node, "do"))
		if cs := mapValue(node, "choices"); cs != nil && cs.Kind == yaml.SequenceNode {
			for j, cn := range cs.Content {
				if j < len(s.Choices) {
					s.Choices[j].Line = cn.Line
					placeActions(s.Choices[j].Do, mapValue(cn, "do"))
				}
			}
		}
		if tn := mapValue(node, "timeout"); tn != nil && s.Timeout != nil {
			s.Timeout.Line = tn.Line
			placeActions(s.Timeout.Do, mapValue(tn, "do"))
		}
	}
	for id, s := range f.States {
		if s != nil && s.ID == "" {
			s.ID, s.File, s.Line = id, f.File, states.Line
		}
	}
}

func placeActions(as []Action, n *yaml.Node) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return
	}
	for i, an := range n.Content {
		if i < len(as) {
			as[i].Line = an.Line
			if t := as[i].Tally; t != nil {
				placeActions(t.Do, mapValue(mapValue(an, "tally"), "do"))
			}
		}
	}
}

// mapValue returns the value node of key in a mapping node (following an
// alias), or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				return v.Alias
			}
			return v
		}
	}
	return nil
}

// UnmarshalYAML reads Go duration text and whole days ("7d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses "30m", "2h", "1h30m" and "7d".
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// ParseClock parses a local "HH:MM" time of day.
func ParseClock(s string) (hour, min int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("bad time of day %q (want HH:MM)", s)
	}
	return t.Hour(), t.Minute(), nil
}

// Lint checks a parsed pack. Load runs it; `tend content lint` prints it.
func Lint(p *Pack) []Problem {
	return lint(p)
}

// Flow returns the flow with id, or nil.
func (p *Pack) Flow(id string) *Flow { return p.Flows[id] }

// MatchLanguage returns the bundled language nearest to a BCP 47 tag
// (zh-TW → zh-Hant, pt-PT → pt, fil → tl, es-MX → es), and false when none
// is near: a clinic's "de" must be refused, not enrolled in English.
func (p *Pack) MatchLanguage(tag string) (string, bool) {
	if p.HasLanguage(tag) {
		return tag, true
	}
	t, err := language.Parse(tag)
	if err != nil || len(p.Languages) == 0 {
		return "", false
	}
	m := p.matcher
	if m == nil { // a Pack not made by Load
		m = languageMatcher(p.Languages)
	}
	_, i, c := m.Match(t)
	if c == language.No {
		return "", false
	}
	return p.Languages[i], true
}

// HasLanguage reports whether lang is bundled.
func (p *Pack) HasLanguage(lang string) bool {
	for _, l := range p.Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// languageList names every language in its own script, one a line; a
// language whose words file gives no autonym is listed by its tag (lint
// reports it).
func languageList(p *Pack) string {
	names := make([]string, 0, len(p.Languages))
	for _, lang := range p.Languages {
		name := lang
		if w := p.Words[lang]; w != nil && w.Autonym != "" {
			name = w.Autonym
		}
		names = append(names, name)
	}
	return strings.Join(names, "\n")
}

func languageMatcher(langs []string) language.Matcher {
	tags := make([]language.Tag, 0, len(langs))
	for _, l := range langs {
		tags = append(tags, language.Make(l))
	}
	return language.NewMatcher(tags)
}
