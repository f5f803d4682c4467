package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tendcare/tend/console/browsertest"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// In a real browser: two coaches of one team race to claim the ticket;
// the winner reads the timeline, replies and hands back.
func TestBrowserClaimReplyHandBack(t *testing.T) {
	exe := browsertest.Chromium(t)
	e := newEnv(t)
	a, b := browsertest.New(t, exe), browsertest.New(t, exe)
	browsertest.SignIn(t, a, e.srv.URL, "north@clinic.org", password)
	browsertest.SignIn(t, b, e.srv.URL, "north2@clinic.org", password)
	if inbox := browsertest.Text(t, a, `table.tickets`); !strings.Contains(inbox, "p-north") || strings.Contains(inbox, "p-south") {
		t.Fatalf("inbox %q", inbox)
	}
	for _, ctx := range []context.Context{a, b} {
		browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`table.tickets a`)), chromedp.WaitVisible(`//button[text()="Claim"]`))
	}
	for _, ctx := range []context.Context{a, b} {
		browsertest.Do(t, ctx, chromedp.Click(`//button[text()="Claim"]`), chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	}
	if fa, fb := browsertest.Text(t, a, `p.flash`), browsertest.Text(t, b, `p.flash`); !strings.Contains(fa, "Claimed") || !strings.Contains(fb, "north@clinic.org has this conversation") {
		t.Fatalf("claims: %q / %q", fa, fb)
	}
	browsertest.Do(t, a,
		chromedp.SendKeys(chromedp.CSS(`textarea[name=text]`), "Hi, this is your coach. How are you today?"),
		chromedp.Click(`//button[text()="Send"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Reply queued")]`))
	if tl := browsertest.Text(t, a, `ol.timeline`); !strings.Contains(tl, "How are you today?") || !strings.Contains(tl, "HUMAN") {
		t.Fatalf("timeline after the reply: %q", tl)
	}
	browsertest.Screenshot(t, a, "console-conversation.png")
	browsertest.Do(t, b, chromedp.Navigate(e.srv.URL+"/console/"), chromedp.WaitVisible(`//h1[text()="Inbox"]`))
	if counts := browsertest.Text(t, b, `p.counts`); counts != "0 waiting · 1 claimed · 0 mine" {
		t.Fatalf("counts %q", counts)
	}
	browsertest.Screenshot(t, b, "console-inbox.png")
	browsertest.Do(t, a,
		chromedp.SetValue(chromedp.CSS(`select[name=follow_up]`), "hf-daily-weight"),
		chromedp.Click(`//button[text()="Resolve and hand back"]`),
		chromedp.WaitVisible(`//h1[text()="Inbox"]`))
	tickets, err := e.Store.Escalations(t.Context(), store.TicketResolved)
	if err != nil || len(tickets) != 1 || tickets[0].PatientID != "p-north" {
		t.Fatalf("resolved tickets %+v %v", tickets, err)
	}
	if s := e.session(t, "p-north"); s.Owner != "" || s.Flow != "hf-daily-weight" {
		t.Fatalf("after the hand-back: owner %q flow %q", s.Owner, s.Flow)
	}
}

// In a real browser, live: a new ticket appears in the inbox without a
// reload; the keyboard selects and claims it; the patient's next message
// appears in the open conversation; after 15 idle minutes the page signs
// out by itself, and signing in again brings back the page and the reply
// being typed.
func TestBrowserLiveAndKeys(t *testing.T) {
	exe := browsertest.Chromium(t)
	e := newEnv(t)
	ctx := browsertest.New(t, exe)
	browsertest.SignIn(t, ctx, e.srv.URL, "north@clinic.org", password)
	browsertest.Do(t, ctx, chromedp.WaitVisible(`//body[@data-live="on"]`)) // the stream is open

	p := store.Patient{ID: "p-late", Phone: "+15551230009", Language: "en", Timezone: "America/Chicago", Channel: conversations.SMS,
		Team: "north", Programs: []string{"hypertension"}}
	if _, err := e.Runner.Enroll(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Runner.Receive(t.Context(), p.ID, runner.Message{Channel: conversations.SMS, Text: "NURSE", Dedupe: "late-1"}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, chromedp.WaitVisible(`//td[text()="p-late"]`)) // no reload

	// j, j selects the second row (the later deadline), c claims it.
	browsertest.Do(t, ctx, chromedp.KeyEvent("j"), chromedp.KeyEvent("j"),
		chromedp.WaitVisible(`//tr[contains(@class,"selected")]/td[text()="p-late"]`),
		chromedp.KeyEvent("c"),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Claimed")]`))
	if s := e.session(t, "p-late"); s.Owner != "north@clinic.org" {
		t.Fatalf("owner after the keyboard claim: %q", s.Owner)
	}
	browsertest.Do(t, ctx, chromedp.WaitVisible(`//body[@data-live="on"]`))
	if _, err := e.Runner.Receive(t.Context(), p.ID, runner.Message{Channel: conversations.SMS, Text: "my feet are swollen", Dedupe: "late-2"}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, chromedp.WaitVisible(`//ol[@id="timeline"]//span[contains(., "my feet are swollen")]`))

	// r focuses the reply; the draft survives the idle logoff.
	browsertest.Do(t, ctx, chromedp.KeyEvent("r"), chromedp.WaitVisible(chromedp.CSS(`textarea:focus`)), chromedp.KeyEvent("Please weigh yourself"))
	e.Clock.Add(16 * time.Minute)
	browsertest.Do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "north@clinic.org"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=text]`)))
	if got := browsertest.Value(t, ctx, `form[data-draft^="reply-"] textarea`); got != "Please weigh yourself" {
		t.Fatalf("draft after signing in again: %q", got)
	}
	browsertest.Do(t, ctx, chromedp.Click(`//h1`), chromedp.KeyEvent("?"), chromedp.WaitVisible(chromedp.CSS(`dialog#shortcuts`)))
}
