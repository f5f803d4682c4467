package main

// End-to-end test of the channels: one `tend serve` with SMS, WhatsApp,
// Telegram and voice configured, talking to the provider fakes over
// loopback HTTP through the real SDKs. The binary has one Twilio base URL
// for Messages and Calls, so a small reverse proxy in front of the two
// Twilio fakes sends each request to the fake that plays its API.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/store"
)

// chWait bounds every wait of this test for something the server does on
// its own (a send, a status update).
const chWait = 15 * time.Second

// chTwilio is the fake Twilio of the channel test: the Messages fake (SMS
// and WhatsApp) and the Calls fake behind one URL, with the same
// credentials.
type chTwilio struct {
	msgs  *smstest.Server
	calls *voicetest.Server
	URL   string // the proxy, for TEND_TWILIO_API_URL
}

func newChTwilio(t *testing.T) *chTwilio {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	accountSID, authToken := "AC"+hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
	tw := &chTwilio{msgs: smstest.NewServer(accountSID, authToken), calls: voicetest.NewServer(accountSID, authToken)}
	t.Cleanup(tw.msgs.Close)
	t.Cleanup(tw.calls.Close)
	proxy := func(base string) *httputil.ReverseProxy {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	}
	toMsgs, toCalls := proxy(tw.msgs.URL), proxy(tw.calls.URL)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/Calls") {
			toCalls.ServeHTTP(w, r)
			return
		}
		toMsgs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tw.URL = srv.URL
	return tw
}

// chEventually polls cond until it holds or chWait passes, and fails the
// test with what() then.
func chEventually(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(chWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", chWait, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// chTimeline waits until the patient's timeline satisfies cond and returns
// it.
func chTimeline(t *testing.T, srv *tendProcess, id, want string, cond func([]store.Event) bool) []store.Event {
	t.Helper()
	var evs []store.Event
	chEventually(t, func() string { return fmt.Sprintf("%s's timeline: want %s, have %+v", id, want, evs) },
		func() bool { evs = srv.timeline(id); return cond(evs) })
	return evs
}

// chEvent finds the event with an id.
func chEvent(evs []store.Event, id string) (store.Event, bool) {
	for _, ev := range evs {
		if ev.ID == id {
			return ev, true
		}
	}
	return store.Event{}, false
}

// chText renders a catalog message of the bundled pack, as the server does.
func chText(t *testing.T, pack *content.Pack, id string, data map[string]any) string {
	t.Helper()
	s, err := pack.Catalog.Text("en", id, data, nil)
	if err != nil {
		t.Fatalf("catalog %s: %v", id, err)
	}
	return s
}

// chMetrics returns the /metrics lines of a metric.
func chMetrics(t *testing.T, srv *tendProcess, name string) []string {
	t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name+"{") {
			out = append(out, sc.Text())
		}
	}
	return out
}

// chCounter is the value of one series of a counter (labels as the text
// format writes them, sorted by name), 0 when absent.
func chCounter(lines []string, series string) float64 {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func chEnroll(t *testing.T, srv *tendProcess, id, phone string, chain ...string) {
	t.Helper()
	srv.api(http.MethodPost, "/patients", map[string]any{"id": id, "phone": phone, "language": "en",
		"timezone": "America/Chicago", "programs": []string{"hypertension"}, "channels": chain,
		"medications": []map[string]any{{"id": "lisinopril", "display": "lisinopril 10 mg", "times": []string{"08:00"}}}},
		http.StatusCreated, nil)
}

func chRemind(t *testing.T, srv *tendProcess, id string) {
	t.Helper()
	srv.api(http.MethodPost, "/flow-starts", map[string]any{"flow": "med-reminder", "patients": []string{id},
		"params": map[string]string{"medication": "lisinopril"}}, http.StatusAccepted, nil)
}

// isReminder tells the med-reminder's question from the other messages.
func isReminder(text string) bool { return strings.Contains(text, "Did you take it?") }

func TestChannels(t *testing.T) {
	t.Parallel()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	tw := newChTwilio(t)
	tg := telegramtest.New(t)
	const (
		secret    = "e2e-webhook-secret_1"
		waFrom    = "+15550000001"
		voiceFrom = "+15550000002"
	)
	// TEND_TELEGRAM_BOT_USERNAME is set: telegramtest cannot answer the
	// getMe go-telegram/bot sends (an empty multipart body), see the report.
	srv := startTend(t, "", t.TempDir(), tw.msgs,
		"TEND_TWILIO_API_URL="+tw.URL,
		"TEND_WHATSAPP_FROM="+waFrom,
		"TEND_VOICE_FROM="+voiceFrom,
		"TELEGRAM_BOT_TOKEN="+tg.Token,
		"TEND_TELEGRAM_WEBHOOK_SECRET="+secret,
		"TEND_TELEGRAM_API_URL="+tg.URL,
		"TEND_TELEGRAM_BOT_USERNAME="+telegramtest.BotUsername,
		"TEND_TELEGRAM_RATE=1000",
		"TEND_TELEGRAM_CHAT_RATE=1000",
	)
	tw.msgs.Client = &http.Client{Timeout: 10 * time.Second}

	var smsReminder smstest.Message // delivered in the metrics part

	t.Run("telegram", func(t *testing.T) {
		const (
			id    = "p-tg"
			phone = "+15551240001"
			chat  = int64(424242001)
			other = int64(424242002)
		)
		chEnroll(t, srv, id, phone, "telegram", "sms")
		// Not linked yet: the welcome goes on the next channel.
		if w := waitTo(t, tw.msgs, phone, 1)[0]; !strings.Contains(w.Body, "Welcome") {
			t.Fatalf("welcome before the link: %+v", w)
		}

		var link struct {
			URL       string    `json:"url"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		srv.api(http.MethodPost, "/patients/"+id+"/telegram-link", nil, http.StatusCreated, &link)
		u, err := url.Parse(link.URL)
		code := ""
		if err == nil {
			code = u.Query().Get("start")
		}
		if err != nil || u.Scheme != "https" || u.Host != "t.me" || u.Path != "/"+telegramtest.BotUsername || code == "" {
			t.Fatalf("link %q, want https://t.me/%s?start=<code>", link.URL, telegramtest.BotUsername)
		}
		if link.ExpiresAt.Before(time.Now()) {
			t.Fatalf("link expires at %v", link.ExpiresAt)
		}
		srv.api(http.MethodPost, "/patients/nobody/telegram-link", nil, http.StatusNotFound, nil)

		hook := srv.URL + telegram.WebhookPath
		start := tg.TextUpdate(chat, "/start "+code)
		before := srv.timeline(id)
		// A forged update: 401, and the code is not spent.
		if status, err := tg.Post(hook, "not-the-secret", start); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("update with a wrong secret: %d %v, want 401", status, err)
		}
		if status, err := tg.Post(hook, "", start); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("update without a secret: %d %v, want 401", status, err)
		}
		if status, err := tg.Post(hook, secret, start); err != nil || status != http.StatusOK {
			t.Fatalf("/start with the link code: %d %v", status, err)
		}
		var got []telegramtest.Message
		chEventually(t, func() string { return fmt.Sprintf("messages to the linked chat: %+v", got) }, func() bool {
			got = tg.MessagesTo(chat)
			return len(got) > 0
		})
		if len(got) != 1 || !strings.HasPrefix(got[0].Text, "Welcome to ") {
			t.Fatalf("after the link the chat got %+v, want the welcome", got)
		}
		if n := len(srv.timeline(id)); n <= len(before) {
			t.Fatalf("timeline did not change after the link")
		}
		var p api.Patient
		srv.api(http.MethodGet, "/patients/"+id, nil, http.StatusOK, &p)
		if p.Telegram != strconv.FormatInt(chat, 10) || len(p.Channels) == 0 || p.Channels[0] != "telegram" {
			t.Fatalf("linked patient %+v: want chat %d, telegram first", p, chat)
		}
		evs := chTimeline(t, srv, id, "a channel event linked", func(evs []store.Event) bool {
			return slices.ContainsFunc(evs, func(ev store.Event) bool {
				return ev.Type == "channel" && ev.Channel == "telegram" && ev.Status == "linked"
			})
		})

		// The same update with a wrong secret: 401, nothing changes.
		if status, err := tg.Post(hook, secret+"x", start); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("replay with a wrong secret: %d %v, want 401", status, err)
		}
		// The code again, from another chat: spent, so refused.
		if status, err := tg.Post(hook, secret, tg.TextUpdate(other, "/start "+code)); err != nil || status != http.StatusOK {
			t.Fatalf("/start with a spent code: %d %v", status, err)
		}
		refused := chText(t, pack, "telegram.start.refused", nil)
		chEventually(t, func() string { return fmt.Sprintf("messages to the other chat: %+v", tg.MessagesTo(other)) }, func() bool {
			ms := tg.MessagesTo(other)
			return len(ms) == 1 && ms[0].Text == refused
		})
		if ms := tg.MessagesTo(chat); len(ms) != 1 {
			t.Fatalf("the linked chat got %d messages after the forged and refused updates: %+v", len(ms), ms)
		}
		if after := srv.timeline(id); len(after) != len(evs) {
			t.Fatalf("timeline changed after the forged and refused updates: %d events, then %d: %+v", len(evs), len(after), after)
		}
		srv.api(http.MethodGet, "/patients/"+id, nil, http.StatusOK, &p)
		if p.Telegram != strconv.FormatInt(chat, 10) {
			t.Fatalf("the other chat took the patient: %+v", p)
		}

		// The patient blocked the bot: the reminder falls back to SMS.
		tg.FailChat(chat, telegramtest.Blocked)
		chRemind(t, srv, id)
		ms := tw.msgs.WaitUntil(chWait, func(ms []smstest.Message) bool {
			return slices.ContainsFunc(filterTo(ms, phone), func(m smstest.Message) bool { return isReminder(m.Body) })
		})
		i := slices.IndexFunc(filterTo(ms, phone), func(m smstest.Message) bool { return isReminder(m.Body) })
		if i < 0 {
			t.Fatalf("no reminder by SMS after Telegram's 403: %+v\n%s", filterTo(ms, phone), srv.out.String())
		}
		smsReminder = filterTo(ms, phone)[i]
		if !strings.Contains(smsReminder.Body, "\n1 ") {
			t.Fatalf("SMS reminder without numbered choices: %q", smsReminder.Body)
		}
		if !slices.ContainsFunc(tg.Calls(), func(c telegramtest.Call) bool {
			return c.Method == "sendMessage" && c.Chat == chat && c.Fault == telegramtest.Blocked
		}) {
			t.Fatalf("the reminder was never tried on Telegram: %+v", tg.Calls())
		}
		o := smsReminder.CallbackParam("o")
		chTimeline(t, srv, id, "telegram unreachable and the reminder out on sms", func(evs []store.Event) bool {
			ev, ok := chEvent(evs, o)
			return ok && ev.Type == "message.out" && ev.Channel == "sms" && isReminder(ev.Text) &&
				slices.ContainsFunc(evs, func(ev store.Event) bool {
					return ev.Type == "channel" && ev.Channel == "telegram" && ev.Status == "unreachable"
				})
		})
	})

	t.Run("whatsapp", func(t *testing.T) {
		const (
			id    = "p-wa"
			phone = "+15551240002"
			wa    = "whatsapp:" + phone
		)
		chEnroll(t, srv, id, phone, "whatsapp", "sms")
		// Outside the window, with no template for the welcome: SMS.
		if w := waitTo(t, tw.msgs, phone, 1)[0]; !strings.Contains(w.Body, "Welcome") {
			t.Fatalf("welcome %+v", w)
		}
		for _, a := range tw.msgs.Attempts() {
			if a.To == wa {
				t.Fatalf("a message went to WhatsApp outside the window: %+v", a)
			}
		}
		chTimeline(t, srv, id, "the welcome out on sms", func(evs []store.Event) bool {
			return slices.ContainsFunc(evs, func(ev store.Event) bool {
				return ev.Type == "message.out" && ev.Channel == "sms" && strings.Contains(ev.Text, "Welcome")
			})
		})

		// The patient writes on WhatsApp: the window opens.
		hook := srv.URL + whatsapp.InboundPath
		if res := tw.msgs.PostWhatsApp(t, hook, hook, smstest.WhatsAppForm(phone, "hello", sid())); res.StatusCode/100 != 2 {
			t.Fatalf("WhatsApp inbound: status %d", res.StatusCode)
		}
		// A forged one is refused.
		req, err := smstest.SignedRequest(hook, hook, "0123456789abcdef0123456789abcdef", smstest.WhatsAppForm(phone, "STOP", sid()))
		if err != nil {
			t.Fatal(err)
		}
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("forged WhatsApp webhook: status %d, want 403", res.StatusCode)
		}

		chRemind(t, srv, id)
		ms := tw.msgs.WaitUntil(chWait, func(ms []smstest.Message) bool {
			return slices.ContainsFunc(filterTo(ms, wa), func(m smstest.Message) bool { return isReminder(m.Body) })
		})
		i := slices.IndexFunc(filterTo(ms, wa), func(m smstest.Message) bool { return isReminder(m.Body) })
		if i < 0 {
			t.Fatalf("no reminder on WhatsApp inside the window; to WhatsApp: %+v; to SMS: %+v\n%s",
				filterTo(ms, wa), filterTo(ms, phone), srv.out.String())
		}
		m := filterTo(ms, wa)[i]
		if m.From != "whatsapp:"+waFrom || m.Outcome != "" {
			t.Fatalf("WhatsApp reminder %+v: want from whatsapp:%s, accepted inside the window", m, waFrom)
		}
		if n := len(filterTo(tw.msgs.Messages(), phone)); n != 1 {
			t.Fatalf("%d SMS to the WhatsApp patient, want only the welcome", n)
		}
		if code, err := tw.msgs.Report(m); err != nil || code/100 != 2 {
			t.Fatalf("WhatsApp status callback: %d %v", code, err)
		}
		chTimeline(t, srv, id, "the reminder out on whatsapp, delivered", func(evs []store.Event) bool {
			ev, ok := chEvent(evs, m.CallbackParam("o"))
			return ok && ev.Type == "message.out" && ev.Channel == "whatsapp" && ev.Status == "delivered"
		})
	})

	t.Run("voice", func(t *testing.T) {
		const (
			id    = "p-vo"
			phone = "+15551240003"
		)
		chEnroll(t, srv, id, phone, "voice")
		calls := tw.calls.WaitFor(1, chWait)
		if len(calls) != 1 || calls[0].To != phone || calls[0].From != voiceFrom {
			t.Fatalf("welcome calls %+v, want one to %s from %s", calls, phone, voiceFrom)
		}
		// The welcome: said, no question, the call ends.
		c := tw.calls.Answer(t, calls[0], voicetest.Human)
		if !c.Ended() || !slices.ContainsFunc(c.Said(), func(s string) bool { return strings.HasPrefix(s, "Welcome") }) {
			t.Fatalf("welcome call: heard %q, ended %v", c.Said(), c.Ended())
		}

		chRemind(t, srv, id)
		calls = tw.calls.WaitFor(2, chWait)
		if len(calls) != 2 || calls[1].To != phone {
			t.Fatalf("calls %+v, want a second one for the reminder\n%s", calls, srv.out.String())
		}
		c = tw.calls.Answer(t, calls[1], voicetest.Human)
		press1 := chText(t, pack, "voice.press", map[string]any{"Digit": 1, "Label": chText(t, pack, "med.choice.taken", nil)})
		if c.Gather() == nil || !slices.ContainsFunc(c.Said(), isReminder) || !slices.Contains(c.Said(), press1) {
			t.Fatalf("reminder call: heard %q (waiting %q), want the question and %q", c.Said(), c.Waiting(), press1)
		}
		c.Press("1")
		if !slices.Contains(c.Said(), chText(t, pack, "med.thanks", nil)) || !c.Ended() {
			t.Fatalf("after pressing 1: heard %q, ended %v", c.Said(), c.Ended())
		}
		chTimeline(t, srv, id, "adherence taken and the call delivered", func(evs []store.Event) bool {
			ev, ok := chEvent(evs, calls[1].Param("o"))
			return ok && ev.Type == "message.out" && ev.Channel == "voice" && ev.Status == "delivered" &&
				slices.ContainsFunc(evs, func(ev store.Event) bool {
					return ev.Type == "adherence" && ev.Status == "taken" && ev.Medication == "lisinopril"
				})
		})

		// A caller who is not enrolled.
		u := tw.calls.Dial(t, srv.URL+voice.InboundPath, "+15559990001", voiceFrom)
		if said := u.Said(); len(said) == 0 || said[0] != chText(t, pack, "voice.unknown", nil) {
			t.Fatalf("unknown caller heard %q", said)
		}
		if u.LastStatus() != http.StatusOK {
			t.Fatalf("unknown caller: status %d", u.LastStatus())
		}
	})

	t.Run("metrics", func(t *testing.T) {
		if smsReminder.SID == "" {
			t.Fatal("no SMS reminder to report on: the telegram subtest, which sends it, must run first and pass")
		}
		if code, err := tw.msgs.Callback(smsReminder, "delivered", 0); err != nil || code/100 != 2 {
			t.Fatalf("SMS status callback: %d %v", code, err)
		}
		var out, statuses []string
		chEventually(t, func() string {
			return fmt.Sprintf("metrics:\n%s\n%s", strings.Join(out, "\n"), strings.Join(statuses, "\n"))
		}, func() bool {
			out = chMetrics(t, srv, "tend_messages_out_total")
			statuses = chMetrics(t, srv, "tend_message_status_total")
			for _, ch := range []string{"telegram", "sms", "voice", "whatsapp"} {
				if !slices.ContainsFunc(out, func(l string) bool {
					return strings.HasPrefix(l, `tend_messages_out_total{channel="`+ch+`",`)
				}) {
					return false
				}
			}
			return chCounter(statuses, `tend_message_status_total{channel="sms",status="delivered"}`) >= 1 &&
				chCounter(statuses, `tend_message_status_total{channel="voice",status="delivered"}`) >= 2 &&
				chCounter(statuses, `tend_message_status_total{channel="whatsapp",status="delivered"}`) >= 1
		})
		ev, _ := chEvent(srv.timeline("p-tg"), smsReminder.CallbackParam("o"))
		if ev.Status != "delivered" {
			t.Fatalf("SMS reminder event %+v, want delivered", ev)
		}
	})

	srv.stop()
}
