package conversations

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/locales"
)

// Renderer turns a Send effect into the text a text channel sends: the
// message in the patient's language with its placeholders filled, followed by
// the state's choices as numbered lines. Channels with buttons or speech
// render from the same effect in their own way.
type Renderer struct {
	Pack *content.Pack
	// HelpContact is the phone number or URL the HELP reply gives.
	HelpContact string
	// Emergency and Crisis are the clinic's emergency number and suicide
	// and crisis line; empty: those of the country of each patient's phone.
	Emergency, Crisis string
}

// Numbers returns the emergency number and crisis line a patient is told
// to call: the patient's own, else their country of residence's
// (Patient.Country), else the clinic's, else their phone's country's,
// else 112. The country of residence comes before the clinic's setting:
// a patient who lives abroad must call where they are. The crisis line is
// empty when none is known; a known country of residence without one
// borrows neither the clinic's nor the phone's country's line, which
// would be another country's.
func (r *Renderer) Numbers(p *enrollment.Patient) locales.ServiceNumbers {
	if home, ok := locales.NumbersForCountry(p.Country); ok {
		return locales.ServiceNumbers{
			Emergency: first(p.EmergencyNumber, home.Emergency),
			Crisis:    first(p.CrisisLine, home.Crisis),
		}
	}
	country, _ := locales.NumbersFor(p.Phone)
	n := locales.ServiceNumbers{
		Emergency: first(p.EmergencyNumber, r.Emergency, country.Emergency, locales.FallbackEmergency),
		Crisis:    first(p.CrisisLine, r.Crisis, country.Crisis),
	}
	return n
}

func first(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Lang picks the language to write to a patient in: the session's choice,
// else the enrollment's, else the pack's default.
func (r *Renderer) Lang(s *Session, p *enrollment.Patient) string {
	for _, l := range []string{s.Lang, p.Language} {
		if l != "" && r.Pack.HasLanguage(l) {
			return l
		}
	}
	return r.Pack.Languages[0]
}

// Text renders ef for patient p in lang as a text channel shows it: the
// message, then its choices as numbered lines. A missing translation is an
// error, but the returned text still holds go-i18n's fallback, so a patient
// gets a sentence rather than nothing.
func (r *Renderer) Text(lang string, p *enrollment.Patient, ef *Effect) (string, error) {
	text, labels, err := r.Parts(lang, p, ef)
	return Numbered(text, labels), err
}

// Parts renders ef's message and, apart, its choices' labels, for channels
// that lay choices out their own way (buttons, "press 1 for ...").
func (r *Renderer) Parts(lang string, p *enrollment.Patient, ef *Effect) (string, []string, error) {
	data := r.data(lang, p, ef)
	var count any
	if ef.Count > 0 {
		count = ef.Count
	}
	id := ef.Message
	if data["Crisis"] == "" && strings.HasPrefix(id, content.MsgCrisis) {
		// No crisis line is known for this patient: the emergency
		// number alone, rather than a sentence with a hole in it.
		id = content.MsgEmergency + strings.TrimPrefix(id, content.MsgCrisis)
	}
	text, err := r.Pack.Catalog.Text(lang, id, data, count)
	if ef.Flow == "" {
		return text, nil, err
	}
	f := r.Pack.Flows[ef.Flow]
	if f == nil || f.States[ef.State] == nil {
		return text, nil, err
	}
	var labels []string
	for _, c := range f.States[ef.State].Choices {
		label, lerr := r.Pack.Catalog.Text(lang, c.Label, data, nil)
		if err == nil {
			err = lerr
		}
		labels = append(labels, label)
	}
	return text, labels, err
}

// Template returns the WhatsApp template mapped to ef's message in lang and
// its variables filled from the same placeholders the message uses.
func (r *Renderer) Template(lang string, p *enrollment.Patient, ef *Effect) (sid string, vars []string) {
	t, ok := r.Pack.Template(ef.Message, lang)
	if !ok {
		return "", nil
	}
	data := r.data(lang, p, ef)
	for _, v := range t.Variables {
		vars = append(vars, fmt.Sprint(data[v]))
	}
	return t.Sid, vars
}

// Variant returns the channel's own wording of a message when the catalog
// has one ("welcome.body.voice": a call cannot say "reply STOP"), else id.
func (r *Renderer) Variant(lang, id, channel string) string {
	if channel == "" {
		return id
	}
	if v := id + "." + channel; r.Pack.Catalog.Messages[lang][v] != nil {
		return v
	}
	return id
}

// Numbered lays choices out as numbered lines under the text, the way SMS
// and any other plain-text channel shows them.
func Numbered(text string, labels []string) string {
	if len(labels) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	for i, label := range labels {
		b.WriteString("\n")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(" ")
		b.WriteString(label)
	}
	return b.String()
}

// data fills the placeholders content may use (content.Placeholders). The
// medicine's name appears only when the patient allowed it (minimum
// necessary); otherwise a generic word stands in.
func (r *Renderer) data(lang string, p *enrollment.Patient, ef *Effect) map[string]any {
	n := r.Numbers(p)
	data := map[string]any{"HelpContact": r.HelpContact, "Emergency": n.Emergency, "Crisis": n.Crisis}
	if ef.Count > 0 {
		data["Hours"] = ef.Count
	}
	generic, _ := r.Pack.Catalog.Text(lang, content.MsgGenericMedication, nil, nil)
	data["Medication"] = generic
	if med := lookup(ef.Params, "medication"); med != "" && p.PHIOK {
		for _, m := range p.Medications {
			if m.ID == med && m.Display != "" {
				data["Medication"] = m.Display
			}
		}
	}
	data["Program"] = r.programName(lang, p)
	data["PerDay"] = CapsOf(r.Pack, p).Day()
	data["Languages"] = r.Pack.LanguageList
	if d := lookup(ef.Params, "date"); d != "" {
		data["Date"] = d
	}
	if t := lookup(ef.Params, "time"); t != "" {
		data["Time"] = t
	}
	return data
}

func (r *Renderer) programName(lang string, p *enrollment.Patient) string {
	id := "program.name"
	for _, prog := range p.Programs {
		if pr := r.Pack.Programs[prog]; pr != nil && pr.Name != "" {
			id = pr.Name
			break
		}
	}
	name, _ := r.Pack.Catalog.Text(lang, id, nil, nil)
	return name
}
