package voice

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/locales"
)

// Gather settings: one key, six seconds to press it.
const (
	gatherDigits  = "1"
	gatherTimeout = "6"
	// dialTimeout is how long the nurse line rings before the caller is
	// offered a callback instead.
	dialTimeout = "20"
	// slowRate is the speaking rate for patients who asked for slower
	// speech.
	slowRate = "85%"
)

// Keys the IVR reserves; a question's choices take 1 to 7.
const (
	keyNurse  = "0"
	keyStop   = "8"
	keyRepeat = "9"
)

// prosody is SSML's <prosody> inside a <Say>. twiml.VoiceProsody writes the
// element as <Prosody>, which Twilio's SSML (lower-case, as in twilio-ruby
// and twilio-node) does not know, so it is written here.
type prosody struct {
	Rate  string
	Words string
}

func (p prosody) GetName() string { return "prosody" }
func (p prosody) GetText() string { return p.Words }
func (p prosody) GetAttr() (map[string]string, map[string]string) {
	return nil, map[string]string{"rate": p.Rate}
}
func (p prosody) GetInnerElements() []twiml.Element { return nil }

// speaker says sentences in one language with its voice, or plays them
// from the language's recordings (content.Audio) where it has them.
type speaker struct {
	cat   *locales.Catalog
	lang  string
	voice content.Voice
	slow  bool
	audio *content.Audio
	// public is Tend's address, for recordings it serves itself.
	public string
	log    *slog.Logger
}

// newSpeaker picks the voice of lang from the pack (channels.yaml). Without
// one, Twilio's default voice speaks the bare language code (en, es, fr and
// de are what its default voices know).
func (h *Webhooks) newSpeaker(lang string, slow bool) speaker {
	v, ok := h.Pack.Voice[lang]
	if !ok || (v.Language == "" && v.Audio == "") {
		v.Language = lang
	}
	return speaker{cat: h.Pack.Catalog, lang: lang, voice: v, slow: slow, audio: h.Pack.Audio[lang], public: h.PublicURL, log: h.log()}
}

// ssml reports whether the voice reads SSML: Amazon Polly and Google
// voices do; Twilio's basic voices (the default, man, woman, alice) do not
// and may fail the whole <Say> on it, so slow speech needs one of those
// voices configured for the language.
func (sp speaker) ssml() bool {
	return strings.HasPrefix(sp.voice.Voice, "Polly.") || strings.HasPrefix(sp.voice.Voice, "Google.")
}

// say speaks text; empty text says nothing.
func (sp speaker) say(text string) []twiml.Element {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	s := twiml.VoiceSay{Voice: sp.voice.Voice, Language: sp.voice.Language}
	if sp.slow && sp.ssml() {
		s.InnerElements = []twiml.Element{prosody{Rate: slowRate, Words: text}}
	} else {
		s.Message = text
	}
	return []twiml.Element{s}
}

// sayMsg says text, the rendering of catalog message id: from recordings
// when the language has them, each a <Play>. A text no recording matches
// (a recording missing from the folder) is said with <Say>, and the log
// names the message, never its words.
func (sp speaker) sayMsg(id, text string) []twiml.Element {
	if sp.audio == nil || strings.TrimSpace(text) == "" {
		return sp.say(text)
	}
	files, skipped, ok := sp.audio.Play(id, text)
	if !ok {
		sp.log.Warn("no recording says this message: said with <Say>", "message", id, "lang", sp.lang)
		return sp.say(text)
	}
	if skipped > 0 {
		sp.log.Warn("a value's words have no recording: its digits alone are played", "message", id, "lang", sp.lang, "letters", skipped)
	}
	out := make([]twiml.Element, 0, len(files))
	for _, f := range files {
		out = append(out, twiml.VoicePlay{Url: sp.audio.URL(sp.public, f)})
	}
	return out
}

// text renders a catalog message. A missing translation still yields
// go-i18n's fallback text: a caller hears something rather than silence
// (lint catches the gap before a pack ships).
func (sp speaker) text(id string, data map[string]any) string {
	t, _ := sp.cat.Text(sp.lang, id, data, nil)
	return t
}

// sayID speaks a catalog message.
func (sp speaker) sayID(id string, data map[string]any) []twiml.Element {
	return sp.sayMsg(id, sp.text(id, data))
}

// menu is the spoken question with its keypad choices, then the keys every
// question offers.
func (sp speaker) menu(id, text string, labels []string) []twiml.Element {
	out := sp.sayMsg(id, text)
	for i, l := range labels {
		out = append(out, sp.sayID(content.MsgVoicePress, map[string]any{"Digit": i + 1, "Label": l})...)
	}
	out = append(out, sp.sayID(content.MsgVoiceRepeat, nil)...)
	out = append(out, sp.sayID(content.MsgVoiceNurse, nil)...)
	out = append(out, sp.sayID(content.MsgVoiceStop, nil)...)
	return out
}

// gather waits for one key while inner plays, posting the key to action.
func gather(action string, inner []twiml.Element) twiml.VoiceGather {
	return twiml.VoiceGather{Input: "dtmf", NumDigits: gatherDigits, Timeout: gatherTimeout,
		Action: action, Method: "POST", InnerElements: inner}
}

func redirect(to string) twiml.VoiceRedirect { return twiml.VoiceRedirect{Url: to, Method: "POST"} }

func hangup() twiml.VoiceHangup { return twiml.VoiceHangup{} }

func dial(number, action string) twiml.VoiceDial {
	return twiml.VoiceDial{Number: number, Action: action, Method: "POST", Timeout: dialTimeout}
}

// ServeAudio serves GET content.AudioPath+LANG/FILE: a recording of a pack
// folder, which Twilio fetches for <Play>. Recordings are the catalog's
// words, the same for every patient, so no signature guards them; only
// files the pack's audio folder lists are served.
func (h *Webhooks) ServeAudio(w http.ResponseWriter, r *http.Request) {
	lang, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, content.AudioPath), "/")
	a := h.Pack.Audio[lang]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	f, err := a.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "recording cannot be served", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, name, time.Time{}, rs)
}
