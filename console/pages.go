package console

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
)

type inboxRow struct {
	ID, Priority, Reason, Patient, Team, Owner, DueIn, Status string
	Overdue                                                   bool
	// Acked: an on-call person acknowledged a page about it (pressed 1)
	// and is on the way; it still waits for a claim.
	Acked bool
}

// filter is the inbox's choice of tickets (the query string).
type filter struct {
	Priority, Team, Reason, Owner string
}

func filterOf(q url.Values) filter {
	return filter{Priority: q.Get("priority"), Team: q.Get("team"), Reason: q.Get("reason"), Owner: q.Get("owner")}
}

func (f filter) keeps(t *store.Escalation, team, me string) bool {
	switch {
	case f.Priority != "" && t.Priority != f.Priority, f.Team != "" && team != f.Team, f.Reason != "" && t.Reason != f.Reason:
		return false
	case f.Owner == "me":
		return t.Owner == me
	case f.Owner == "none":
		return t.Owner == ""
	}
	return true
}

// query is the filter as a query string, for the live refresh.
func (f filter) query() string {
	q := url.Values{}
	for k, v := range map[string]string{"priority": f.Priority, "team": f.Team, "reason": f.Reason, "owner": f.Owner} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

// inboxShown caps the rows of one inbox page: a team works the top of its
// list, and a page of thousands of rows helps nobody (filters narrow it).
const inboxShown = 200

type inboxData struct {
	page
	Tickets []inboxRow
	More    int
	Counts  struct{ Open, Claimed, Mine int }
	Filter  filter
	Query   string
	Teams   []string
	Reasons []string
	Levels  []string
}

// inbox lists the open and claimed tickets of the staff member's teams,
// soonest deadline first, filtered by the query. The page refreshes its
// list (a request from htmx gets the list alone) when the live stream says
// a ticket of the member's teams changed.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	f := filterOf(r.URL.Query())
	d := inboxData{page: page{Title: "Inbox", Staff: a, Flash: r.URL.Query().Get("flash")}, Filter: f, Query: f.query(),
		Levels: []string{escalation.Acute, escalation.High, escalation.Medium, escalation.Low}}
	if c.Live != nil {
		d.Live = "/console/events"
	}
	teams, reasons := map[string]bool{}, map[string]bool{}
	var kept []*store.Escalation
	err := c.eachTicket(r.Context(), func(t *store.Escalation) {
		team := cmp.Or(t.Team, staff.DefaultTeam)
		if !a.Sees(team) {
			return
		}
		teams[team], reasons[t.Reason] = true, true
		if t.Owner == "" {
			d.Counts.Open++
		} else {
			d.Counts.Claimed++
		}
		if t.Owner == a.Email {
			d.Counts.Mine++
		}
		if f.keeps(t, team, a.Email) {
			kept = append(kept, t)
		}
	})
	if err != nil {
		c.fail(w, "tickets not read", err)
		return
	}
	slices.SortFunc(kept, func(x, y *store.Escalation) int { return cmp.Or(x.Due.Compare(y.Due), cmp.Compare(x.ID, y.ID)) })
	if len(kept) > inboxShown {
		d.More, kept = len(kept)-inboxShown, kept[:inboxShown]
	}
	for _, t := range kept {
		d.Tickets = append(d.Tickets, inboxRow{ID: t.ID, Priority: t.Priority, Reason: t.Reason, Patient: t.PatientID,
			Team: cmp.Or(t.Team, staff.DefaultTeam), Owner: t.Owner, Status: t.Status, DueIn: dueIn(t.Due, now), Overdue: now.After(t.Due), Acked: t.AckedBy != ""})
	}
	d.Teams, d.Reasons = slices.Sorted(maps.Keys(teams)), slices.Sorted(maps.Keys(reasons))
	if c.audited(r, a.Email+"|inbox", now) {
		if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: audit.ListTickets, From: audit.From(r)}); err != nil {
			c.fail(w, "audit record not written", err)
			return
		}
	}
	if r.Header.Get("HX-Request") != "" {
		c.renderPart(w, "inbox", "list", d)
		return
	}
	c.render(w, http.StatusOK, "inbox", d)
}

// dueIn says how long until (or since) a deadline, as a countdown.
func dueIn(due, now time.Time) string {
	d := due.Sub(now).Round(time.Minute)
	if d < 0 {
		return fmt.Sprintf("overdue %s", shortDuration(-d))
	}
	return "in " + shortDuration(d)
}

func shortDuration(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h >= 48:
		return fmt.Sprintf("%dd", h/24)
	case h > 0:
		return fmt.Sprintf("%dh %02dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

type eventRow struct {
	At, Class, What, Text string
}

type ticketData struct {
	page
	Ticket    store.Escalation
	Patient   store.Patient
	Channels  []string
	LocalTime string
	DueIn     string
	Mine      bool
	Events    []eventRow
	Flows     []string
	RequestID string
	Compose   runner.Composer
	Reason    string // why a written reply cannot go now, in words
}

// ticketFor reads the ticket of the URL and checks the staff member may
// see it: another team's is a 404, and the attempt is audited.
func (c *Console) ticketFor(w http.ResponseWriter, r *http.Request) (store.Escalation, bool) {
	a := current(r)
	t, err := c.Backend.Ticket(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return t, false
	}
	if err != nil {
		c.fail(w, "ticket not read", err)
		return t, false
	}
	if !a.Sees(t.Team) {
		c.Backend.Audit(r.Context(), audit.Record{At: c.Clock(), Staff: a.Email, Action: audit.ViewPatient, Patient: t.PatientID, Ticket: t.ID,
			From: audit.From(r), Detail: "refused: another team"})
		http.NotFound(w, r)
		return t, false
	}
	return t, true
}

// ticketPage shows a ticket's conversation and what can be done with it.
func (c *Console) ticketPage(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	t, ok := c.ticketFor(w, r)
	if !ok {
		return
	}
	if c.audited(r, a.Email+"|"+t.ID, now) {
		if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: audit.ViewTimeline, Patient: t.PatientID, Ticket: t.ID, From: audit.From(r)}); err != nil {
			c.fail(w, "audit record not written", err)
			return
		}
	}
	d := ticketData{page: page{Title: t.Priority + " ticket", Staff: a, Flash: r.URL.Query().Get("flash")}, Ticket: t,
		DueIn: dueIn(t.Due, now), Mine: t.Owner == a.Email && t.Status == store.TicketClaimed, Flows: c.Flows, RequestID: randomID()}
	if d.Ticket.Status == "closed" {
		d.Ticket.Status = store.TicketResolved
	}
	p, err := c.Backend.Patient(r.Context(), t.PatientID)
	switch {
	case err == nil:
		d.Patient = p
		d.Channels = conversations.Chain(p.Channel, p.Channels)
		if loc, err := time.LoadLocation(p.Timezone); err == nil {
			d.LocalTime = now.In(loc).Format("Mon 15:04")
		}
	case !errors.Is(err, store.ErrNotFound):
		c.fail(w, "patient not read", err)
		return
	default:
		d.Patient.ID = t.PatientID + " (unenrolled)"
	}
	events, err := c.Backend.Timeline(r.Context(), t.PatientID)
	if err != nil {
		c.fail(w, "timeline not read", err)
		return
	}
	for _, ev := range events {
		d.Events = append(d.Events, eventOf(ev, p.Timezone))
	}
	slices.Reverse(d.Events) // newest first
	if d.Mine {
		if d.Compose, err = c.Backend.Composer(r.Context(), t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			c.fail(w, "composer not read", err)
			return
		}
		d.Reason = reasonText(d.Compose.Why)
	}
	if c.Live != nil {
		d.Live = "/console/events"
	}
	if part := r.URL.Query().Get("part"); r.Header.Get("HX-Request") != "" && (part == "facts" || part == "timeline") {
		c.renderPart(w, "ticket", part, d)
		return
	}
	c.render(w, http.StatusOK, "ticket", d)
}

// eventOf is one timeline line: what happened, in words a nurse reads at a
// glance.
func eventOf(ev store.Event, tz string) eventRow {
	at := ev.At
	if loc, err := time.LoadLocation(tz); err == nil {
		at = at.In(loc)
	}
	row := eventRow{At: at.Format("Jan 2 15:04"), Class: ev.Type}
	switch ev.Type {
	case "message.in":
		row.Class, row.What, row.Text = "in", "patient ("+ev.Channel+")", ev.Text
	case "message.out":
		who := "Tend"
		if ev.Staff != "" {
			who = ev.Staff
		}
		row.Class, row.What, row.Text = "out", fmt.Sprintf("%s (%s, %s)", who, ev.Channel, ev.Status), ev.Text
	case "note":
		row.What, row.Text = "note by "+ev.Staff, ev.Text
	case "ticket":
		row.What = fmt.Sprintf("ticket %s by %s", ev.Status, ev.Staff)
		if ev.Staff == "" {
			row.What = "ticket " + ev.Status // reopened: the patient wrote again
		}
	case "escalation":
		row.What = fmt.Sprintf("escalation: %s (%s)", ev.Reason, ev.Priority)
	case "adherence":
		row.What = fmt.Sprintf("dose %s: %s", ev.Medication, strings.ReplaceAll(ev.Status, "_", " "))
	case "dispense":
		row.What = fmt.Sprintf("dispensed %s on %s, %d days' supply", ev.Medication, ev.Date, ev.Days)
	case "capped":
		row.What = cappedText(ev)
	case "quiz":
		ok := "wrong"
		if ev.Correct != nil && *ev.Correct {
			ok = "right"
		}
		row.What = fmt.Sprintf("quiz %s %s: %s", ev.Quiz, ev.Question, ok)
	case "lesson":
		row.What = lessonText(ev)
	default:
		row.What = strings.TrimSpace(ev.Type + " " + ev.Channel + " " + ev.Status)
	}
	return row
}

// cappedText says what became of a start over the patient's caps: a
// nurse sees why a reminder did not go, and that nothing was lost.
func cappedText(ev store.Event) string {
	rule := map[string]string{
		"per_day":  "the program's daily cap",
		"fcc_day":  "the FCC cap of 1 a day for its purpose",
		"fcc_week": "the FCC cap of 3 a week for its purpose",
	}[ev.Reason]
	if rule == "" {
		rule = "a cap"
	}
	switch ev.Status {
	case "deferred":
		return fmt.Sprintf("%s not started today (%s): deferred to a later day", ev.Flow, rule)
	case "dropped":
		return fmt.Sprintf("%s not started (%s): dropped, it would be stale by the next day", ev.Flow, rule)
	}
	return fmt.Sprintf("%s capped (%s)", ev.Flow, rule)
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// act runs claim, reply, note or resolve from a form and goes back to the
// ticket with what happened; a refusal (someone else has it, not yours,
// opted out) is said on the page, nothing is lost.
func (c *Console) act(w http.ResponseWriter, r *http.Request) {
	a, now := current(r), c.Clock()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	t, ok := c.ticketFor(w, r)
	if !ok {
		return
	}
	action, text := chi.URLParam(r, "action"), r.PostForm.Get("text")
	var err error
	flash, detail := "", ""
	switch action {
	case audit.Claim:
		_, err = c.Backend.Claim(r.Context(), t.ID, a.Email)
		flash = "Claimed: the automation waits until you hand the conversation back."
	case audit.Release:
		err = c.Backend.Release(r.Context(), t.ID, a.Email)
		flash = "Released: the ticket waits for someone else, and the automation has the conversation again."
	case audit.Reassign:
		flash, err = c.reassign(r, a, t)
		detail = r.PostForm.Get("to")
	case audit.Reply:
		if canned := r.PostForm.Get("canned"); canned != "" {
			detail, err = c.Backend.ReplyCanned(r.Context(), t.ID, a.Email, canned, r.PostForm.Get("request_id"))
		} else {
			detail, err = c.Backend.Reply(r.Context(), t.ID, a.Email, text, r.PostForm.Get("request_id"))
		}
		flash = "Reply queued."
	case audit.Note:
		detail, err = c.Backend.Note(r.Context(), t.ID, a.Email, text)
		flash = "Note added."
	case audit.Resolve:
		detail = r.PostForm.Get("follow_up")
		err = c.Backend.Resolve(r.Context(), t.ID, a.Email, detail)
		flash = "Resolved and handed back."
	default:
		http.NotFound(w, r)
		return
	}
	var owned *runner.OwnedError
	switch {
	case errors.As(err, &owned):
		flash = "Not claimed: " + owned.Owner + " has this conversation."
	case errors.Is(err, errNoColleague):
		flash = "Not reassigned: " + err.Error() + "."
	case errors.Is(err, runner.ErrNotOwner):
		flash = "Claim the ticket first: only its owner can do that."
	case errors.Is(err, runner.ErrResolved):
		flash = "The ticket is resolved."
	case errors.Is(err, runner.ErrUnreachable):
		why := err.Error()
		if i := strings.LastIndex(why, ": "); i >= 0 {
			why = why[i+2:]
		}
		flash = "Not sent: " + reasonText(why)
	case errors.Is(err, runner.ErrInvalidText), errors.Is(err, conversations.ErrUnknownFlow):
		flash = "Not sent: " + err.Error()
	case err != nil:
		c.fail(w, action+" failed", err)
		return
	default:
		if err := c.Backend.Audit(r.Context(), audit.Record{At: now, Staff: a.Email, Action: action, Patient: t.PatientID, Ticket: t.ID,
			From: audit.From(r), Detail: detail}); err != nil {
			c.fail(w, "audit record not written", err)
			return
		}
	}
	target := "/console/tickets/" + t.ID
	if (action == audit.Resolve || action == audit.Release || action == audit.Reassign) && err == nil {
		target = "/console/"
	}
	target += "?flash=" + url.QueryEscape(flash)
	if r.Header.Get("HX-Request") != "" { // htmx posted the form: it goes there itself
		w.Header().Set("HX-Redirect", target)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// reasonText says in words why no channel can carry a reply.
func reasonText(why string) string {
	switch why {
	case "":
		return ""
	case "opted_out":
		return "the patient opted out of messages on every channel they have (STOP); only they can opt back in (START)."
	case "unreachable":
		return "the patient's number does not receive messages (the carrier refused it): call the patient or ask the clinic for a new number."
	case "no_address", "not_linked":
		return "the patient has no address on their channels yet."
	case "window_closed":
		return "the patient last wrote on WhatsApp more than 24 hours ago, so WhatsApp takes only approved templates: send a ready reply marked \"template\", or wait for the patient to write."
	}
	return "no channel can carry it now (" + why + ")."
}

// segments says how many SMS a reply being typed will take (htmx posts the
// draft as it changes): past two, long messages cost more and reach some
// phones split.
func (c *Console) segments(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if _, ok := c.ticketFor(w, r); !ok {
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("text"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if text == "" {
		fmt.Fprint(w, `<span id="segments"></span>`)
		return
	}
	n, ucs2 := locales.Segments(text)
	note := ""
	switch {
	case n > 2 && ucs2:
		note = " — long: accents or emoji make each SMS hold 70 characters; shorten it or send two messages"
	case n > 2:
		note = " — long: shorten it or send two messages"
	}
	class := "ok"
	if n > 2 {
		class = "warn"
	}
	fmt.Fprintf(w, `<span id="segments" class="%s">%d SMS %s%s</span>`, class, n, map[bool]string{true: "segments", false: "segment"}[n != 1], template.HTMLEscapeString(note))
}

// errNoColleague: the email names nobody who may take the conversation.
var errNoColleague = errors.New("no colleague with that email works this patient's team")

// reassign hands the member's conversation to a colleague who sees the
// patient's team; an admin may take it from whoever has it.
func (c *Console) reassign(r *http.Request, a *staff.Account, t store.Escalation) (string, error) {
	to, _ := staff.NormalizeEmail(r.PostForm.Get("to"))
	b, err := c.Backend.StaffAccount(r.Context(), to)
	if err != nil || b.Disabled || !b.Sees(t.Team) {
		return "", errNoColleague
	}
	from := a.Email
	if a.Role == staff.Admin && t.Owner != "" {
		from = t.Owner
	}
	if err := c.Backend.Reassign(r.Context(), t.ID, from, b.Email); err != nil {
		return "", err
	}
	return "Reassigned to " + b.Email + ".", nil
}

// lessonText describes a teach-back event: an item with the patient's
// answer and confidence ("lesson hf-daily-weight q2: wrong, sure 5/5:
// misconception"), or a lesson's result.
func lessonText(ev store.Event) string {
	if ev.Question == "" {
		return fmt.Sprintf("lesson %s: %s", ev.Quiz, ev.Status)
	}
	ok := "wrong"
	if ev.Correct != nil && *ev.Correct {
		ok = "right"
	}
	sure := "no confidence given"
	if ev.Confidence > 0 {
		sure = fmt.Sprintf("confidence %d/5", ev.Confidence)
	}
	return fmt.Sprintf("lesson %s %s: %s, %s: %s", ev.Quiz, ev.Question, ok, sure, ev.Status)
}
