package voice

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/readings"
)

// Keypad entry of a home reading (a flow state with reading:). The caller
// keys the number and "#" ("150*95#": "*" separates systolic from
// diastolic, or is the decimal point of a weight); Tend reads it back
// ("You entered 150 over 95. Press 1 if that is right, 2 to try again")
// and only a confirmed reading goes to the engine, as the text a patient
// would type (readings.Text), so a keyed reading takes the same path as a
// texted one. A weight that may be kilograms or pounds is asked which.
//
// The keyed digits ride in the read-back's URL (v), as the question's kind
// does (r), so any replica can serve the confirmation: they are the Digits
// Twilio just posted, and no patient id is in the URL.
const (
	// readingTimeout is how long the keypad waits between keys: numbers
	// take longer to key than one choice. No numDigits: "#" ends the
	// entry (or the timeout, with what was keyed).
	readingTimeout = "10"
)

// Keys of the read-back.
const (
	keyRight = "1"
	keyRetry = "2" // kg-or-lb: 1 kilograms, 2 pounds, 3 try again
	keyKg    = "1"
	keyLb    = "2"
	keyAgain = "3"
)

// readingEntry asks q (its text, then how to key the reading) and waits
// for the digits and "#".
func (h *Webhooks) readingEntry(sp speaker, patientID string, q questionRef, turn, silences int) []twiml.Element {
	say := sp.sayMsg(q.id, q.text)
	say = append(say, sp.sayID(content.MsgVoiceReadingKeys(q.reading), nil)...)
	say = append(say, sp.sayID(content.MsgVoiceNurse, nil)...)
	g := twiml.VoiceGather{Input: "dtmf", FinishOnKey: "#", Timeout: readingTimeout,
		Action: h.readingURL(patientID, q, turn, silences, false, ""), Method: "POST", InnerElements: say}
	return []twiml.Element{g, redirect(h.readingURL(patientID, q, turn, silences, true, ""))}
}

// questionRef is the question a keypad entry answers.
type questionRef struct {
	id      string // its catalog message, for recordings
	text    string
	step    uint32
	reading string
}

func (h *Webhooks) readingURL(patientID string, q questionRef, turn, silences int, silent bool, keyed string) string {
	u := h.gatherURL(patientID, q.step, turn, silences, silent)
	add := url.Values{"r": {q.reading}}
	if keyed != "" {
		add.Set("v", keyed)
	}
	return u + "&" + add.Encode()
}

// reading handles a key press on a reading question: the entry (digits and
// "#") or, with v, the read-back's key.
func (h *Webhooks) reading(w http.ResponseWriter, r *http.Request, g gatherQuery, digits, dedupe string) {
	ctx := r.Context()
	cur, err := h.Turns.Prompt(ctx, g.patient)
	if err != nil {
		h.fail(w, "reading entry", err)
		return
	}
	sp := h.speaker(cur)
	q, ok := waiting(cur)
	if !ok || q.Reading != g.reading || (g.step != 0 && q.Step != g.step) {
		// The question closed meanwhile (its timeout ran): ask what
		// waits now, if anything.
		h.observe("stale")
		h.again(w, g.patient, cur, g.turn+1)
		return
	}
	ref := questionRef{id: q.Message, text: q.Text, step: q.Step, reading: q.Reading}
	kind := readings.Kind(q.Reading)
	next := g.turn + 1
	if g.keyed == "" {
		// The entry: read it back, or ask again.
		rd, p := readings.ParseKeys(kind, digits)
		switch p {
		case readings.OK:
			h.observe("reading_keyed")
			h.respond(w, entered(sp, rd, digits), h.readBack(sp, g.patient, ref, next, digits, content.MsgVoiceReadingConfirm))
		case readings.UnitUnclear:
			h.observe("reading_keyed")
			h.respond(w, entered(sp, rd, digits), h.readBack(sp, g.patient, ref, next, digits, content.MsgVoiceReadingUnit))
		default:
			h.observe("reading_implausible")
			h.respond(w, sp.sayID(content.MsgVoiceReadingAgain, nil), h.readingEntry(sp, g.patient, ref, next, 0))
		}
		return
	}
	rd, p := readings.ParseKeys(kind, g.keyed)
	switch {
	case p == readings.OK && digits == keyRight:
	case p == readings.UnitUnclear && (digits == keyKg || digits == keyLb):
		unit := readings.UnitKg
		if digits == keyLb {
			unit = readings.UnitLb
		}
		if rd, p = readings.WithUnit(rd, unit); p != readings.OK {
			h.observe("reading_implausible")
			h.respond(w, sp.sayID(content.MsgVoiceReadingAgain, nil), h.readingEntry(sp, g.patient, ref, next, 0))
			return
		}
	case (p == readings.OK && digits == keyRetry) || (p == readings.UnitUnclear && digits == keyAgain) ||
		(p != readings.OK && p != readings.UnitUnclear):
		h.respond(w, h.readingEntry(sp, g.patient, ref, next, 0))
		return
	default:
		// Another key: read back again.
		msg := content.MsgVoiceReadingConfirm
		if p == readings.UnitUnclear {
			msg = content.MsgVoiceReadingUnit
		}
		h.respond(w, entered(sp, rd, g.keyed), h.readBack(sp, g.patient, ref, next, g.keyed, msg))
		return
	}
	// Confirmed: the engine reads it as the patient's typed reading.
	h.observe("reading")
	h.answer(w, r, g, readings.Text(rd), dedupe)
}

// readBack asks the confirmation (msg) of keyed with one key.
func (h *Webhooks) readBack(sp speaker, patientID string, q questionRef, turn int, keyed, msg string) []twiml.Element {
	action := h.readingURL(patientID, q, turn, 0, false, keyed)
	return []twiml.Element{
		gather(action, sp.sayID(msg, nil)),
		// No key: the question is asked again (silence counts as usual).
		redirect(h.readingURL(patientID, q, turn, 0, true, "")),
	}
}

// entered says what was keyed: "You entered 150 over 95." A number is
// said as keyed (a glucose keyed in mmol/L is not read back converted),
// with the decimal mark of the caller's language ("82,4" in Spanish).
func entered(sp speaker, r readings.Reading, keyed string) []twiml.Element {
	if r.Kind == readings.BloodPressure {
		return sp.sayID(content.MsgVoiceReadingPair, map[string]any{"Systolic": r.Systolic, "Diastolic": r.Diastolic})
	}
	v := strings.Replace(strings.TrimRight(keyed, "#"), "*", ".", 1)
	if decimalComma(sp.lang) {
		v = strings.Replace(v, ".", ",", 1)
	}
	return sp.sayID(content.MsgVoiceReadingEntered, map[string]any{"Value": v})
}

// decimalComma reports whether lang writes decimals with a comma.
func decimalComma(lang string) bool {
	switch strings.SplitN(lang, "-", 2)[0] {
	case "en", "zh", "ja", "ko", "hi", "th", "he", "tl", "sw":
		return false
	}
	return true
}
