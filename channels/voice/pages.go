package voice

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/twilio/twilio-go/twiml"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// Page calls: a step of the re-page ladder (runner.Runner pages) calls an
// on-call number about a ticket nobody claimed. The call speaks to staff,
// not to a patient: it names no patient, says the ticket's priority in
// English with Twilio's default voice, and asks for 1 to acknowledge.
// Pressing 1 stops the pages (the ticket waits for a claim in the
// console). A call is placed from an outbox entry with no patient and the
// ticket (store.OutboxEntry.Ticket); its URLs carry the ticket and the
// entry, so any replica can answer them.

// Paths of the page call's webhooks, named in the calls Sender places.
const (
	PageAnswerPath = "/webhooks/twilio/voice/page"
	PageKeyPath    = "/webhooks/twilio/voice/page/key"
	PageStatusPath = "/webhooks/twilio/voice/page/status"
)

// keyAck is the key that acknowledges a page.
const keyAck = "1"

// Pages is what page calls need from the Runner (runner.Runner): the
// ticket, read when the call is answered, and the acknowledgement.
type Pages interface {
	Ticket(ctx context.Context, id string) (store.Escalation, error)
	AcknowledgePage(ctx context.Context, ticketID, who, dedupe string) (runner.PageAck, error)
}

// What page calls say.
const (
	pageAsk     = "Press 1 to acknowledge. The pages will stop and the ticket waits for you in the Tend console."
	pageMachine = "Open the Tend console to claim it."
	pageDone    = "Acknowledged. No more pages for this ticket. Claim it in the Tend console. Goodbye."
	pageAlready = "Someone has acknowledged this ticket already. Goodbye."
	pageGone    = "This ticket no longer needs you: it was claimed or resolved. Goodbye."
	pageMissed  = "Not acknowledged. You may be paged again. Goodbye."
)

// pageURLs returns the answer and status callback URLs of a page call.
func pageURLs(publicURL string, e store.OutboxEntry) (answer, status string) {
	q := url.Values{"t": {e.Ticket}, "o": {e.ID}}
	return joinURL(publicURL, PageAnswerPath, q), joinURL(publicURL, PageStatusPath, q)
}

// staffSay speaks to staff: English, Twilio's default voice.
func staffSay(text ...string) []twiml.Element {
	out := make([]twiml.Element, len(text))
	for i, s := range text {
		out[i] = twiml.VoiceSay{Message: s, Language: "en-US"}
	}
	return out
}

// pageTicket reads the ticket a page call is about, or answers the
// request itself (and returns false): a malformed request, no Pages, a
// store failure, or a ticket that no longer needs anyone.
func (h *Webhooks) pageTicket(w http.ResponseWriter, r *http.Request) (store.Escalation, bool) {
	if _, ok := h.verify(w, r); !ok {
		return store.Escalation{}, false
	}
	id := r.URL.Query().Get("t")
	if id == "" {
		h.observe("malformed")
		http.Error(w, "the t query parameter is required", http.StatusBadRequest)
		return store.Escalation{}, false
	}
	if h.Pages == nil {
		h.observe("page_unconfigured")
		h.respond(w, []twiml.Element{hangup()})
		return store.Escalation{}, false
	}
	t, err := h.Pages.Ticket(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Waiting()) {
		h.observe("page_gone")
		h.respond(w, staffSay(pageGone), []twiml.Element{hangup()})
		return t, false
	}
	if err != nil {
		h.fail(w, "page call", err)
		return t, false
	}
	return t, true
}

// pageAsk asks the person who answered a page call for the key, twice.
func (h *Webhooks) pageAsk(w http.ResponseWriter, t store.Escalation) {
	key := joinURL(h.PublicURL, PageKeyPath, url.Values{"t": {t.ID}})
	ask := staffSay(runner.PageCallText(t.Priority), pageAsk)
	h.respond(w, []twiml.Element{gather(key, ask), gather(key, ask)}, staffSay(pageMissed), []twiml.Element{hangup()})
}

// pageAnswer handles POST /webhooks/twilio/voice/page?t&o: a page call was
// picked up. A person is asked for 1; a machine is told the priority and
// where to look; a ticket claimed, resolved or acknowledged since is said
// to need nobody.
func (h *Webhooks) pageAnswer(w http.ResponseWriter, r *http.Request) {
	t, ok := h.pageTicket(w, r)
	if !ok {
		return
	}
	switch {
	case !t.AckedAt.IsZero():
		h.observe("page_acknowledged_before")
		h.respond(w, staffSay(pageAlready), []twiml.Element{hangup()})
	case machine(r.PostForm.Get("AnsweredBy")):
		h.observe("page_voicemail")
		h.respond(w, staffSay(runner.PageCallText(t.Priority), pageMachine), []twiml.Element{hangup()})
	default:
		h.observe("page_answered")
		h.pageAsk(w, t)
	}
}

// pageKey handles POST /webhooks/twilio/voice/page/key?t: a key pressed on
// a page call. 1 acknowledges, once per call (a Twilio retry of the same
// press is the same acknowledgement), for the number called; any other key
// asks again.
func (h *Webhooks) pageKey(w http.ResponseWriter, r *http.Request) {
	t, ok := h.pageTicket(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("Digits") != keyAck {
		h.observe("page_other_key")
		h.pageAsk(w, t)
		return
	}
	// The number called (To, on an outbound call) is who acknowledged.
	who, err := channels.E164(r.PostForm.Get("To"))
	if err != nil {
		who = "unknown"
	}
	ack, err := h.Pages.AcknowledgePage(r.Context(), t.ID, who, "twilio:"+r.PostForm.Get("CallSid")+":ack")
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && ack == runner.NotWaiting:
		h.observe("page_gone")
		h.respond(w, staffSay(pageGone), []twiml.Element{hangup()})
	case err != nil:
		h.fail(w, "acknowledging a page", err)
	case ack == runner.AlreadyAcknowledged:
		h.observe("page_acknowledged_before")
		h.respond(w, staffSay(pageAlready), []twiml.Element{hangup()})
	default:
		h.observe("page_acknowledged")
		h.respond(w, staffSay(pageDone), []twiml.Element{hangup()})
	}
}

// pageStatus handles POST /webhooks/twilio/voice/page/status?t&o: a page
// call's progress. It frees the call's slot when the call ends; the
// ladder goes on by itself whether the call was answered or not.
func (h *Webhooks) pageStatus(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	outboxID, callStatus := r.URL.Query().Get("o"), r.PostForm.Get("CallStatus")
	if outboxID == "" || callStatus == "" {
		h.observe("malformed")
		http.Error(w, "CallStatus and the o query parameter are required", http.StatusBadRequest)
		return
	}
	switch callStatus {
	case "completed", "busy", "no-answer", "failed", "canceled":
		if h.Slots != nil {
			h.Slots.Release(outboxID)
		}
		h.observe("page_status_" + callStatus)
	}
	w.WriteHeader(http.StatusNoContent)
}
