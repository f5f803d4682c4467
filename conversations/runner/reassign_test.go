package runner

import (
	"context"
	"errors"
	"testing"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/store"
)

// A reassignment moves the conversation to a colleague without handing it
// back: the automation stays quiet, only the new owner replies.
func TestReassign(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	id := openTickets(t, st)[0].ID
	if _, err := r.Claim(ctx, id, "a@clinic.org"); err != nil {
		t.Fatal(err)
	}
	if err := r.Reassign(ctx, id, "b@clinic.org", "c@clinic.org"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("reassigning someone else's conversation: %v", err)
	}
	if err := r.Reassign(ctx, id, "a@clinic.org", "b@clinic.org"); err != nil {
		t.Fatal(err)
	}
	tk, _ := r.Ticket(ctx, id)
	if tk.Owner != "b@clinic.org" || tk.Status != store.TicketClaimed {
		t.Fatalf("ticket after the reassignment %+v", tk)
	}
	if _, err := r.Reply(ctx, id, "a@clinic.org", "hi", ""); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("the old owner replied: %v", err)
	}
	if _, err := r.Reply(ctx, id, "b@clinic.org", "Hi, I am the nurse.", ""); err != nil {
		t.Fatal(err)
	}
	_, ss, _ := st.Load(ctx, "p1")
	var s conversations.Session
	s.Decode(ss.Data)
	if s.Owner != "b@clinic.org" {
		t.Fatalf("session owner %q", s.Owner)
	}
	evs, _ := st.Timeline(ctx, "p1")
	var last store.Event
	for _, ev := range evs {
		if ev.Type == "ticket" {
			last = ev
		}
	}
	if last.Status != "reassigned" || last.Staff != "b@clinic.org" {
		t.Fatalf("last ticket event %+v", last)
	}
}

// The console hears of every change to a ticket's conversation: the
// claim, a reply, and the reply's delivery status, which comes outside a
// turn.
func TestChangedHook(t *testing.T) {
	t.Parallel()
	r, _, st := newTestRunner(t, at15)
	ctx := context.Background()
	enrollChain(t, r, "p1", conversations.SMS)
	text(t, r, "p1", "HUMAN", "m1")
	id := openTickets(t, st)[0].ID
	var heard []string
	r.Changed = func(ticket, team string) { heard = append(heard, ticket+"@"+team) }
	if _, err := r.Claim(ctx, id, "a@clinic.org"); err != nil {
		t.Fatal(err)
	}
	msg, err := r.Reply(ctx, id, "a@clinic.org", "Hi, I am the nurse.", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delivered(ctx, "p1", msg, Receipt{Channel: conversations.SMS, Status: "delivered"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delivered(ctx, "p1", msg, Receipt{Channel: conversations.SMS, Status: "sent"}); err != nil { // late, no change
		t.Fatal(err)
	}
	want := id + "@default"
	if len(heard) != 3 || heard[0] != want || heard[1] != want || heard[2] != want {
		t.Fatalf("heard %v, want %s three times (claim, reply, delivered)", heard, want)
	}
}
