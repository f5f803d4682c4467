package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/store"
)

func openTickets(t *testing.T, st store.Store) []store.Escalation {
	t.Helper()
	var out []store.Escalation
	for _, status := range []string{store.TicketOpen, store.TicketClaimed} {
		list, err := st.Escalations(context.Background(), status)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, list...)
	}
	return out
}

func text(t *testing.T, r *Runner, id, body, dedupe string) {
	t.Helper()
	if _, err := r.Receive(context.Background(), id, Message{Channel: conversations.SMS, Text: body, Dedupe: dedupe}); err != nil {
		t.Fatal(err)
	}
}

// One open ticket per patient and reason: asking again attaches to it.
func TestOneTicketPerReason(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	text(t, r, "p1", "HUMAN", "m2")
	tickets := openTickets(t, st)
	if len(tickets) != 1 || tickets[0].Team != "default" || tickets[0].Priority != "medium" || tickets[0].Status != store.TicketOpen {
		t.Fatalf("tickets after two HUMAN %+v, want one medium ticket of team default", tickets)
	}
	text(t, r, "p1", "I have crushing chest pain right now", "m3")
	if tickets = openTickets(t, st); len(tickets) != 2 {
		t.Fatalf("an emergency is another reason: %d tickets", len(tickets))
	}
}

// Claiming, replying and resolving: one owner at a time, the automation
// held while they have the conversation and released when they hand it back.
func TestClaimReplyResolve(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, at15)
	text(t, r, "p1", "HUMAN", "m1")
	outbox(t, st, at15)
	id := openTickets(t, st)[0].ID

	// Two coaches claim at once: one wins, the other is told who.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"a@clinic.org", "b@clinic.org"} {
		wg.Go(func() { _, errs[i] = r.Claim(ctx, id, who) })
	}
	wg.Wait()
	winner, loser := "a@clinic.org", errs[1]
	if errs[0] != nil {
		winner, loser = "b@clinic.org", errs[0]
	}
	var owned *OwnedError
	if !errors.As(loser, &owned) || owned.Owner != winner {
		t.Fatalf("claims: %v and %v; want one to win and the other to name the winner", errs[0], errs[1])
	}
	other := map[string]string{"a@clinic.org": "b@clinic.org", "b@clinic.org": "a@clinic.org"}[winner]
	if tk, err := r.Claim(ctx, id, winner); err != nil || tk.Owner != winner || tk.Status != store.TicketClaimed {
		t.Fatalf("claiming again: %+v %v", tk, err)
	}

	// While owned: the patient's words are the owner's to answer, the
	// morning's reminder is held, an emergency still gets its reply.
	text(t, r, "p1", "what about my pills?", "m2")
	if got := outbox(t, st, clock.Now()); len(got) != 0 {
		t.Fatalf("the automation answered an owned conversation: %+v", got)
	}
	clock.Set(time.Date(2026, 3, 3, 14, 5, 0, 0, time.UTC)) // 08:05 in Chicago
	r.FireDue(ctx, 10)
	if got := outbox(t, st, clock.Now()); len(got) != 0 {
		t.Fatalf("a reminder went out while owned: %+v", got)
	}
	text(t, r, "p1", "I can't breathe", "m3")
	if got := outbox(t, st, clock.Now()); len(got) != 1 || got[0].MessageID != "keyword.emergency" {
		t.Fatalf("emergency while owned: %+v", got)
	}

	// Only the owner replies; a resubmitted reply is sent once.
	if _, err := r.Reply(ctx, id, other, "hello", ""); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a reply by a non-owner: %v", err)
	}
	if _, err := r.Reply(ctx, id, winner, "   ", ""); !errors.Is(err, ErrInvalidText) {
		t.Fatalf("an empty reply: %v", err)
	}
	for range 2 {
		if _, err := r.Reply(ctx, id, winner, "Hi, this is your nurse. Please call 911 now.", "form-1"); err != nil {
			t.Fatal(err)
		}
	}
	got := outbox(t, st, clock.Now())
	if len(got) != 1 || got[0].Channel != conversations.SMS || got[0].To == "" || !got[0].Reply {
		t.Fatalf("the owner's reply %+v, want one SMS marked as a reply", got)
	}
	if _, err := r.Note(ctx, id, winner, "called 911 with her"); err != nil {
		t.Fatal(err)
	}
	if err := r.Resolve(ctx, id, other, ""); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("resolve by a non-owner: %v", err)
	}
	if err := r.Resolve(ctx, id, winner, "no-such-flow"); !errors.Is(err, conversations.ErrUnknownFlow) {
		t.Fatalf("resolve with an unknown follow-up: %v", err)
	}

	// The hand-back at 08:30 releases the held reminder (still timely).
	clock.Set(time.Date(2026, 3, 3, 14, 30, 0, 0, time.UTC))
	if err := r.Resolve(ctx, id, winner, ""); err != nil {
		t.Fatal(err)
	}
	got = outbox(t, st, clock.Now())
	if len(got) != 1 || got[0].MessageID == "" || len(got[0].Labels) == 0 {
		t.Fatalf("after the hand-back %+v, want the held dose question", got)
	}
	if tk, _ := r.Ticket(ctx, id); tk.Status != store.TicketResolved || tk.ResolvedAt.IsZero() {
		t.Fatalf("resolved ticket %+v", tk)
	}
	if err := r.Resolve(ctx, id, winner, ""); err != nil {
		t.Fatalf("resolving again: %v", err)
	}
	var kinds []string
	evs, _ := st.Timeline(ctx, "p1")
	for _, ev := range evs {
		switch ev.Type {
		case "ticket", "note":
			kinds = append(kinds, ev.Type+":"+ev.Status+":"+ev.Staff)
		case "message.out":
			if ev.Staff != "" {
				kinds = append(kinds, "reply:"+ev.Staff)
			}
		}
	}
	want := []string{"ticket:claimed:" + winner, "reply:" + winner, "note::" + winner, "ticket:resolved:" + winner}
	if len(kinds) != len(want) {
		t.Fatalf("timeline %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("timeline %v, want %v", kinds, want)
		}
	}
	// Asking for a person again opens a new ticket.
	text(t, r, "p1", "HUMAN", "m4")
	if n := len(openTickets(t, st)); n != 2 { // the emergency's and the new one
		t.Fatalf("%d open tickets, want the emergency's and a new one", n)
	}
}

// A reminder held past its window is dropped at the hand-back, not sent late.
func TestStaleHeldReminderDropped(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	id := openTickets(t, st)[0].ID
	if _, err := r.Claim(ctx, id, "a@clinic.org"); err != nil {
		t.Fatal(err)
	}
	outbox(t, st, at15)
	clock.Set(time.Date(2026, 3, 3, 14, 5, 0, 0, time.UTC))
	r.FireDue(ctx, 10)
	clock.Set(time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC)) // noon in Chicago
	if err := r.Release(ctx, id, "a@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if got := outbox(t, st, clock.Now()); len(got) != 0 {
		t.Fatalf("a stale reminder went out after the hand-back: %+v", got)
	}
	if tk, _ := r.Ticket(ctx, id); tk.Status != store.TicketOpen || tk.Owner != "" {
		t.Fatalf("released ticket %+v, want open and unowned", tk)
	}
}

// No patient message disappears: words outside any question go to the
// team as one low ticket (later ones attach), and the patient is told when
// someone will read them, at most once a day.
func TestMessagesOutsideAFlowReachTheTeam(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, at15)
	for i, body := range []string{"I ran out of my pills", "hello?", "are you there"} {
		text(t, r, "p1", body, "m"+string(rune('0'+i)))
	}
	tickets := openTickets(t, st)
	if len(tickets) != 1 || tickets[0].Priority != "low" || tickets[0].Reason != conversations.ReasonPatientMessage {
		t.Fatalf("tickets %+v, want one low patient-message ticket", tickets)
	}
	got := outbox(t, st, at15)
	if len(got) != 1 || got[0].MessageID != "idle.reply" {
		t.Fatalf("replies %+v, want one acknowledgment", got)
	}
	if got[0].Text == "" || !strings.Contains(got[0].Text, "24 hours") {
		t.Fatalf("acknowledgment %q does not say when", got[0].Text)
	}
	evs, _ := st.Timeline(context.Background(), "p1")
	in, esc := 0, 0
	for _, ev := range evs {
		switch ev.Type {
		case "message.in":
			in++
		case "escalation":
			esc++
		}
	}
	if in != 3 || esc != 3 {
		t.Fatalf("timeline: %d messages in, %d escalations; want every message on it and on the ticket", in, esc)
	}
	// With another ticket open, a message attaches to it.
	r2, _, st2 := newTestRunner(t, at15)
	enrollChain(t, r2, "p1", conversations.SMS)
	text(t, r2, "p1", "HUMAN", "h")
	text(t, r2, "p1", "my ankles are swollen", "s")
	if tickets := openTickets(t, st2); len(tickets) != 1 || tickets[0].Reason != conversations.ReasonAskedHuman {
		t.Fatalf("tickets %+v, want the one the patient asked for", tickets)
	}
}

// An unclaimed ticket pages the on-call ladder: the first number by SMS,
// then a call to it, then the next number by SMS and call, until someone
// acknowledges; a release pages again.
func TestPagingLadder(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	r.Teams.Default = escalation.Team{OnCall: []string{"+15550001111", "+15550002222"}, PageEvery: 10 * time.Minute}
	r.ConsoleURL = "https://tend.example/console/"
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	outbox(t, st, at15)
	text(t, r, "p1", "HUMAN", "m1") // medium: 4 hours to answer
	outbox(t, st, at15)
	id := openTickets(t, st)[0].ID
	pages := func() []store.OutboxEntry {
		t.Helper()
		r.FireDue(ctx, 10)
		var out []store.OutboxEntry
		for _, e := range outbox(t, st, clock.Now()) {
			if e.PatientID == "" {
				out = append(out, e)
			}
		}
		return out
	}
	clock.Add(2*time.Hour + 59*time.Minute)
	if got := pages(); len(got) != 0 {
		t.Fatalf("paged before a quarter of the time was left: %+v", got)
	}
	clock.Add(time.Minute) // 1 h before the deadline
	got := pages()
	if len(got) != 1 || got[0].Channel != conversations.SMS || got[0].To != "+15550001111" || !got[0].Urgent || got[0].Ticket != id ||
		!strings.Contains(got[0].Text, "https://tend.example/console/tickets/"+id) || strings.Contains(got[0].Text, "p1") {
		t.Fatalf("first page %+v, want an SMS to the first number", got)
	}
	ladder := []struct{ channel, to string }{
		{conversations.Voice, "+15550001111"},
		{conversations.SMS, "+15550002222"},
		{conversations.Voice, "+15550002222"},
		{conversations.SMS, "+15550001111"},
	}
	for i, want := range ladder {
		if got := pages(); len(got) != 0 {
			t.Fatalf("step %d: paged again before the next step is due: %+v", i+2, got)
		}
		clock.Add(10 * time.Minute)
		got := pages()
		if len(got) != 1 || got[0].Channel != want.channel || got[0].To != want.to || !got[0].Urgent || got[0].Ticket != id {
			t.Fatalf("step %d: %+v, want %s to %s", i+2, got, want.channel, want.to)
		}
		if want.channel == conversations.Voice && (got[0].Text != PageCallText("medium") || strings.Contains(got[0].Text, "p1")) {
			t.Fatalf("page call says %q", got[0].Text)
		}
	}

	// Pressing 1 on a call acknowledges: no more pages; a retry of the
	// same key press is the same acknowledgement, another call's is late.
	for _, c := range []struct {
		who, dedupe string
		want        PageAck
	}{{"+15550002222", "CA1:ack", Acknowledged}, {"+15550002222", "CA1:ack", Acknowledged}, {"+15550001111", "CA2:ack", AlreadyAcknowledged}} {
		if ack, err := r.AcknowledgePage(ctx, id, c.who, c.dedupe); err != nil || ack != c.want {
			t.Fatalf("acknowledgement by %s (%s): %v %v, want %v", c.who, c.dedupe, ack, err, c.want)
		}
	}
	clock.Add(time.Hour)
	if got := pages(); len(got) != 0 {
		t.Fatalf("paged after the acknowledgement: %+v", got)
	}
	tk, _ := r.Ticket(ctx, id)
	if !tk.Waiting() || tk.AckedBy != "+15550002222" || tk.AckedAt.IsZero() {
		t.Fatalf("acknowledged ticket %+v, want it waiting for a claim, acknowledged by the second number", tk)
	}
	var kinds []string
	evs, _ := st.Timeline(ctx, "p1")
	for _, ev := range evs {
		if ev.Type == "page" && ev.Ticket == id {
			kinds = append(kinds, ev.Channel+":"+ev.Status+":"+ev.Staff)
		}
	}
	want := []string{"sms:sent:+15550001111", "voice:sent:+15550001111", "sms:sent:+15550002222", "voice:sent:+15550002222",
		"sms:sent:+15550001111", "voice:acknowledged:+15550002222"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("page events %v, want %v", kinds, want)
	}

	// A claim, then a release: the ticket pages afresh, from the next step.
	if _, err := r.Claim(ctx, id, "nurse@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if ack, err := r.AcknowledgePage(ctx, id, "+15550001111", "CA3:ack"); err != nil || ack != NotWaiting {
		t.Fatalf("acknowledging a claimed ticket: %v %v", ack, err)
	}
	if err := r.Release(ctx, id, "nurse@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if got := pages(); len(got) != 1 || got[0].Channel != conversations.Voice || got[0].To != "+15550001111" {
		t.Fatalf("after the release %+v, want the ladder's next step (a call to the first number)", got)
	}
	if err := r.Resolve(ctx, id, "nurse@clinic.org", ""); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	if got := pages(); len(got) != 0 {
		t.Fatalf("paged after the resolve: %+v", got)
	}
}

// flakyStore fails the next commit that records a page event, as a
// replica dying between queuing a page and recording it would.
type flakyStore struct {
	store.Store
	fail atomic.Bool
}

func (f *flakyStore) Commit(ctx context.Context, c store.Commit) error {
	if slices.ContainsFunc(c.Events, func(ev store.Event) bool { return ev.Type == "page" }) && f.fail.CompareAndSwap(true, false) {
		return errors.New("flaky: lost the connection")
	}
	return f.Store.Commit(ctx, c)
}

// A page whose fire fails after the page was queued, and runs again,
// pages once: SMS and call steps alike.
func TestPageOnceUnderRetriedFires(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	flaky := &flakyStore{Store: st}
	r.Store = flaky
	r.Teams.Default = escalation.Team{OnCall: []string{"+15550001111"}, PageEvery: 10 * time.Minute}
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	outbox(t, st, clock.Now())
	clock.Add(3 * time.Hour)
	var got []string
	for step := range 2 {
		flaky.fail.Store(true)
		r.FireDue(ctx, 4) // queues the page, fails to record it
		r.FireDue(ctx, 4) // the timer is still due: runs again
		for _, e := range outbox(t, st, clock.Now()) {
			if e.PatientID == "" {
				got = append(got, e.Channel)
			}
		}
		if n := len(got); n != step+1 {
			t.Fatalf("step %d: pages %v, want one per step", step, got)
		}
		clock.Add(10 * time.Minute)
	}
	if !slices.Equal(got, []string{conversations.SMS, conversations.Voice}) {
		t.Fatalf("pages %v, want one SMS and one call", got)
	}
	evs, _ := st.Timeline(ctx, "p1")
	n := 0
	for _, ev := range evs {
		if ev.Type == "page" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d page events, want 2", n)
	}
}

// Without a voice channel a call step pages by SMS, and the log says so
// without the number or the patient's words.
func TestPagingWithoutVoice(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	var logs bytes.Buffer
	r.Log = slog.New(slog.NewTextHandler(&logs, nil))
	r.Channels = channels.Specs{testChannels.Of(conversations.SMS)}
	r.Teams.Default = escalation.Team{OnCall: []string{"+15550001111"}, PageEvery: 10 * time.Minute}
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "I can't breathe", "m1") // acute: 15 minutes
	outbox(t, st, clock.Now())
	var sent []string
	clock.Set(at15.Add(15 * time.Minute * 3 / 4)) // a quarter of the 15 minutes left
	for range 2 {
		r.FireDue(ctx, 10)
		for _, e := range outbox(t, st, clock.Now()) {
			if e.PatientID == "" {
				sent = append(sent, e.Channel+":"+e.To)
			}
		}
		clock.Add(10 * time.Minute)
	}
	if !slices.Equal(sent, []string{"sms:+15550001111", "sms:+15550001111"}) {
		t.Fatalf("pages %v, want the call step by SMS", sent)
	}
	if !strings.Contains(logs.String(), "page call not placed") || strings.Contains(logs.String(), "5550001111") || strings.Contains(logs.String(), "breathe") {
		t.Fatalf("log %q: want the fallback said, without the number or the message", logs.String())
	}
}

// A patient who writes again soon after their ticket was resolved reopens
// it (waiting again, with a new deadline, paged again); later, or with
// reopening off, a new ticket opens.
func TestReopen(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	r.ReopenWithin = 24 * time.Hour
	r.Teams.Default = escalation.Team{OnCall: []string{"+15550001111"}}
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	id := openTickets(t, st)[0].ID
	if _, err := r.Claim(ctx, id, "a@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if err := r.Resolve(ctx, id, "a@clinic.org", ""); err != nil {
		t.Fatal(err)
	}

	clock.Add(2 * time.Hour)
	text(t, r, "p1", "one more thing about my pills", "m2")
	tk, err := r.Ticket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != store.TicketReopened || tk.Owner != "" || !tk.ResolvedAt.IsZero() || tk.Priority != "low" || !tk.Due.Equal(clock.Now().Add(24*time.Hour)) {
		t.Fatalf("after a message 2 hours after the resolve: %+v, want it reopened, nobody's, low, due in 24 hours", tk)
	}
	if list, _ := r.Escalations(ctx, store.TicketOpen); len(list) != 1 || list[0].ID != id {
		t.Fatalf("waiting tickets %+v, want the reopened one", list)
	}
	timers, _ := st.Timers(ctx, "p1")
	if !slices.ContainsFunc(timers, func(tm store.Timer) bool {
		return tm.Name == pageTimer(id) && tm.Due.Equal(tk.Due.Add(-6*time.Hour))
	}) {
		t.Fatalf("timers %+v, want the reopened ticket paged again", timers)
	}
	evs, _ := st.Timeline(ctx, "p1")
	if !slices.ContainsFunc(evs, func(ev store.Event) bool {
		return ev.Type == "ticket" && ev.Ticket == id && ev.Status == store.TicketReopened
	}) {
		t.Fatalf("no ticket reopened event on the timeline")
	}
	// It is among the open tickets again: the next message attaches.
	text(t, r, "p1", "hello?", "m3")
	if tickets := openTickets(t, st); len(tickets) != 0 {
		t.Fatalf("open or claimed tickets %+v, want none beside the reopened one", tickets)
	}
	// It is claimed and resolved like an open one.
	if tk, err := r.Claim(ctx, id, "b@clinic.org"); err != nil || tk.Status != store.TicketClaimed {
		t.Fatalf("claiming the reopened ticket: %+v %v", tk, err)
	}
	if err := r.Resolve(ctx, id, "b@clinic.org", ""); err != nil {
		t.Fatal(err)
	}

	// More than a day after the resolve: a new ticket.
	clock.Add(24*time.Hour + time.Minute)
	text(t, r, "p1", "I am back", "m4")
	tickets := openTickets(t, st)
	if len(tickets) != 1 || tickets[0].ID == id || tickets[0].Reason != conversations.ReasonPatientMessage {
		t.Fatalf("tickets %+v, want a new patient-message ticket", tickets)
	}
	if tk, _ := r.Ticket(ctx, id); tk.Status != store.TicketResolved {
		t.Fatalf("the old ticket %+v, want it left resolved", tk)
	}

	// Reopening off: a message right after the resolve opens a new ticket.
	r2, _, st2 := newTestRunner(t, at15)
	enrollChain(t, r2, "p1", conversations.SMS)
	text(t, r2, "p1", "HUMAN", "m1")
	id2 := openTickets(t, st2)[0].ID
	if err := r2.Resolve(ctx, id2, "a@clinic.org", ""); err != nil {
		t.Fatal(err)
	}
	text(t, r2, "p1", "thanks", "m2")
	if tickets := openTickets(t, st2); len(tickets) != 1 || tickets[0].ID == id2 {
		t.Fatalf("tickets %+v with reopening off, want a new one", tickets)
	}
}

// Each team has its own response times, quoted to its patients, and its own
// ladder: a ticket pages the numbers of the patient's team, at its pace.
func TestTeamDeadlinesAndLadders(t *testing.T) {
	t.Parallel()
	r, clock, st := newTestRunner(t, at15)
	r.Teams = escalation.Teams{
		Default: escalation.Team{OnCall: []string{"+15550009999"}},
		Named: map[string]escalation.Team{"north": {Deadlines: escalation.Deadlines{Medium: 2 * time.Hour, Low: 8 * time.Hour},
			OnCall: []string{"+15550001111", "+15550002222"}, PageEvery: 5 * time.Minute}},
	}
	ctx := context.Background()
	for _, p := range []store.Patient{{ID: "p1", Phone: "+13125550101", Team: "north"}, {ID: "p2", Phone: "+13125550102"}} {
		p.Language, p.Timezone, p.Channel, p.Programs = "en", "America/Chicago", conversations.SMS, []string{"hypertension"}
		if _, err := r.Enroll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	outbox(t, st, at15)
	said := func(id, body, message string) string {
		t.Helper()
		text(t, r, id, body, id+body)
		for _, e := range outbox(t, st, clock.Now()) {
			if e.MessageID == message {
				return e.Text
			}
		}
		t.Fatalf("%s: no %s", id, message)
		return ""
	}
	if got := said("p1", "my ankles are swollen", "idle.reply"); !strings.Contains(got, "within 8 hours") {
		t.Errorf("north's acknowledgement %q, want its low deadline (8 hours)", got)
	}
	if got := said("p2", "my ankles are swollen", "idle.reply"); !strings.Contains(got, "within 24 hours") {
		t.Errorf("the default team's acknowledgement %q, want 24 hours", got)
	}
	if got := said("p1", "HUMAN", "keyword.human.ack"); !strings.Contains(got, "within 2 hours") {
		t.Errorf("north's answer to HUMAN %q, want its medium deadline (2 hours)", got)
	}
	due := map[string]time.Duration{}
	var human string
	for _, tk := range openTickets(t, st) {
		due[tk.PatientID+" "+tk.Priority] = tk.Due.Sub(at15)
		if tk.Reason == conversations.ReasonAskedHuman {
			human = tk.ID
		}
	}
	if due["p1 low"] != 8*time.Hour || due["p2 low"] != 24*time.Hour || due["p1 medium"] != 2*time.Hour {
		t.Fatalf("deadlines %v, want north's (8h low, 2h medium) and the default (24h low)", due)
	}

	pages := func() []string {
		t.Helper()
		r.FireDue(ctx, 10)
		var to []string
		for _, e := range outbox(t, st, clock.Now()) {
			if e.PatientID == "" {
				to = append(to, e.To)
			}
		}
		return to
	}
	clock.Add(90 * time.Minute) // half an hour before north's 2 hours
	if got := pages(); !slices.Equal(got, []string{"+15550001111"}) {
		t.Fatalf("pages %v, want north's first number", got)
	}
	clock.Add(5 * time.Minute) // a call to the first number
	if got := pages(); !slices.Equal(got, []string{"+15550001111"}) {
		t.Fatalf("pages %v five minutes later, want north's first number called", got)
	}
	clock.Add(5 * time.Minute)
	if got := pages(); !slices.Equal(got, []string{"+15550002222"}) {
		t.Fatalf("pages %v ten minutes later, want north's second number", got)
	}
	if _, err := r.Claim(ctx, human, "nurse@clinic.org"); err != nil {
		t.Fatal(err)
	}
	clock.Set(at15.Add(18 * time.Hour)) // a quarter of p2's day left; p1's low ticket pages north too
	got := pages()
	slices.Sort(got)
	if !slices.Equal(got, []string{"+15550001111", "+15550009999"}) {
		t.Fatalf("pages %v, want the default team's number for p2 and north's for p1", got)
	}
}
