package content

import (
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/readings"
)

// Message ids Tend sends on its own, outside any flow: the engine's
// (keywords, the safety net, replies that answer nothing) and the
// channels' (what a call says around a prompt, Telegram's link replies).
// Every bundled language must have them (lint checks EngineMessages and
// ChannelMessages); code names them by these constants, never by literals.
const (
	MsgStopConfirm       = "keyword.stop.confirm"     // the STOP confirmation
	MsgStartConfirm      = "keyword.start.confirm"    // the START (opt back in) confirmation
	MsgHelp              = "keyword.help"             // the HELP answer
	MsgHumanAck          = "keyword.human.ack"        // a person was asked for
	MsgEmergency         = "keyword.emergency"        // the safety reply to an emergency
	MsgCrisis            = "keyword.crisis"           // the safety reply to suicidal thoughts
	MsgSafetyNo          = "safety.no"                // a no to the safety question
	MsgLanguageConfirm   = "keyword.language.confirm" // a language switch
	MsgLanguages         = "keyword.languages"        // LANGUAGES: the bundled languages, {{.Languages}}
	MsgAnswerUnknown     = "answer.unknown"           // a reply that answers nothing
	MsgOfferHuman        = "answer.offer_human"       // a second reply that answers nothing
	MsgHandoff           = "answer.handoff"           // the third: a person will follow up
	MsgIdleReply         = "idle.reply"               // a message outside any flow
	MsgAnswerClosed      = "answer.closed"            // a reply to a question that closed
	MsgUnknownNumber     = "unknown.number"           // a number no patient has
	MsgGenericMedication = "med.generic"              // a medicine's name when it may not be said
)

// Message ids the channels send themselves. They never go by SMS, so the
// SMS length checks skip them.
const (
	MsgVoicePress      = "voice.press"
	MsgVoiceRepeat     = "voice.repeat"
	MsgVoiceNurse      = "voice.nurse"
	MsgVoiceStop       = "voice.stop"
	MsgVoiceNoInput    = "voice.no_input"
	MsgVoiceGoodbye    = "voice.goodbye"
	MsgVoiceVoicemail  = "voice.voicemail"
	MsgVoiceUnknown    = "voice.unknown"
	MsgVoiceConnecting = "voice.connecting"
	MsgVoiceCallback   = "voice.callback"
	MsgVoiceNothing    = "voice.nothing"
	MsgVoiceStopped    = "voice.stopped"
	MsgVoiceResume     = "voice.resume"
	// Keypad entry of a reading (channels/voice/reading.go).
	MsgVoiceReadingEntered = "voice.reading.entered" // You entered {{.Value}}.
	MsgVoiceReadingPair    = "voice.reading.pair"    // You entered {{.Systolic}} over {{.Diastolic}}.
	MsgVoiceReadingConfirm = "voice.reading.confirm" // press 1 if right, 2 to try again
	MsgVoiceReadingUnit    = "voice.reading.unit"    // 1 kilograms, 2 pounds, 3 try again
	MsgVoiceReadingAgain   = "voice.reading.again"   // that does not look right
	MsgTelegramRefused     = "telegram.start.refused"
	MsgTelegramTaken       = "telegram.start.taken"
	MsgTelegramStale       = "telegram.stale"
)

// MsgVoiceReadingKeys is how to key a reading of kind on the phone
// ("voice.reading.keys.blood_pressure").
func MsgVoiceReadingKeys(kind string) string { return "voice.reading.keys." + kind }

// SafetyQuestion is the id of the question the engine asks about one
// concept of the emergency lexicon ("safety.ask.chest_pain").
func SafetyQuestion(concept string) string { return "safety.ask." + concept }

// EngineMessages are the message ids the conversation engine sends on its
// own, outside any flow. Every bundled language must have them. (Functions,
// not variables, so that no caller can change the list for everyone.)
func EngineMessages() []string {
	ids := []string{MsgStopConfirm, MsgStartConfirm, MsgHelp, MsgHumanAck, MsgEmergency, MsgCrisis, MsgSafetyNo, MsgLanguageConfirm, MsgLanguages, MsgAnswerUnknown, MsgOfferHuman, MsgHandoff, MsgIdleReply, MsgAnswerClosed, MsgUnknownNumber, MsgGenericMedication}
	for _, c := range locales.Concepts() {
		ids = append(ids, SafetyQuestion(c))
	}
	return ids
}

// ChannelMessages are the messages channels send themselves: what a call
// says around a flow's prompt, and Telegram's link and button replies.
func ChannelMessages() []string {
	ids := []string{MsgVoicePress, MsgVoiceRepeat, MsgVoiceNurse, MsgVoiceStop, MsgVoiceNoInput, MsgVoiceGoodbye, MsgVoiceVoicemail, MsgVoiceUnknown, MsgVoiceConnecting, MsgVoiceCallback, MsgVoiceNothing, MsgVoiceStopped, MsgVoiceResume, MsgTelegramRefused, MsgTelegramTaken, MsgTelegramStale,
		MsgVoiceReadingEntered, MsgVoiceReadingPair, MsgVoiceReadingConfirm, MsgVoiceReadingUnit, MsgVoiceReadingAgain}
	for _, k := range readings.Kinds {
		ids = append(ids, MsgVoiceReadingKeys(string(k)))
	}
	return ids
}
