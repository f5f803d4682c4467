package console_test

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
)

// stream opens the member's live stream and delivers its event names.
func (b *browser) stream() <-chan string {
	b.e.t.Helper()
	req, _ := http.NewRequestWithContext(b.e.t.Context(), "GET", b.e.srv.URL+"/console/events", nil)
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		b.e.t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan string, 64)
	go func() {
		defer close(events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
	}()
	b.e.t.Cleanup(func() { res.Body.Close() })
	return events
}

// await returns when the stream carries want, failing after 5 s or when
// it carries one of refused.
func await(t *testing.T, events <-chan string, want string, refused ...string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case name, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %q", want)
			}
			for _, r := range refused {
				if name == r {
					t.Fatalf("the stream carried %q", name)
				}
			}
			if name == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 5 s", want)
		}
	}
}

// A patient's message reaches the open pages of their team as a ticket id
// (never to another team's), the page re-fetches its part through the
// normal handler, and such refreshes neither keep a session alive nor
// write an audit record each.
func TestLiveUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	north, south := e.browser(), e.browser()
	north.login("north@clinic.org", password)
	south.login("south@clinic.org", password)
	_, inbox := north.get("/console/")
	id := ticketLink.FindStringSubmatch(inbox)[1]
	ns, ss := north.stream(), south.stream()

	if _, err := e.Runner.Receive(t.Context(), "p-north", runner.Message{Channel: conversations.SMS, Text: "are you there?", Dedupe: "m2"}); err != nil {
		t.Fatal(err)
	}
	await(t, ns, "t-"+id)
	await(t, ns, "inbox")
	// The south coach's stream stays quiet about it (its heartbeats
	// continue).
	quiet := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case name := <-ss:
			if name != "" && name != "signedout" {
				t.Fatalf("another team's stream carried %q", name)
			}
		case <-quiet:
			done = true
		}
	}

	// The refresh: the list alone, through the permission check.
	refresh := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-Tend-Live", "1")
		res, err := north.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		bufio.NewReader(res.Body).WriteTo(&b)
		return res.StatusCode, b.String()
	}
	status, part := refresh("/console/?owner=none")
	if status != http.StatusOK || strings.Contains(part, "<html") || !strings.Contains(part, `id="inbox"`) || !strings.Contains(part, id) {
		t.Fatalf("live refresh of the inbox: %d\n%s", status, part)
	}
	if _, part := refresh("/console/tickets/" + id + "?part=timeline"); !strings.Contains(part, "are you there?") || strings.Contains(part, "<html") {
		t.Fatalf("live refresh of the timeline:\n%s", part)
	}
	before := len(e.auditActions("p-north"))
	refresh("/console/tickets/" + id + "?part=timeline")
	refresh("/console/tickets/" + id + "?part=facts")
	if after := len(e.auditActions("p-north")); after != before {
		t.Fatalf("live refreshes within a minute wrote %d audit records, want 0", after-before)
	}

	// Refreshes are not activity: 16 minutes of them end the session; the
	// stream says so, and a refresh gets 401 with HX-Trigger: signedout.
	for range 4 {
		e.Clock.Add(4 * time.Minute)
		refresh("/console/?owner=none")
	}
	await(t, ns, "signedout")
	if status, _ := refresh("/console/"); status != http.StatusUnauthorized {
		t.Fatalf("a refresh after the idle logoff: %d, want 401", status)
	}
	// Signing in again goes back to the page the member was on.
	res, err := north.c.PostForm(e.srv.URL+"/console/login", url.Values{"email": {"north@clinic.org"}, "password": {password},
		"next": {"/console/tickets/" + id}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/console/tickets/"+id {
		t.Fatalf("after signing in again: %s, want the ticket", res.Request.URL.Path)
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/console/", "/console/\\evil"} {
		res, _ := north.c.PostForm(e.srv.URL+"/console/login", url.Values{"email": {"north@clinic.org"}, "password": {password}, "next": {next}})
		res.Body.Close()
		if res.Request.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") || res.Request.URL.Path != "/console/" {
			t.Fatalf("next=%q went to %s", next, res.Request.URL)
		}
	}
}
