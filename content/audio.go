package content

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/tendcare/tend/locales"
)

// AudioExt is the file type of recorded audio: MP3 is what Twilio's <Play>
// fetches fastest and caches.
const AudioExt = ".mp3"

// Audio is one language's recorded audio: where no text-to-speech voice
// speaks a language (Haitian Creole), a call plays recordings of its
// catalog instead of <Say>. A message is recorded in pieces cut at its
// placeholders; a placeholder is played from a recording of the message
// whose text it holds (a choice's label, the generic word for a medicine,
// the program's name) or digit by digit (a phone number, a reading, a
// number of hours), as an emergency line is read out anyway.
type Audio struct {
	Lang string
	// Base is where the recordings are: an http(s) URL prefix, or a
	// folder of the pack that Tend serves itself (Folder).
	Base   string
	Folder bool
	fsys   fs.FS // the pack, for a folder
	have   map[string]bool
	// recordings and missing are listed once: a pack does not change
	// after Load, and enrollment asks for them.
	recordings []Recording
	missing    []string
	msgs       map[string][]audioForm // message id → its forms as played
	ids        []string               // of msgs, sorted
	byText     map[string]string      // a fixed message's text → its file
}

// Recording is one file a language's recorded audio needs, with the words
// to record in it.
type Recording struct {
	Name    string // file name: voice.goodbye.mp3, appt.ask.1.mp3, digit.7.mp3
	Text    string // what to say
	Message string // the catalog message it belongs to; "" for digits
}

// audioForm is one plural form of a message cut into pieces, with the
// pattern that finds its placeholders' values in a rendered text.
type audioForm struct {
	pieces []audioPiece
	re     *regexp.Regexp
	fields []string // the placeholders, in the order re captures them
}

// audioPiece is a recorded part of a message (File) or a placeholder
// (Field) played from its value.
type audioPiece struct {
	File, Text, Field string
}

// digitFiles are recorded once per language: the keys of a phone number
// or a reading, and the decimal point of a weight.
func digitFiles() []Recording {
	out := make([]Recording, 0, 11)
	for d := '0'; d <= '9'; d++ {
		out = append(out, Recording{Name: "digit." + string(d) + AudioExt, Text: string(d)})
	}
	return append(out, Recording{Name: "digit.point" + AudioExt, Text: "(decimal point)"})
}

// NewAudio cuts lang's messages into recordings. base is an http(s) URL,
// or a folder of fsys whose files it indexes. Load builds one for every
// language channels.yaml gives audio.
func NewAudio(p *Pack, lang, base string, fsys fs.FS) *Audio {
	a := &Audio{Lang: lang, Base: base, msgs: map[string][]audioForm{}, byText: map[string]string{}}
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		a.Folder, a.fsys, a.have = true, fsys, map[string]bool{}
		a.Base = path.Clean(strings.TrimPrefix(base, "./"))
		entries, _ := fs.ReadDir(fsys, a.Base)
		for _, e := range entries {
			if !e.IsDir() {
				a.have[e.Name()] = true
			}
		}
	} else if !strings.HasSuffix(a.Base, "/") {
		a.Base += "/"
	}
	for id, m := range p.Catalog.Messages[lang] {
		a.ids = append(a.ids, id)
		a.msgs[id] = audioForms(m)
		if forms := a.msgs[id]; len(forms) == 1 && len(forms[0].fields) == 0 && len(forms[0].pieces) == 1 {
			t := strings.TrimSpace(forms[0].pieces[0].Text)
			if prev, ok := a.byText[t]; !ok || forms[0].pieces[0].File < prev {
				a.byText[t] = forms[0].pieces[0].File
			}
		}
	}
	sort.Strings(a.ids)
	a.recordings = a.list(p)
	for _, r := range a.recordings {
		if a.Folder && !a.have[r.Name] {
			a.missing = append(a.missing, r.Name)
		}
	}
	return a
}

// audioForms cuts each distinct text of m into pieces: a form of its own
// only where plural forms differ (Haitian Creole's one and other read
// alike, so they share their recordings).
func audioForms(m *locales.Message) []audioForm {
	keys := make([]string, 0, len(m.Forms))
	for f := range m.Forms {
		keys = append(keys, f)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] == "other" || (keys[j] != "other" && keys[i] < keys[j]) })
	distinct := map[string]bool{}
	for _, f := range keys {
		distinct[m.Forms[f]] = true
	}
	seen := map[string]bool{}
	var out []audioForm
	for _, f := range keys {
		text := m.Forms[f]
		if seen[text] {
			continue
		}
		seen[text] = true
		name := m.ID
		if len(distinct) > 1 && f != "other" {
			name += "." + f
		}
		out = append(out, cutForm(name, text))
	}
	return out
}

// cutForm cuts one template at its placeholders. A part without a letter
// or digit (the full stop after a number) is not recorded: silence says
// it.
func cutForm(name, text string) audioForm {
	locs := locales.PlaceholderSpans(text)
	var af audioForm
	var re strings.Builder
	re.WriteString(`^\s*`)
	k, last := 0, 0
	fixed := func(s string) {
		re.WriteString(regexp.QuoteMeta(strings.TrimSpace(s)))
		if !speakable(s) {
			return
		}
		file := name + AudioExt
		if len(locs) > 0 {
			k++
			file = fmt.Sprintf("%s.%d%s", name, k, AudioExt)
		}
		af.pieces = append(af.pieces, audioPiece{File: file, Text: strings.TrimSpace(s)})
	}
	for _, l := range locs {
		fixed(text[last:l[0]])
		field := text[l[2]:l[3]]
		af.pieces = append(af.pieces, audioPiece{Field: field})
		af.fields = append(af.fields, field)
		re.WriteString(`\s*(.*?)\s*`)
		last = l[1]
	}
	fixed(text[last:])
	re.WriteString(`\s*$`)
	af.re = regexp.MustCompile("(?s)" + re.String())
	return af
}

func speakable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// spokenOnCalls lists the messages a call may say in lang: every message
// but those a call says in their own .voice wording and Telegram's own.
func spokenOnCalls(p *Pack, lang string) []string {
	msgs := p.Catalog.Messages[lang]
	var ids []string
	for id := range msgs {
		if msgs[id+".voice"] != nil || strings.HasPrefix(id, "telegram.") {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Recordings lists every file the language needs, with its words: what a
// translator records (tend content audio LANG).
func (a *Audio) Recordings() []Recording { return a.recordings }

// Missing lists the recordings a folder lacks; nil for a URL, which Tend
// cannot check.
func (a *Audio) Missing() []string { return a.missing }

func (a *Audio) list(p *Pack) []Recording {
	var out []Recording
	seen := map[string]bool{}
	for _, id := range spokenOnCalls(p, a.Lang) {
		for _, f := range a.msgs[id] {
			for _, pc := range f.pieces {
				if pc.File != "" && !seen[pc.File] {
					seen[pc.File] = true
					out = append(out, Recording{Name: pc.File, Text: pc.Text, Message: id})
				}
			}
		}
	}
	return append(out, digitFiles()...)
}

// Open opens a recording of the folder, for Tend to serve to Twilio.
func (a *Audio) Open(name string) (fs.File, error) {
	if !a.Folder || !a.have[name] || !strings.HasSuffix(name, AudioExt) {
		return nil, fs.ErrNotExist
	}
	return a.fsys.Open(path.Join(a.Base, name))
}

// Play returns the files that say text, the rendered message id (or its
// .voice wording, or the emergency reply standing in for a crisis reply
// without a crisis line). A call speaks a turn's messages as one text, a
// line apart, under the first one's id: lines that are not id are matched
// against every message. ok is false when some text is no message, or a
// file it needs is missing: the call then says the text another way.
// skipped counts the letters of placeholder values no recording says (a
// date written in words).
func (a *Audio) Play(id, text string) (files []string, skipped int, ok bool) {
	cands := []string{id + ".voice", id}
	if rest, cut := strings.CutPrefix(id, MsgCrisis); cut {
		cands = append(cands, MsgEmergency+rest+".voice", MsgEmergency+rest)
	}
	if files, skipped, ok := a.playAs(cands, text); ok {
		return files, skipped, true
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); {
		found := false
		for j := len(lines); j > i && !found; j-- {
			seg := strings.Join(lines[i:j], "\n")
			f, n, ok := a.playAs(cands, seg)
			if !ok {
				f, n, ok = a.playAny(seg)
			}
			if ok {
				files, skipped, i, found = append(files, f...), skipped+n, j, true
			}
		}
		if !found {
			return nil, 0, false
		}
	}
	return files, skipped, len(files) > 0
}

func (a *Audio) playAs(ids []string, text string) ([]string, int, bool) {
	for _, c := range ids {
		for _, f := range a.msgs[c] {
			if files, skipped, ok := a.playForm(f, text); ok {
				return files, skipped, true
			}
		}
	}
	return nil, 0, false
}

// playAny finds the message text is among all of the language's: only
// those with recorded words of their own, the first of which starts text
// when the message starts with words.
func (a *Audio) playAny(text string) ([]string, int, bool) {
	text = strings.TrimSpace(text)
	for _, id := range a.ids {
		for _, f := range a.msgs[id] {
			if len(f.pieces) == 0 || (f.pieces[0].File == "" && len(f.pieces) == 1) {
				continue
			}
			if first := f.pieces[0]; first.File != "" && !strings.HasPrefix(text, first.Text) {
				continue
			}
			if files, skipped, ok := a.playForm(f, text); ok {
				return files, skipped, true
			}
		}
	}
	return nil, 0, false
}

func (a *Audio) playForm(f audioForm, text string) ([]string, int, bool) {
	m := f.re.FindStringSubmatch(text)
	if m == nil {
		return nil, 0, false
	}
	values := map[string]string{}
	for i, field := range f.fields {
		values[field] = m[i+1]
	}
	var files []string
	skipped := 0
	for _, pc := range f.pieces {
		if pc.File != "" {
			files = append(files, pc.File)
			continue
		}
		vf, n := a.Value(values[pc.Field])
		files = append(files, vf...)
		skipped += n
	}
	for _, name := range files {
		if a.Folder && !a.have[name] {
			return nil, 0, false
		}
	}
	return files, skipped, true
}

// Value plays a placeholder's value: the recordings of the message whose
// text it is, else its digits one by one; skipped counts the letters no
// recording says. (A message's value is shorter than the message, so a
// value's own values end.)
func (a *Audio) Value(v string) (files []string, skipped int) {
	v = strings.TrimSpace(v)
	if f, ok := a.byText[v]; ok {
		return []string{f}, 0
	}
	if files, skipped, ok := a.playAny(v); ok {
		// A label with a placeholder of its own ("Call {{.Emergency}}").
		return files, skipped
	}
	rs := []rune(v)
	for i, r := range rs {
		switch {
		case r >= '0' && r <= '9':
			files = append(files, "digit."+string(r)+AudioExt)
		case (r == '.' || r == ',') && i > 0 && i+1 < len(rs) && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1]):
			files = append(files, "digit.point"+AudioExt)
		case unicode.IsLetter(r):
			skipped++
		}
	}
	return files, skipped
}

// AudioPath is where Tend serves a pack folder's recordings to Twilio:
// AudioPath + LANG/FILE.
const AudioPath = "/voice/audio/"

// URL is where Twilio fetches a recording: under the base URL, or, for a
// folder, under public (Tend's own address) at AudioPath.
func (a *Audio) URL(public, name string) string {
	if a.Folder {
		return strings.TrimSuffix(public, "/") + AudioPath + a.Lang + "/" + name
	}
	return a.Base + name
}

// audioFor builds the recorded audio of every language whose voice names
// one, once the catalog is loaded.
func audioFor(p *Pack, fsys fs.FS) {
	for _, lang := range slices.Sorted(maps.Keys(p.Voice)) {
		if v := p.Voice[lang]; v.Audio != "" && p.Catalog.Messages[lang] != nil {
			if p.Audio == nil {
				p.Audio = map[string]*Audio{}
			}
			p.Audio[lang] = NewAudio(p, lang, v.Audio, fsys)
		}
	}
}
