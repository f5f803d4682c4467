// Package voice is Tend's IVR on Twilio: reminder calls placed from the
// outbox, calls patients make to the voice number, and the keypad
// conversation in between, for patients who only answer the phone.
//
// Voice is synchronous: Twilio asks for the next TwiML and waits. Each
// webhook runs the same runner.Runner turn a text channel would run
// (with Message.Sync, so the turn's messages come back to be spoken
// instead of being queued) and writes the TwiML only after the turn is
// committed. A call's place in the conversation travels in the URLs of
// the TwiML (patient, question step, a turn number that with the CallSid
// makes each key press's dedupe key, the silences so far), so any replica
// can answer any request and Twilio's retries run no turn twice.
//
// A question is spoken with its choices as keys 1..n; 9 repeats it, 0
// transfers to the nurse line (or opens a callback ticket), 8 stops calls
// (voice only: SMS and other channels stay as they are). Two silences in a
// row run the question's timeout at once and end the call. An answering
// machine gets a short voicemail with a callback number and nothing else:
// no program, no medicine (minimum necessary).
//
// Sender places calls with twilio-go's Calls API, with synchronous
// answering machine detection, and bounds the calls in progress per voice
// number. Status callbacks record each call's outcome on its message
// event and ask the runner to place a busy or unanswered call again, which
// after the program's last retry falls back along the patient's chain.
//
// A language with recordings (content.Audio: no text-to-speech voice
// speaks it) is played, not said: each message becomes the <Play>s of its
// recorded pieces and values, and ServeAudio serves a pack folder's files,
// unsigned, since they hold the catalog's words and nothing of a patient.
//
// Page calls (pages.go) are the voice steps of the re-page ladder: an
// outbox entry with a ticket and no patient calls an on-call number, which
// hears the ticket's priority (never a patient) and presses 1 to
// acknowledge; the Runner records it and stops the pages.
//
// Every webhook checks X-Twilio-Signature against the public URL (403 when
// forged, 400 when malformed) and answers 5xx when the store fails, so
// Twilio retries.
package voice
