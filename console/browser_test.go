package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

// chromium finds Debian's chromium (the Makefile's deps installs it). In
// CI a missing browser fails the test; on a developer's machine it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: make deps installs it")
	}
	t.Skip("no chromium on PATH (make deps installs it)")
	return ""
}

// browserCtx starts a headless Chromium with its own profile (its own
// cookies: two of them are two staff members).
func browserCtx(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatal(err)
	}
	return ctx
}

// do runs steps with a time limit, so a missing element fails the test
// instead of waiting for ever.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// screenshot saves the page as docs/<name> when TEND_SCREENSHOTS names
// the docs folder (go test ./console -run Browser with
// TEND_SCREENSHOTS=$PWD/docs refreshes the README's pictures).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TEND_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signIn(t *testing.T, ctx context.Context, srvURL, email string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(srvURL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(`//h1[text()="Inbox"]`),
	)
}

// In a real browser: two coaches of one team race to claim the ticket;
// the winner reads the timeline, replies and hands back.
func TestBrowserClaimReplyHandBack(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	a, b := browserCtx(t, exe), browserCtx(t, exe)
	signIn(t, a, e.srv.URL, "north@clinic.org")
	signIn(t, b, e.srv.URL, "north2@clinic.org")
	if inbox := text(t, a, `table.tickets`); !strings.Contains(inbox, "p-north") || strings.Contains(inbox, "p-south") {
		t.Fatalf("inbox %q", inbox)
	}
	for _, ctx := range []context.Context{a, b} {
		do(t, ctx, chromedp.Click(chromedp.CSS(`table.tickets a`)), chromedp.WaitVisible(`//button[text()="Claim"]`))
	}
	for _, ctx := range []context.Context{a, b} {
		do(t, ctx, chromedp.Click(`//button[text()="Claim"]`), chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	}
	if fa, fb := text(t, a, `p.flash`), text(t, b, `p.flash`); !strings.Contains(fa, "Claimed") || !strings.Contains(fb, "north@clinic.org has this conversation") {
		t.Fatalf("claims: %q / %q", fa, fb)
	}
	do(t, a,
		chromedp.SendKeys(chromedp.CSS(`textarea[name=text]`), "Hi, this is your coach. How are you today?"),
		chromedp.Click(`//button[text()="Send"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Reply queued")]`))
	if tl := text(t, a, `ol.timeline`); !strings.Contains(tl, "How are you today?") || !strings.Contains(tl, "HUMAN") {
		t.Fatalf("timeline after the reply: %q", tl)
	}
	screenshot(t, a, "console-conversation.png")
	do(t, b, chromedp.Navigate(e.srv.URL+"/console/"), chromedp.WaitVisible(`//h1[text()="Inbox"]`))
	if counts := text(t, b, `p.counts`); counts != "0 waiting · 1 claimed · 0 mine" {
		t.Fatalf("counts %q", counts)
	}
	screenshot(t, b, "console-inbox.png")
	do(t, a,
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

// value reads a form field's value.
func value(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// In a real browser, live: a new ticket appears in the inbox without a
// reload; the keyboard selects and claims it; the patient's next message
// appears in the open conversation; after 15 idle minutes the page signs
// out by itself, and signing in again brings back the page and the reply
// being typed.
func TestBrowserLiveAndKeys(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	ctx := browserCtx(t, exe)
	signIn(t, ctx, e.srv.URL, "north@clinic.org")
	do(t, ctx, chromedp.WaitVisible(`//body[@data-live="on"]`)) // the stream is open

	p := store.Patient{ID: "p-late", Phone: "+15551230009", Language: "en", Timezone: "America/Chicago", Channel: conversations.SMS,
		Team: "north", Programs: []string{"hypertension"}}
	if _, err := e.Runner.Enroll(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Runner.Receive(t.Context(), p.ID, runner.Message{Channel: conversations.SMS, Text: "NURSE", Dedupe: "late-1"}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.WaitVisible(`//td[text()="p-late"]`)) // no reload

	// j, j selects the second row (the later deadline), c claims it.
	do(t, ctx, chromedp.KeyEvent("j"), chromedp.KeyEvent("j"),
		chromedp.WaitVisible(`//tr[contains(@class,"selected")]/td[text()="p-late"]`),
		chromedp.KeyEvent("c"),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Claimed")]`))
	if s := e.session(t, "p-late"); s.Owner != "north@clinic.org" {
		t.Fatalf("owner after the keyboard claim: %q", s.Owner)
	}
	do(t, ctx, chromedp.WaitVisible(`//body[@data-live="on"]`))
	if _, err := e.Runner.Receive(t.Context(), p.ID, runner.Message{Channel: conversations.SMS, Text: "my feet are swollen", Dedupe: "late-2"}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.WaitVisible(`//ol[@id="timeline"]//span[contains(., "my feet are swollen")]`))

	// r focuses the reply; the draft survives the idle logoff.
	do(t, ctx, chromedp.KeyEvent("r"), chromedp.WaitVisible(chromedp.CSS(`textarea:focus`)), chromedp.KeyEvent("Please weigh yourself"))
	e.Clock.Add(16 * time.Minute)
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "north@clinic.org"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=text]`)))
	if got := value(t, ctx, `form[data-draft^="reply-"] textarea`); got != "Please weigh yourself" {
		t.Fatalf("draft after signing in again: %q", got)
	}
	do(t, ctx, chromedp.Click(`//h1`), chromedp.KeyEvent("?"), chromedp.WaitVisible(chromedp.CSS(`dialog#shortcuts`)))
}
