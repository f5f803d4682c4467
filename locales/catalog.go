package locales

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Files are the bundled catalogs (catalog/<lang>.yaml), answer words
// (words/<lang>.yaml) and emergency lexicons (safety/<lang>.yaml). They are embedded so that the binary needs no files
// beside it.
//
//go:embed catalog/*.yaml words/*.yaml safety/*.yaml
var Files embed.FS

// PluralForms are the CLDR plural categories a message may spell out.
var PluralForms = []string{"zero", "one", "two", "few", "many", "other"}

// Message is one catalog entry as written, kept for lint: where it is, its
// forms and the placeholders it uses.
type Message struct {
	ID    string
	File  string
	Line  int
	Forms map[string]string // plural form (or "other" for a plain string) → text
	// Map says the message was written as a map of forms: in a language
	// whose only CLDR form is "other" (Chinese, Korean, Vietnamese) a
	// plural message is {other: ...}, and is still plural.
	Map bool
}

// Plural reports whether the message spells out plural forms.
func (m *Message) Plural() bool {
	_, other := m.Forms["other"]
	return m.Map || len(m.Forms) > 1 || (len(m.Forms) == 1 && !other)
}

var placeholderRE = regexp.MustCompile(`{{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*}}`)

// PlaceholderSpans finds each {{.Name}} of a message's text: per
// placeholder, its start and end and its name's start and end, in bytes.
// Recorded audio cuts messages there.
func PlaceholderSpans(text string) [][]int {
	return placeholderRE.FindAllStringSubmatchIndex(text, -1)
}

// Placeholders lists the template fields a message uses, sorted.
func (m *Message) Placeholders() []string {
	set := map[string]bool{}
	for _, text := range m.Forms {
		for _, sub := range placeholderRE.FindAllStringSubmatch(text, -1) {
			set[sub[1]] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Catalog renders message ids in a language through go-i18n, and keeps the
// raw entries for lint.
type Catalog struct {
	bundle     *i18n.Bundle
	localizers map[string]*i18n.Localizer
	// Messages maps language → message id → entry.
	Messages map[string]map[string]*Message
}

// ParseError is a catalog or words file that cannot be read, with its place.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// LoadCatalog reads every <lang>.yaml in dir of fsys. The first language of
// order that has a file is the default; the rest follow in name order.
func LoadCatalog(fsys fs.FS, dir, defaultLang string) (*Catalog, []error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, []error{&ParseError{File: dir, Line: 0, Err: errors.New("no message catalogs (<lang>.yaml)")}}
	}
	c := &Catalog{
		bundle:     i18n.NewBundle(language.Make(defaultLang)),
		localizers: map[string]*i18n.Localizer{},
		Messages:   map[string]map[string]*Message{},
	}
	var errs []error
	for _, f := range files {
		lang := strings.TrimSuffix(path.Base(f), ".yaml")
		tag, err := language.Parse(lang)
		if err != nil {
			errs = append(errs, &ParseError{File: f, Line: 1, Err: fmt.Errorf("file name is not a language tag: %w", err)})
			continue
		}
		msgs, perrs := parseCatalogFile(fsys, f)
		errs = append(errs, perrs...)
		c.Messages[lang] = msgs
		tag = i18nTag(tag)
		for _, m := range msgs {
			im := &i18n.Message{ID: m.ID, Zero: m.Forms["zero"], One: m.Forms["one"], Two: m.Forms["two"],
				Few: m.Forms["few"], Many: m.Forms["many"], Other: m.Forms["other"]}
			if err := c.bundle.AddMessages(tag, im); err != nil {
				errs = append(errs, &ParseError{File: f, Line: m.Line, Err: err})
			}
		}
		c.localizers[lang] = i18n.NewLocalizer(c.bundle, tag.String())
	}
	return c, errs
}

// noPluralRule are bundled languages for which CLDR, and so go-i18n, has no
// plural rule, with the reason each may use English's one/other: go-i18n
// refuses messages in a language it has no rule for.
var noPluralRule = map[string]string{
	// Haitian Creole nouns do not change with number ("yo" marks a plural);
	// a message may still word "1 hour" and "2 hours" differently.
	"ht": "one/other",
}

// i18nTag is the tag a language's messages are filed under in go-i18n. A
// language of noPluralRule is filed under a private-use tag of the
// constructed-language code (art-x-ht), to which go-i18n gives English's
// plural rule; every other language under its own tag.
func i18nTag(tag language.Tag) language.Tag {
	base, _ := tag.Base()
	if _, ok := noPluralRule[base.String()]; ok && tag.String() == base.String() {
		return language.MustParse("art-x-" + base.String())
	}
	return tag
}

func parseCatalogFile(fsys fs.FS, file string) (map[string]*Message, []error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, []error{&ParseError{File: file, Err: err}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []error{&ParseError{File: file, Line: YAMLErrLine(err), Err: err}}
	}
	msgs := map[string]*Message{}
	if len(doc.Content) == 0 {
		return msgs, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, []error{&ParseError{File: file, Line: root.Line, Err: errors.New("a catalog is a map of message id to text")}}
	}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		m := &Message{ID: k.Value, File: file, Line: k.Line, Forms: map[string]string{}}
		if _, dup := msgs[m.ID]; dup {
			errs = append(errs, &ParseError{File: file, Line: k.Line, Err: fmt.Errorf("message %q defined twice", m.ID)})
		}
		switch v.Kind {
		case yaml.ScalarNode:
			m.Forms["other"] = v.Value
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				form, text := v.Content[j], v.Content[j+1]
				if !validForm(form.Value) && form.Value != "description" {
					errs = append(errs, &ParseError{File: file, Line: form.Line, Err: fmt.Errorf("message %q: %q is not a CLDR plural form (%s)", m.ID, form.Value, strings.Join(PluralForms, ", "))})
					continue
				}
				if form.Value != "description" {
					m.Forms[form.Value] = text.Value
					m.Map = true
				}
			}
		default:
			errs = append(errs, &ParseError{File: file, Line: v.Line, Err: fmt.Errorf("message %q: want text or plural forms", m.ID)})
			continue
		}
		msgs[m.ID] = m
	}
	return msgs, errs
}

func validForm(f string) bool {
	for _, p := range PluralForms {
		if f == p {
			return true
		}
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// YAMLErrLine extracts the line number yaml.v3 puts in its error text, so
// that every problem a pack has can be reported as file:line.
func YAMLErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 1
}

// Languages lists the catalog's languages, sorted.
func (c *Catalog) Languages() []string {
	out := make([]string, 0, len(c.Messages))
	for l := range c.Messages {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// ErrMissing is returned (wrapped) when a language lacks a message, even when
// go-i18n could fall back to another language.
var ErrMissing = errors.New("message missing")

// Text renders message id in lang. count, when not nil, picks the plural
// form. A message the language lacks is an error even though go-i18n would
// fall back to the default language: lint treats that as a missing
// translation, and callers log it.
func (c *Catalog) Text(lang, id string, data any, count any) (string, error) {
	l, ok := c.localizers[lang]
	if !ok {
		return "", fmt.Errorf("language %q: %w", lang, ErrMissing)
	}
	out, err := l.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	var nf *i18n.MessageNotFoundErr
	if errors.As(err, &nf) {
		return out, fmt.Errorf("%s in %q: %w", id, lang, ErrMissing)
	}
	return out, err
}

// LoadWords reads words/<lang>.yaml for every language.
func LoadWords(fsys fs.FS, dir string) (map[string]*Words, []error) {
	files, _ := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	out := map[string]*Words{}
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, &ParseError{File: f, Err: err})
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		var w Words
		if err := dec.Decode(&w); err != nil {
			errs = append(errs, &ParseError{File: f, Line: YAMLErrLine(err), Err: err})
			continue
		}
		lang := strings.TrimSuffix(path.Base(f), ".yaml")
		if w.Language == "" {
			w.Language = lang
		}
		if w.Language != lang {
			errs = append(errs, &ParseError{File: f, Line: 1, Err: fmt.Errorf("language %q does not match the file name", w.Language)})
		}
		if w.Emergency.Kind != 0 {
			errs = append(errs, &ParseError{File: f, Line: w.Emergency.Line, Err: fmt.Errorf(
				"emergency: phrase lists are replaced by the concept lexicon in locales/safety/%s.yaml (see docs/content.md); remove this key", lang)})
			continue
		}
		w.File = f
		w.normalize()
		out[lang] = &w
	}
	return out, errs
}

// normalize puts every word through Normalize, so a content author may
// write "Sí" or "CAN'T BREATHE" and still match.
func (w *Words) normalize() {
	for _, list := range []*[]string{&w.Names, &w.Languages, &w.Stop, &w.Revoke, &w.Start, &w.Yes, &w.Help, &w.Human} {
		for i, s := range *list {
			(*list)[i] = Normalize(s)
		}
	}
	for _, m := range []map[string][]string{w.Answers, w.Readings.Kinds, w.Readings.Units} {
		for _, list := range m {
			for i, s := range list {
				list[i] = Normalize(s)
			}
		}
	}
	for i, s := range w.Readings.Over {
		w.Readings.Over[i] = Normalize(s)
	}
}
