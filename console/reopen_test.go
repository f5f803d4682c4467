package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// A ticket the patient reopened by writing again soon after its resolve
// is in the inbox as waiting, marked reopened, and can be claimed.
func TestReopenedInInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Runner.ReopenWithin = 24 * time.Hour
	ctx := t.Context()
	list, err := e.Runner.Escalations(ctx, store.TicketOpen)
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, tk := range list {
		if tk.Team == "north" {
			id = tk.ID
		}
	}
	if err := e.Runner.Resolve(ctx, id, "north@clinic.org", ""); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(time.Hour)
	if _, err := e.Runner.Receive(ctx, "p-north", runner.Message{Channel: conversations.SMS, Text: "one more question", Dedupe: "again"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if status, _ := b.login("north@clinic.org", password); status != http.StatusOK {
		t.Fatalf("sign-in: %d", status)
	}
	_, inbox := b.get("/console/")
	if !strings.Contains(inbox, "/console/tickets/"+id) || !strings.Contains(inbox, "waiting (reopened)") || !strings.Contains(inbox, "1 waiting") {
		t.Fatalf("inbox does not show the reopened ticket as waiting:\n%s", inbox)
	}
	if status, _ := b.post("/console/tickets/"+id+"/claim", nil); status != http.StatusOK {
		t.Fatalf("claim of the reopened ticket: %d", status)
	}
	if tk, _ := e.Runner.Ticket(ctx, id); tk.Status != store.TicketClaimed || tk.Owner != "north@clinic.org" {
		t.Fatalf("after the claim: %+v", tk)
	}
}
