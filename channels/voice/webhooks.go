package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/twilio/twilio-go/twiml"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/store"
)

// Channel is the name of this channel in sessions, outbox entries and metrics.
const Channel = conversations.Voice

// Spec is what the rest of Tend knows about calls: a turn's messages are
// spoken in one call, and a call never names a medicine.
var Spec = channels.Spec{Name: Channel, Address: channels.ByPhone, Synchronous: true}

// Paths of the webhooks Twilio calls. InboundPath is the number's "A call
// comes in" webhook; the others are named in the calls and TwiML Tend
// creates.
const (
	InboundPath = "/webhooks/twilio/voice"
	AnswerPath  = "/webhooks/twilio/voice/answer"
	GatherPath  = "/webhooks/twilio/voice/gather"
	DialPath    = "/webhooks/twilio/voice/dial"
	StatusPath  = "/webhooks/twilio/voice/status"
)

// Reasons of the escalations a call opens.
const (
	ReasonAskedNurse = "caller asked for a nurse"
	ReasonNoNurse    = "caller asked for a nurse; the nurse line did not answer"
)

// Turns is what the webhooks need from the conversation runner
// (runner.Runner).
type Turns interface {
	Receive(ctx context.Context, patientID string, m runner.Message) (runner.Reply, error)
	Silence(ctx context.Context, patientID, dedupe string) (runner.Reply, error)
	Prompt(ctx context.Context, patientID string) (runner.Reply, error)
	Script(ctx context.Context, patientID, messageID string) (runner.Reply, error)
	Escalate(ctx context.Context, patientID, priority, reason, dedupe string) error
	CallProgress(ctx context.Context, patientID, messageID, status string, attempt int) (changed bool, err error)
	PatientByPhone(ctx context.Context, phone string) (store.Patient, error)
	// OutboxPatient finds the patient of the outbox entry a call was
	// placed for: the call's URLs name the entry, not the patient.
	OutboxPatient(ctx context.Context, id string) (string, error)
}

// Slots frees a call's concurrency slot when Twilio reports its end
// (*Sender does).
type Slots interface {
	Release(outboxID string)
}

// Webhooks serves the IVR: inbound calls, answered reminder calls, key
// presses, the nurse transfer's outcome and call status callbacks. Every
// request must carry a valid X-Twilio-Signature for PublicURL.
//
// The call's state lives in the conversation (committed before each
// answer) and in the URLs of the TwiML it returns (patient, question step,
// turn number, silences so far), so any replica can serve any request of a
// call.
type Webhooks struct {
	Turns     Turns
	Pack      *content.Pack
	AuthToken string
	PublicURL string
	// NurseLine is the number "press 0" transfers to (E.164). Empty: the
	// caller is promised a callback and a ticket is opened instead.
	NurseLine string
	// Callback is the number a voicemail asks the patient to call back,
	// written as it should be read out (its digits are spoken one by
	// one). Empty: no voicemail is left.
	Callback string
	// Speech lets a caller speak as well as press keys where a question or
	// the nurse prompt waits: Twilio recognizes the speech in the patient's
	// language and it goes through the engine like a text, so an emergency
	// said aloud ("I can't breathe") gets the safety reply and an acute
	// ticket, and a spoken answer ("yes I took it") answers. Keys keep
	// working, and 0 stays the way to a nurse.
	Speech bool
	// Slots, when set, is told when a call ends (the Sender that placed it).
	Slots Slots
	// Pages answers the calls of the re-page ladder; nil: they hang up.
	Pages Pages
	Log   *slog.Logger
	// Observe, when set, counts webhook outcomes (for metrics).
	Observe func(outcome string)
	// ObserveStatus, when set, counts provider status reports (for
	// metrics): the status and the provider's error code (0 for none).
	ObserveStatus func(status string, code int)
}

// Paths are the webhook paths Handler serves, for a router that mounts it.
func Paths() []string {
	return []string{InboundPath, AnswerPath, GatherPath, DialPath, StatusPath, PageAnswerPath, PageKeyPath, PageStatusPath}
}

// Handler serves every voice webhook on its POST route.
func (h *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+InboundPath, h.inbound)
	mux.HandleFunc("POST "+AnswerPath, h.answerCall)
	mux.HandleFunc("POST "+GatherPath, h.gather)
	mux.HandleFunc("POST "+DialPath, h.dial)
	mux.HandleFunc("POST "+StatusPath, h.status)
	mux.HandleFunc("POST "+PageAnswerPath, h.pageAnswer)
	mux.HandleFunc("POST "+PageKeyPath, h.pageKey)
	mux.HandleFunc("POST "+PageStatusPath, h.pageStatus)
	keys := func() twilio.Keys { return twilio.Keys{AuthToken: h.AuthToken, PublicURL: h.PublicURL, Log: h.Log} }
	return twilio.Signed(keys, func() { h.observe("rejected") })(mux)
}

func (h *Webhooks) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Webhooks) observe(outcome string) {
	if h.Observe != nil {
		h.Observe(outcome)
	}
}

// verify checks that the request names a call; Handler has checked the
// signature.
func (h *Webhooks) verify(w http.ResponseWriter, r *http.Request) (callSid string, ok bool) {
	sid := r.PostForm.Get("CallSid")
	if sid == "" {
		h.observe("malformed")
		http.Error(w, "CallSid is required", http.StatusBadRequest)
		return "", false
	}
	return sid, true
}

// respond writes TwiML. The turn it answers is already committed.
func (h *Webhooks) respond(w http.ResponseWriter, verbs ...[]twiml.Element) {
	var all []twiml.Element
	for _, v := range verbs {
		all = append(all, v...)
	}
	doc, err := twiml.Voice(all)
	if err != nil {
		h.log().Error("writing TwiML", "err", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write([]byte(doc))
}

// fail answers a request whose turn could not run: a patient unenrolled
// mid-call hears nothing more; a store failure gets a 5xx so that Twilio
// retries (the dedupe key makes the retry safe).
func (h *Webhooks) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		h.observe("not_enrolled")
		h.respond(w, []twiml.Element{hangup()})
		return
	}
	h.observe("error")
	h.log().Error(what, "err", err)
	http.Error(w, "try again", http.StatusServiceUnavailable)
}

func (h *Webhooks) url(path string, q url.Values) string { return joinURL(h.PublicURL, path, q) }

// joinURL is a webhook's URL under the public base URL.
func joinURL(base, path string, q url.Values) string {
	return strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
}

// gatherURL is where a key press (or, with silent, the lack of one) for
// question step of patient goes. turn numbers the prompts of one call, so
// that each key press has its own dedupe key and a Twilio retry of the
// same request has the same one; silences counts the prompts already
// unanswered.
//
// The URL says whether the call is a known patient's (k=1), not who: the
// patient is found again from the call's number (callPatient), so that no
// patient id goes to Twilio.
func (h *Webhooks) gatherURL(patientID string, step uint32, turn, silences int, silent bool) string {
	q := url.Values{"s": {strconv.FormatUint(uint64(step), 10)}, "t": {strconv.Itoa(turn)}, "n": {strconv.Itoa(silences)}}
	if patientID != "" {
		q.Set("k", "1")
	}
	if silent {
		q.Set("silent", "1")
	}
	return h.url(GatherPath, q)
}

func (h *Webhooks) dialURL(patientID string, turn int) string {
	q := url.Values{"t": {strconv.Itoa(turn)}}
	if patientID != "" {
		q.Set("k", "1")
	}
	return h.url(DialPath, q)
}

// callPatient returns the patient a call's keypress or transfer webhook is
// about, "" for an unknown caller. A URL with k=1 is a known patient's
// call: the patient is the one enrolled with the call's other party (the
// caller of an inbound call, the callee of ours), whose number Twilio
// sends with every webhook. A URL built before issue 13 names the patient
// in p, which is used as it is (a call lasts minutes: p can go once every
// server runs this code). ErrNotFound when the patient was unenrolled
// mid-call.
func (h *Webhooks) callPatient(r *http.Request) (string, error) {
	q := r.URL.Query()
	if p := q.Get("p"); p != "" {
		return p, nil
	}
	if q.Get("k") != "1" {
		return "", nil
	}
	phone := r.PostForm.Get("To")
	if r.PostForm.Get("Direction") == "inbound" {
		phone = r.PostForm.Get("From")
	}
	if phone == "" {
		return "", store.ErrNotFound
	}
	p, err := h.Turns.PatientByPhone(r.Context(), phone)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

func (h *Webhooks) speaker(rep runner.Reply) speaker {
	lang := rep.Lang
	if lang == "" || !h.Pack.HasLanguage(lang) {
		lang = h.Pack.Languages[0]
	}
	return h.newSpeaker(lang, rep.Slow)
}

// waiting is the question a reply ends on, if it ends on one: choices
// to key, or a reading to key.
func waiting(rep runner.Reply) (runner.Outgoing, bool) {
	if n := len(rep.Messages); n > 0 && (len(rep.Messages[n-1].Labels) > 0 || rep.Messages[n-1].Reading != "") {
		return rep.Messages[n-1], true
	}
	return runner.Outgoing{}, false
}

// question asks q with its keys, then, when no key came, comes back with
// the silent marker.
func (h *Webhooks) question(sp speaker, patientID string, q runner.Outgoing, turn, silences int) []twiml.Element {
	if q.Reading != "" {
		return h.readingEntry(sp, patientID, questionRef{id: q.Message, text: q.Text, step: q.Step, reading: q.Reading}, turn, silences)
	}
	return []twiml.Element{
		h.listen(sp, gather(h.gatherURL(patientID, q.Step, turn, silences, false), sp.menu(q.Message, q.Text, q.Labels))),
		redirect(h.gatherURL(patientID, q.Step, turn, silences, true)),
	}
}

// listen lets g take speech too, when Speech is on, recognized in the
// language the call speaks.
func (h *Webhooks) listen(sp speaker, g twiml.VoiceGather) twiml.VoiceGather {
	if h.Speech {
		// A number of seconds, not "auto": Twilio refuses "auto" with some
		// speech models (warning 13335).
		g.Input, g.Language, g.SpeechTimeout = "dtmf speech", sp.voice.Language, "2"
	}
	return g
}

func goodbye(sp speaker) []twiml.Element {
	return append(sp.sayID(content.MsgVoiceGoodbye, nil), hangup())
}

// speak says a turn's messages; when the last asks a question the caller
// answers it with a key (or words), when a safety question is open the
// call listens for words, otherwise the call ends.
func (h *Webhooks) speak(w http.ResponseWriter, patientID string, rep runner.Reply, turn int) {
	sp := h.speaker(rep)
	var verbs []twiml.Element
	q, ask := waiting(rep)
	msgs := rep.Messages
	if ask {
		msgs = msgs[:len(msgs)-1]
	}
	for _, m := range msgs {
		verbs = append(verbs, sp.sayMsg(m.Message, m.Text)...)
	}
	if ask {
		h.respond(w, verbs, h.question(sp, patientID, q, turn, 0))
		return
	}
	if rep.Asking && h.Speech {
		// A safety question waits for a spoken yes or no; silence ends
		// the call and the question's own timeout decides.
		h.respond(w, []twiml.Element{h.listen(sp, gather(h.gatherURL(patientID, 0, turn, 0, false), verbs))}, goodbye(sp))
		return
	}
	h.respond(w, verbs, goodbye(sp))
}

// inbound handles POST /webhooks/twilio/voice: a call to the voice number.
// An enrolled caller hears the question their conversation waits on; a
// caller Tend does not know (or whose number is withheld) hears that the
// number is not enrolled and may ask for a nurse.
func (h *Webhooks) inbound(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	ctx := r.Context()
	// A withheld number ("anonymous") is a real call, not a malformed
	// request: it is an unknown caller.
	err := store.ErrNotFound
	var p store.Patient
	if phone, perr := channels.E164(r.PostForm.Get("From")); perr == nil {
		p, err = h.Turns.PatientByPhone(ctx, phone)
	}
	var rep runner.Reply
	if err == nil {
		rep, err = h.Turns.Prompt(ctx, p.ID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.observe("unknown_caller")
		h.unknownCaller(w)
		return
	case err != nil:
		h.fail(w, "inbound call", err)
		return
	}
	h.observe("inbound")
	if rep.OptedOut {
		// They stopped our calls and now call us: offer to start them
		// again, never assume it.
		sp := h.speaker(rep)
		h.respond(w, []twiml.Element{gather(h.resumeURL(p.ID), sp.sayID(content.MsgVoiceResume, nil))}, goodbye(sp))
		return
	}
	h.prompt(w, p.ID, rep, 1)
}

func (h *Webhooks) resumeURL(patientID string) string {
	return h.url(GatherPath, url.Values{"k": {"1"}, "s": {"0"}, "t": {"1"}, "n": {"0"}, "resume": {"1"}})
}

// resume handles the key of a caller who had stopped calls: 1 starts them
// again (the opt-in is theirs, on this channel only) and goes on with what
// waits; 0 is the nurse; anything else ends the call.
func (h *Webhooks) resume(w http.ResponseWriter, r *http.Request, g gatherQuery, digits, dedupe string) {
	ctx := r.Context()
	switch digits {
	case "1":
		h.observe("resume")
		rep, err := h.Turns.Receive(ctx, g.patient, runner.Message{Channel: Channel, Kind: conversations.AskStart, Text: digits, Sync: true, Dedupe: dedupe})
		if err != nil {
			h.fail(w, "starting calls again", err)
			return
		}
		cur, err := h.Turns.Prompt(ctx, g.patient)
		if err != nil {
			h.fail(w, "starting calls again", err)
			return
		}
		rep.Messages = append(rep.Messages, cur.Messages...)
		h.speak(w, g.patient, rep, g.turn+1)
	case keyNurse:
		h.observe("nurse")
		h.nurse(w, r, g.patient, g.turn+1)
	default:
		h.respond(w, goodbye(h.newSpeaker(h.Pack.Languages[0], false)))
	}
}

// prompt asks the waiting question of rep or, when nothing waits, says so
// and offers a nurse.
func (h *Webhooks) prompt(w http.ResponseWriter, patientID string, rep runner.Reply, turn int) {
	sp := h.speaker(rep)
	if q, ok := waiting(rep); ok {
		h.respond(w, h.question(sp, patientID, q, turn, 0))
		return
	}
	inner := append(sp.sayID(content.MsgVoiceNothing, nil), sp.sayID(content.MsgVoiceNurse, nil)...)
	h.respond(w, []twiml.Element{h.listen(sp, gather(h.gatherURL(patientID, 0, turn, 0, false), inner))}, goodbye(sp))
}

func (h *Webhooks) unknownCaller(w http.ResponseWriter) {
	sp := h.newSpeaker(h.Pack.Languages[0], false)
	if h.NurseLine == "" {
		h.respond(w, sp.sayID(content.MsgVoiceUnknown, nil), goodbye(sp))
		return
	}
	h.respond(w, sp.sayID(content.MsgVoiceUnknown, nil),
		[]twiml.Element{gather(h.gatherURL("", 0, 1, 0, false), sp.sayID(content.MsgVoiceNurse, nil))}, goodbye(sp))
}

// answerCall handles POST /webhooks/twilio/voice/answer?o&a: a reminder call
// was picked up. An answering machine (or fax) gets a short voicemail that
// names neither program nor medicine; a person hears the message and
// answers its question with a key. The patient is the outbox entry's (a
// call placed before the URLs lost the patient id names it in p).
func (h *Webhooks) answerCall(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	q := r.URL.Query()
	outboxID := q.Get("o")
	if outboxID == "" {
		h.observe("malformed")
		http.Error(w, "the o query parameter is required", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	patientID, err := twilio.StatusPatient(ctx, h.Turns, q)
	if err != nil {
		h.fail(w, "finding an answered call's patient", err)
		return
	}
	if patientID == "" {
		h.fail(w, "answered call", store.ErrNotFound) // hang up
		return
	}
	if machine(r.PostForm.Get("AnsweredBy")) {
		h.voicemail(w, r, patientID, outboxID)
		return
	}
	rep, err := h.Turns.Script(ctx, patientID, outboxID)
	if err != nil {
		h.fail(w, "answered call", err)
		return
	}
	h.observe("answered")
	h.speak(w, patientID, rep, 1)
}

// machine reports whether AMD found a machine or a fax rather than a
// person ("human", or "unknown" when it could not tell: a person who said
// little is better served by the script than by a voicemail).
func machine(answeredBy string) bool {
	return strings.HasPrefix(answeredBy, "machine") || answeredBy == "fax"
}

func (h *Webhooks) voicemail(w http.ResponseWriter, r *http.Request, patientID, outboxID string) {
	ctx := r.Context()
	rep, err := h.Turns.Prompt(ctx, patientID)
	if err != nil {
		h.fail(w, "voicemail", err)
		return
	}
	if _, err := h.Turns.CallProgress(ctx, patientID, outboxID, StatusVoicemail, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.fail(w, "recording voicemail", err)
		return
	}
	h.observe("voicemail")
	if h.Callback == "" {
		// A message that cannot say where to call back only worries.
		h.respond(w, []twiml.Element{hangup()})
		return
	}
	sp := h.speaker(rep)
	h.respond(w, sp.sayID(content.MsgVoiceVoicemail, map[string]any{"HelpContact": spell(h.Callback)}), []twiml.Element{hangup()})
}

// spell writes a callback number so that text-to-speech reads it digit by
// digit, pausing where the number is grouped ("+1 555-0100" → "1, 5 5 5,
// 0 1 0 0"); words stay as they are ("your clinic", "ext.").
func spell(number string) string {
	var parts []string
	sep := false // a separator is pending between digit groups
	for rest := strings.TrimSpace(number); rest != ""; {
		isDigit := rest[0] >= '0' && rest[0] <= '9'
		n := strings.IndexFunc(rest, func(c rune) bool { return (c >= '0' && c <= '9') != isDigit })
		if n < 0 {
			n = len(rest)
		}
		run := rest[:n]
		rest = rest[n:]
		switch {
		case isDigit:
			if sep && len(parts) > 0 {
				parts[len(parts)-1] += ","
			}
			parts = append(parts, strings.Join(strings.Split(run, ""), " "))
			sep = false
		case strings.IndexFunc(run, unicode.IsLetter) >= 0:
			parts = append(parts, strings.TrimSpace(run))
			sep = false
		default:
			sep = true
		}
	}
	return strings.Join(parts, " ")
}

// gatherQuery is the state a key press carries in its URL.
type gatherQuery struct {
	patient  string
	step     uint32
	turn     int
	silences int
	silent   bool
	resume   bool   // the caller had stopped calls and is asked to start them
	reading  string // r: the question asks for a reading of this kind (reading.go)
	keyed    string // v: the reading keyed, being read back for confirmation
}

func parseGather(q url.Values) (gatherQuery, error) {
	g := gatherQuery{silent: q.Get("silent") == "1", resume: q.Get("resume") == "1", reading: q.Get("r"), keyed: q.Get("v")}
	s, err := strconv.ParseUint(q.Get("s"), 10, 32)
	if err != nil {
		return g, errors.New("s: " + err.Error())
	}
	g.step = uint32(s)
	if g.turn, err = strconv.Atoi(q.Get("t")); err != nil || g.turn < 0 {
		return g, errors.New("t: not a turn number")
	}
	if g.silences, err = strconv.Atoi(q.Get("n")); err != nil || g.silences < 0 {
		return g, errors.New("n: not a count")
	}
	return g, nil
}

// gather handles POST /webhooks/twilio/voice/gather?k&s&t&n[&silent=1]: a
// key pressed on a question, or, with silent, none. 9 repeats the
// question, 0 asks for a nurse, 8 stops calls; any other key, or words the
// caller said (Speech), answers the question through the engine, in a turn
// committed before the next TwiML is written.
func (h *Webhooks) gather(w http.ResponseWriter, r *http.Request) {
	sid, ok := h.verify(w, r)
	if !ok {
		return
	}
	g, err := parseGather(r.URL.Query())
	if err != nil {
		h.observe("malformed")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if g.patient, err = h.callPatient(r); err != nil {
		h.fail(w, "finding a caller's patient", err)
		return
	}
	digits := strings.TrimSpace(r.PostForm.Get("Digits"))
	speech := ""
	if h.Speech && digits == "" && !g.silent && !g.resume {
		speech = strings.TrimSpace(r.PostForm.Get("SpeechResult"))
	}
	silent := g.silent || (digits == "" && speech == "")
	if g.patient == "" {
		h.unknownKey(w, digits, silent, g.turn+1)
		return
	}
	ctx := r.Context()
	dedupe := "twilio:" + sid + ":" + strconv.Itoa(g.turn)
	next := g.turn + 1
	switch {
	case g.resume && !silent:
		h.resume(w, r, g, digits, dedupe)
	case g.resume:
		h.respond(w, goodbye(h.newSpeaker(h.Pack.Languages[0], false)))
	case silent:
		h.observe("no_input")
		h.silence(w, r, g, dedupe)
	case speech != "":
		// Said, not pressed: the engine reads it as a text, emergency
		// first. The text is PHI and is never logged.
		h.observe("speech")
		h.answer(w, r, g, speech, dedupe)
	case digits == keyRepeat:
		h.observe("repeat")
		rep, err := h.Turns.Prompt(ctx, g.patient)
		if err != nil {
			h.fail(w, "repeating a question", err)
			return
		}
		h.again(w, g.patient, rep, next)
	case digits == keyNurse:
		h.observe("nurse")
		h.nurse(w, r, g.patient, next)
	case digits == keyStop:
		h.observe("stop")
		rep, err := h.Turns.Receive(ctx, g.patient, runner.Message{Channel: Channel, Kind: conversations.AskStop, Text: digits, Sync: true, Dedupe: dedupe})
		if err != nil {
			h.fail(w, "stopping calls", err)
			return
		}
		sp := h.speaker(rep)
		h.respond(w, sp.sayID(content.MsgVoiceStopped, nil), []twiml.Element{hangup()})
	case g.reading != "":
		h.reading(w, r, g, digits, dedupe)
	default:
		h.answer(w, r, g, digits, dedupe)
	}
}

// again asks the waiting question once more, or says goodbye when nothing
// waits any more.
func (h *Webhooks) again(w http.ResponseWriter, patientID string, rep runner.Reply, turn int) {
	sp := h.speaker(rep)
	if q, ok := waiting(rep); ok {
		h.respond(w, h.question(sp, patientID, q, turn, 0))
		return
	}
	h.respond(w, goodbye(sp))
}

// answer runs the turn of a key that answers the question.
func (h *Webhooks) answer(w http.ResponseWriter, r *http.Request, g gatherQuery, digits, dedupe string) {
	ctx := r.Context()
	next := g.turn + 1
	// The engine refuses a key pressed on a question that closed meanwhile
	// (its timeout ran while the caller listened): it must not answer the
	// question that came next (Reply.Stale).
	rep, err := h.Turns.Receive(ctx, g.patient, runner.Message{Channel: Channel, Text: digits, Step: g.step, Sync: true, Dedupe: dedupe})
	if err != nil {
		h.fail(w, "answering a question", err)
		return
	}
	if rep.Duplicate || rep.Stale {
		// Twilio retried a key press whose turn is committed, or the
		// question closed: ask what waits now.
		outcome := "duplicate"
		if rep.Stale {
			outcome = "stale"
		}
		h.observe(outcome)
		cur, err := h.Turns.Prompt(ctx, g.patient)
		if err != nil {
			h.fail(w, "answering a question", err)
			return
		}
		h.again(w, g.patient, cur, next)
		return
	}
	h.observe("answer")
	h.speak(w, g.patient, rep, next)
}

// silence handles a prompt nobody answered: the first time the question is
// asked again; the second time the question's timeout runs now (its
// messages are said) and the call ends.
func (h *Webhooks) silence(w http.ResponseWriter, r *http.Request, g gatherQuery, dedupe string) {
	ctx := r.Context()
	cur, err := h.Turns.Prompt(ctx, g.patient)
	if err != nil {
		h.fail(w, "no key pressed", err)
		return
	}
	sp := h.speaker(cur)
	q, ok := waiting(cur)
	if !ok || (g.step != 0 && q.Step != g.step) {
		// The question closed meanwhile: there is nothing to time out.
		h.respond(w, goodbye(sp))
		return
	}
	if g.silences == 0 {
		h.respond(w, sp.sayID(content.MsgVoiceNoInput, nil), h.question(sp, g.patient, q, g.turn+1, 1))
		return
	}
	rep, err := h.Turns.Silence(ctx, g.patient, dedupe)
	if err != nil {
		h.fail(w, "running a question's timeout", err)
		return
	}
	var verbs []twiml.Element
	if !rep.Duplicate {
		sp = h.speaker(rep)
		for _, m := range rep.Messages {
			verbs = append(verbs, sp.sayMsg(m.Message, m.Text)...)
		}
	}
	h.respond(w, verbs, goodbye(sp))
}

// nurse transfers the caller to the nurse line, or, without one, opens a
// ticket for a callback.
func (h *Webhooks) nurse(w http.ResponseWriter, r *http.Request, patientID string, turn int) {
	ctx := r.Context()
	cur, err := h.Turns.Prompt(ctx, patientID)
	if err != nil {
		h.fail(w, "asking for a nurse", err)
		return
	}
	sp := h.speaker(cur)
	if h.NurseLine != "" {
		h.respond(w, sp.sayID(content.MsgVoiceConnecting, nil), []twiml.Element{dial(h.NurseLine, h.dialURL(patientID, turn))})
		return
	}
	dedupe := fmt.Sprintf("twilio:%s:nurse:%d", r.PostForm.Get("CallSid"), turn)
	if err := h.Turns.Escalate(ctx, patientID, escalation.Medium, ReasonAskedNurse, dedupe); err != nil {
		h.fail(w, "asking for a nurse", err)
		return
	}
	h.respond(w, sp.sayID(content.MsgVoiceCallback, nil), []twiml.Element{hangup()})
}

// unknownKey handles a key from a caller Tend does not know: 0 reaches the
// nurse line, anything else ends the call.
func (h *Webhooks) unknownKey(w http.ResponseWriter, digits string, silent bool, turn int) {
	sp := h.newSpeaker(h.Pack.Languages[0], false)
	if !silent && digits == keyNurse && h.NurseLine != "" {
		h.observe("nurse")
		h.respond(w, sp.sayID(content.MsgVoiceConnecting, nil), []twiml.Element{dial(h.NurseLine, h.dialURL("", turn))})
		return
	}
	h.respond(w, goodbye(sp))
}

// dial handles POST /webhooks/twilio/voice/dial?k&t: the transfer to the
// nurse line ended. When nobody answered, the patient is promised a
// callback and a ticket is opened.
func (h *Webhooks) dial(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	status := r.PostForm.Get("DialCallStatus")
	if status == "" {
		h.observe("malformed")
		http.Error(w, "DialCallStatus is required", http.StatusBadRequest)
		return
	}
	patientID, err := h.callPatient(r)
	if err != nil {
		h.fail(w, "finding a caller's patient", err)
		return
	}
	if patientID == "" {
		h.respond(w, goodbye(h.newSpeaker(h.Pack.Languages[0], false)))
		return
	}
	ctx := r.Context()
	cur, err := h.Turns.Prompt(ctx, patientID)
	if err != nil {
		h.fail(w, "nurse transfer", err)
		return
	}
	sp := h.speaker(cur)
	if status == "completed" {
		h.observe("nurse_answered")
		h.respond(w, goodbye(sp))
		return
	}
	h.observe("nurse_missed")
	dedupe := "twilio:" + r.PostForm.Get("CallSid") + ":dial:" + r.URL.Query().Get("t")
	if err := h.Turns.Escalate(ctx, patientID, escalation.Medium, ReasonNoNurse, dedupe); err != nil {
		h.fail(w, "nurse transfer", err)
		return
	}
	h.respond(w, sp.sayID(content.MsgVoiceCallback, nil), []twiml.Element{hangup()})
}

// Statuses a call gives its message.out event, beyond the store's.
const (
	// StatusRinging: the patient's phone rings.
	StatusRinging = "ringing"
	// StatusVoicemail: an answering machine took the call; the short
	// voicemail (no PHI) was left, the message itself was not.
	StatusVoicemail = "voicemail"
	// StatusBusy: the line was busy; the call is retried.
	StatusBusy = "busy"
	// StatusNoAnswer: it rang out; the call is retried.
	StatusNoAnswer = "no-answer"
)

// eventStatus is the message status a call status stands for ("" for
// none). An answered call is "delivered": the patient heard the message
// (unless a machine answered: "voicemail"); busy and no-answer keep
// Twilio's names; failed and canceled are the store's.
func eventStatus(callStatus, answeredBy string) string {
	switch callStatus {
	case "ringing":
		return StatusRinging
	case "in-progress", "answered", "completed":
		if machine(answeredBy) {
			return StatusVoicemail
		}
		return "delivered"
	case "busy":
		return StatusBusy
	case "no-answer":
		return StatusNoAnswer
	case "failed", "canceled":
		return callStatus
	}
	return ""
}

// status handles POST /webhooks/twilio/voice/status?o&a: the call's
// progress; the patient is the outbox entry's, as for answerCall. It records the outcome on the message's event, frees the
// call's slot when it ends, and asks for the call again when it was busy,
// not answered or failed (the runner applies the program's retry limit and
// spacing, then falls back along the patient's chain).
func (h *Webhooks) status(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	q := r.URL.Query()
	outboxID := q.Get("o")
	callStatus := r.PostForm.Get("CallStatus")
	attempt, err := strconv.Atoi(q.Get("a"))
	if callStatus == "" || outboxID == "" || err != nil || attempt < 0 {
		h.observe("malformed")
		http.Error(w, "CallStatus and the o and a query parameters are required", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	switch callStatus {
	case "completed", "busy", "no-answer", "failed", "canceled":
		if h.Slots != nil {
			h.Slots.Release(outboxID)
		}
	}
	status := eventStatus(callStatus, r.PostForm.Get("AnsweredBy"))
	if h.ObserveStatus != nil && status != "" {
		code, _ := strconv.Atoi(r.PostForm.Get("ErrorCode"))
		h.ObserveStatus(status, code)
	}
	if status == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	patientID, err := twilio.StatusPatient(ctx, h.Turns, q)
	if err != nil {
		h.log().Error("finding a call's patient", "message", outboxID, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if patientID == "" {
		h.log().Debug("status of a call for an unknown message; ignored", "message", outboxID, "status", status)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// A call that ended busy, unanswered or failed is asked for again:
	// the runner applies the program's retry limit and spacing.
	_, err = h.Turns.CallProgress(ctx, patientID, outboxID, status, attempt)
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent) // unenrolled since
		return
	}
	if err != nil {
		h.log().Error("recording call status", "message", outboxID, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	h.observe("status_" + status)
	w.WriteHeader(http.StatusNoContent)
}
