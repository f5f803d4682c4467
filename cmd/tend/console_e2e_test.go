package main

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/console/browsertest"
)

// The care team's day one, end to end, in a real browser against the real
// binary and a fake Twilio: the first account from `tend staff add`; a
// patient texts NURSE and the ticket appears in the open inbox without a
// reload; the coach claims it, reads the timeline, replies (the reply
// reaches Twilio), notes, and hands back with a follow-up flow that the
// automation then runs.
func TestConsoleEndToEnd(t *testing.T) {
	t.Parallel()
	exe := browsertest.Chromium(t)
	fake := smstest.New(t)
	dir := t.TempDir()
	const pw = "first admin passphrase"
	add := exec.Command(tendBin, "staff", "add", "--email", "coach@clinic.org", "--role", "coach", "--team", "default", "--password-stdin")
	add.Env = tendEnv("127.0.0.1:0", dir, fake)
	add.Stdin = strings.NewReader(pw + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("tend staff add: %v\n%s", err, out)
	}
	srv := startTend(t, "", dir, fake)
	const phone = "+15551239001"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-9001", "phone": phone, "timezone": "America/Chicago",
		"programs": []string{"heart-failure"}}, http.StatusCreated, nil)
	waitTo(t, fake, phone, 1) // the welcome

	ctx := browsertest.New(t, exe)
	browsertest.SignIn(t, ctx, srv.URL, "coach@clinic.org", pw)
	browsertest.Do(t, ctx, chromedp.WaitVisible(`//body[@data-live="on"]`))
	if got := browsertest.Text(t, ctx, `#inbox`); !strings.Contains(got, "No open tickets") {
		t.Fatalf("inbox before the patient writes: %q", got)
	}

	if res := smstest.PostInbound(t, srv.URL, srv.URL, fake.AuthToken, phone, "NURSE", sid()); res.StatusCode/100 != 2 {
		t.Fatalf("inbound NURSE: %d", res.StatusCode)
	}
	browsertest.Do(t, ctx,
		chromedp.WaitVisible(`//td[text()="p-9001"]`), // live, no reload
		chromedp.Click(`//tr[td[text()="p-9001"]]//a`),
		chromedp.WaitVisible(`//button[text()="Claim"]`),
		chromedp.Click(`//button[text()="Claim"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Claimed")]`))
	if tl := browsertest.Text(t, ctx, `#timeline`); !strings.Contains(tl, "NURSE") {
		t.Fatalf("timeline: %q", tl)
	}
	const reply = "Hi, this is Sam, your nurse. How can I help?"
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-draft^="reply-"] textarea`), reply),
		chromedp.Click(`//button[text()="Send"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Reply queued")]`))
	sent := waitTo(t, fake, phone, 3) // welcome, the NURSE acknowledgement, the reply
	if sent[len(sent)-1].Body != reply {
		t.Fatalf("last message to the patient %q, want the reply", sent[len(sent)-1].Body)
	}
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-draft^="note-"] textarea`), "asked about swelling"),
		chromedp.Click(`//button[text()="Add note"]`),
		chromedp.WaitVisible(`//ol[@id="timeline"]//span[contains(., "asked about swelling")]`),
		chromedp.SetValue(chromedp.CSS(`select[name=follow_up]`), "hf-daily-weight"),
		chromedp.Click(`//button[text()="Resolve and hand back"]`),
		chromedp.WaitVisible(`//h1[text()="Inbox"]`))

	// The automation has the conversation again: the follow-up asks.
	asked := waitTo(t, fake, phone, 4)
	if q := asked[3].Body; !strings.Contains(strings.ToLower(q), "weigh") {
		t.Fatalf("follow-up after the hand-back: %q", q)
	}
	evs := srv.timeline("p-9001")
	var kinds []string
	for _, ev := range evs {
		switch {
		case ev.Type == "ticket", ev.Type == "note":
			kinds = append(kinds, ev.Type+":"+ev.Status)
		case ev.Type == "message.out" && ev.Staff != "":
			kinds = append(kinds, "reply:"+ev.Staff)
		}
	}
	if got := strings.Join(kinds, " "); got != "ticket:claimed reply:coach@clinic.org note: ticket:resolved" {
		t.Fatalf("timeline of the handoff: %s", got)
	}
}
