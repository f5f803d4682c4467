package conversations

import (
	"strings"
	"time"

	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/locales"
)

// safety runs before anything else on a patient's message, in every state
// and on every channel, opted out or not: an emergency gets the safety reply
// and an acute ticket; a concept named but negated, past, asked about or
// unsure gets a short question; the answer to a waiting question is read.
// It reports whether it handled the message.
func (t *turn) safety(raw, norm string) bool {
	d := t.e.Pack.Detector
	found := d.Detect(raw, norm)
	if found.Level == locales.LevelEmergency {
		t.emergency(found.Concept, "")
		return true
	}
	if t.s.Safety != "" {
		if yes, no := d.Answer(norm); yes || no {
			concept := t.s.Safety
			t.clearSafety()
			if yes {
				t.emergency(concept, "confirmed by the patient")
			} else {
				t.out.Keyword = "safety_no"
				t.say(content.MsgSafetyNo, func(ef *Effect) { ef.Urgent = true })
			}
			return true
		}
	}
	if found.Level == locales.LevelAsk && found.Concept != t.s.Safety {
		t.ask(found.Concept)
		return true
	}
	return false
}

// emergency sends the safety reply and opens an acute ticket. The reply goes
// out even to an opted-out patient and even in quiet hours, on the channel
// the message came on; the active flow stops nagging.
func (t *turn) emergency(concept, how string) {
	t.out.Keyword = "emergency"
	t.clearSafety()
	msg := content.MsgEmergency
	if concept == "suicide" {
		msg = content.MsgCrisis
	}
	t.say(msg, func(ef *Effect) { ef.Urgent = true })
	reason := ReasonEmergency + ": " + ConceptName(concept)
	if how != "" {
		reason += " (" + how + ")"
	}
	t.escalate(escalation.Acute, reason)
	t.endFlow(false)
}

// ask puts the safety question about a concept and arms its timer. The
// active flow waits: its question is still open once this one is answered.
func (t *turn) ask(concept string) {
	t.out.Keyword = "safety_ask"
	due := t.now.Add(SafetyWait).Truncate(time.Second)
	t.s.Safety, t.s.SafetyDue = concept, due.Unix()
	t.say(content.SafetyQuestion(concept), func(ef *Effect) { ef.Urgent = true })
	t.out.add(Effect{Kind: SetTimer, Timer: SafetyTimer, Due: due})
}

// clearSafety forgets a waiting safety question and its timer.
func (t *turn) clearSafety() {
	if t.s.Safety == "" {
		return
	}
	t.s.Safety, t.s.SafetyDue = "", 0
	t.out.add(Effect{Kind: CancelTimer, Timer: SafetyTimer})
}

// safetyTimeout handles a safety question nobody answered.
func (t *turn) safetyTimeout(due int64) {
	if t.s.Safety == "" || due != t.s.SafetyDue {
		return // answered, or asked again since the timer was read
	}
	concept := t.s.Safety
	t.s.Safety, t.s.SafetyDue = "", 0
	if serious[concept] {
		t.emergency(concept, "no answer to the safety question")
		return
	}
	t.out.Keyword = "safety_timeout"
	t.escalate(escalation.High, "possible emergency: "+ConceptName(concept)+" (no answer to the safety question)")
}

// conceptNames are the concepts as a nurse reads them in a ticket.
var conceptNames = map[string]string{
	"suicide": "suicide risk", "chest_pain": "chest pain", "breathing": "trouble breathing",
	"stroke": "stroke signs", "fainting": "fainting or unresponsive", "overdose": "overdose",
	"bleeding": "severe bleeding", "low_sugar": "very low blood sugar", "seizure": "seizure",
	"allergy": "severe allergic reaction",
}

// ConceptName is a concept as a nurse reads it in a ticket: "chest pain".
func ConceptName(concept string) string {
	if n, ok := conceptNames[concept]; ok {
		return n
	}
	return strings.ReplaceAll(concept, "_", " ")
}

// UrgentMessage reports whether a message is a safety message: it goes out
// in quiet hours and to opted-out patients, and is resent as urgent.
func UrgentMessage(id string) bool {
	return id == content.MsgEmergency || id == content.MsgCrisis || strings.HasPrefix(id, "safety.")
}
