package twilio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// maxForm bounds a webhook body; Twilio's are a few kilobytes.
const maxForm = 64 << 10

// verify parses the form and checks X-Twilio-Signature against the public
// URL (not r.Host: behind a proxy the host differs). It writes the error
// response and returns why the request must go no further, "" when it may.
func verify(w http.ResponseWriter, r *http.Request, authToken, publicURL string) string {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form: "+err.Error(), http.StatusBadRequest)
		return "malformed_form"
	}
	full := strings.TrimSuffix(publicURL, "/") + r.URL.RequestURI()
	sig := r.Header.Get("X-Twilio-Signature")
	if !ValidSignature(authToken, sig, full, r.PostForm) {
		http.Error(w, "invalid signature", http.StatusForbidden)
		if sig == "" {
			return "no_signature"
		}
		return "bad_signature"
	}
	return ""
}

// checkedURL is the URL a signature was checked against, for the log: the
// public URL and the path, the query left out (a callback's query names
// the message), so that a TEND_PUBLIC_URL that is not the one Twilio calls
// shows at a glance.
func checkedURL(publicURL string, r *http.Request) string {
	u := strings.TrimSuffix(publicURL, "/") + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?..."
	}
	return u
}

// Keys are what checking a webhook's signature needs.
type Keys struct {
	AuthToken string
	// PublicURL is the URL Twilio was given, scheme and host (Tend may sit
	// behind a proxy that changes both).
	PublicURL string
	// Log, when set, hears of rejected requests: why and the URL checked,
	// at most one line per rejectLogEvery.
	Log *slog.Logger
}

// rejectLogEvery spaces the log lines of rejected webhooks: one is enough
// to find a wrong TEND_PUBLIC_URL or auth token, and a flood of forged
// requests must not become a flood of lines.
const rejectLogEvery = 10 * time.Second

// Signed is middleware: the handler it wraps runs only for a request whose
// form parsed and whose signature is Twilio's; others get 400 or 403 and
// refused, when set, is called (for metrics). keys is read on each request,
// so a handler may be built before the URL it is served at is known.
func Signed(keys func() Keys, refused func()) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		logged := &rate.Sometimes{Interval: rejectLogEvery}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := keys()
			if why := verify(w, r, k.AuthToken, k.PublicURL); why != "" {
				if refused != nil {
					refused()
				}
				if k.Log != nil {
					// The URL and reason only: no body, no number.
					logged.Do(func() {
						k.Log.Warn("webhook rejected: its Twilio signature does not match this URL and auth token (check TEND_PUBLIC_URL against the URL set at Twilio, and TWILIO_AUTH_TOKEN)",
							"reason", why, "checked_url", checkedURL(k.PublicURL, r))
					})
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Deliverer records what the provider reported about a message; the
// Runner implements it and decides what the report means (the status
// order, an opt-out, a fallback to the next channel).
type Deliverer interface {
	Delivered(ctx context.Context, patientID, messageID string, rc runner.Receipt) (next string, err error)
	// OutboxPatient finds the patient of outbox entry id, which is all the
	// callback URL names (store.Outbox.OutboxPatient).
	OutboxPatient(ctx context.Context, id string) (string, error)
}

// Fallback is the table of reports after which a message goes on the
// patient's next channel: the channels differ only here.
type Fallback struct {
	// Codes: error codes that mean the address cannot take the channel
	// (SMS: 30005 unknown handset, 30006 landline).
	Codes []int
	// Statuses: statuses that mean Twilio gave up, whatever the code
	// (WhatsApp: failed, undelivered, 63016 outside the window among them).
	Statuses []string
}

func (f Fallback) match(status string, code int) bool {
	return slices.Contains(f.Codes, code) || slices.Contains(f.Statuses, status)
}

// StatusHandler serves the status callback of the Messages API, which
// Create asks for with the outbox entry alone in the query (o): the
// patient is found from it (Deliverer.OutboxPatient), so that no patient
// id goes to Twilio. It is the same for every messaging channel but for
// Fallback. A store error is a 503 so that Twilio calls again: nothing is
// lost, and the Runner ignores a report that does not advance the message.
// A report on an entry the store does not know (a reply to an unknown
// number, or older than the store keeps entries' patients) is a 204 with
// nothing recorded: an error would only make Twilio call again.
type StatusHandler struct {
	Channel  string
	Fallback Fallback
	Turns    Deliverer
	Log      *slog.Logger
	// Observe, when set, counts reports (for metrics): the status and the
	// provider's error code (0 for none).
	Observe func(status string, code int)
}

func (h *StatusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := r.PostForm.Get("MessageStatus")
	outboxID := r.URL.Query().Get("o")
	if status == "" || outboxID == "" {
		http.Error(w, "MessageStatus and the o query parameter are required", http.StatusBadRequest)
		return
	}
	code, _ := strconv.Atoi(r.PostForm.Get("ErrorCode"))
	if h.Observe != nil {
		h.Observe(status, code)
	}
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	patientID, err := StatusPatient(r.Context(), h.Turns, r.URL.Query())
	if err != nil {
		log.Error("finding a status report's patient", "channel", h.Channel, "message", outboxID, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if patientID == "" {
		log.Debug("status report on an unknown message; ignored", "channel", h.Channel, "message", outboxID, "status", status)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rc := runner.Receipt{Channel: h.Channel, Status: status, Code: code,
		OptOut: code == CodeOptedOut, Undeliverable: h.Fallback.match(status, code)}
	next, err := h.Turns.Delivered(r.Context(), patientID, outboxID, rc)
	if err != nil {
		log.Error("recording delivery status", "channel", h.Channel, "message", outboxID, "code", code, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if next != "" {
		log.Info("message undeliverable; falling back", "channel", h.Channel, "message", outboxID, "code", code, "next", next)
	}
	w.WriteHeader(http.StatusNoContent)
}

// StatusPatient returns the patient of the outbox entry a callback URL
// names in o ("" when the store knows none). URLs built before callback
// URLs lost the patient id (Tend before issue 13) still carry it in p: it
// is used when the store does not know the entry, so that reports on
// messages sent just before an upgrade are not lost. The store's answer
// comes first, since p is whatever the URL says. The p fallback can go a
// week (the store's retention) after every server runs this code.
func StatusPatient(ctx context.Context, owners interface {
	OutboxPatient(ctx context.Context, id string) (string, error)
}, q url.Values) (string, error) {
	pid, err := owners.OutboxPatient(ctx, q.Get("o"))
	switch {
	case err == nil:
		return pid, nil
	case errors.Is(err, store.ErrNotFound):
		return q.Get("p"), nil
	case q.Get("p") != "":
		return q.Get("p"), nil
	}
	return "", err
}
