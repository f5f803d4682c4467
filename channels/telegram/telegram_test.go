package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/telegram/telegramtest"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

const secret = "Wt7-webhook_secret-0123456789"

// env is Tend's Telegram channel on the real runner and embedded store of
// channeltest, its webhook served by httptest, and a fake Bot API behind
// the real go-telegram/bot client.
type env struct {
	*channeltest.Core
	t      *testing.T
	fake   *telegramtest.Server
	sender *telegram.Sender
	hooks  *telegram.Webhooks
	srv    *httptest.Server
	url    string // the webhook's URL
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Core: channeltest.New(t, channeltest.Options{}), t: t, fake: telegramtest.New(t)}
	b, err := telegram.NewBot(e.fake.Token, e.fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.sender = &telegram.Sender{Bot: b}
	e.hooks = &telegram.Webhooks{Turns: e.Runner, Bot: b, Pack: e.Pack, Secret: secret, Log: e.Log}
	mux := http.NewServeMux()
	mux.Handle("POST "+telegram.WebhookPath, e.hooks)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL + telegram.WebhookPath
	return e
}

// enroll enrolls a patient on SMS, with no Telegram chat yet.
func (e *env) enroll(id, phone string) {
	e.t.Helper()
	_, err := e.Runner.Enroll(e.t.Context(), store.Patient{ID: id, Phone: phone, Language: "en",
		Timezone: "America/Chicago", Channel: conversations.SMS, Programs: []string{"hypertension"},
		Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// enrollLinked enrolls a patient whose Telegram chat is linked already, and
// delivers their welcome message.
func (e *env) enrollLinked(id string, chat int64, lang string) {
	e.t.Helper()
	_, err := e.Runner.Enroll(e.t.Context(), store.Patient{ID: id, Language: lang, Addresses: map[string]string{"telegram": strconv.FormatInt(chat, 10)},
		Timezone: "America/Chicago", Channel: conversations.Telegram, Programs: []string{"heart-failure"},
		Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.deliver()
}

func (e *env) post(u models.Update) int {
	e.t.Helper()
	code, err := e.fake.Post(e.url, secret, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

// text posts a message the user of chat wrote and wants it accepted.
func (e *env) text(chat int64, text string) {
	e.t.Helper()
	if code := e.post(e.fake.TextUpdate(chat, text)); code != http.StatusOK {
		e.t.Fatalf("webhook answered %d to a message", code)
	}
}

// press posts a press of button i of m and wants it accepted.
func (e *env) press(m telegramtest.Message, i int) models.Update {
	e.t.Helper()
	u := e.fake.PressUpdate(m, i)
	if code := e.post(u); code != http.StatusOK {
		e.t.Fatalf("webhook answered %d to a button press", code)
	}
	return u
}

// deliver sends the outbox the way the dispatcher does (to the address the
// patient has now), with the channel's Sender for Telegram entries; other
// channels' entries are settled unsent. It returns how many it sent.
func (e *env) deliver() int {
	e.t.Helper()
	ctx := e.t.Context()
	sent := 0
	for {
		batch, err := e.Store.ClaimOutbox(ctx, e.Clock.Now(), 16)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(batch) == 0 {
			return sent
		}
		for _, o := range batch {
			d := store.Delivery{Done: true, Status: "skipped"}
			if o.Channel == telegram.Channel {
				if o.PatientID != "" {
					c, err := e.Runner.Contact(ctx, o.PatientID)
					if err != nil {
						e.t.Fatal(err)
					}
					o.To = c.Address(telegram.Channel)
				}
				id, status, err := e.sender.Send(ctx, o)
				if err != nil {
					e.t.Fatalf("sending %s: %v", o.MessageID, err)
				}
				d = store.Delivery{Done: true, Status: status, ProviderID: id}
				sent++
			}
			if err := e.Store.Finish(ctx, o, d); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func (e *env) catalog(lang, id string) string {
	e.t.Helper()
	text, err := e.Pack.Catalog.Text(lang, id, nil, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// last returns the last message sent to chat, failing when there is none.
func (e *env) last(chat int64) telegramtest.Message {
	e.t.Helper()
	msgs := e.fake.MessagesTo(chat)
	if len(msgs) == 0 {
		e.t.Fatalf("no message sent to chat %d", chat)
	}
	return msgs[len(msgs)-1]
}

func TestWebhookRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	depth := e.Depth()
	good := func() models.Update { return e.fake.TextUpdate(1001, "HELP") }
	post := func(sec string, body []byte) int {
		code, err := e.fake.PostRaw(e.url, sec, body)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	for _, tc := range []struct {
		name string
		do   func() int
		want int
	}{
		{"forged secret", func() int { c, _ := e.fake.Post(e.url, "not-the-secret", good()); return c }, http.StatusUnauthorized},
		{"secret with a different case", func() int { c, _ := e.fake.Post(e.url, strings.ToUpper(secret), good()); return c }, http.StatusUnauthorized},
		{"secret prefix", func() int { c, _ := e.fake.Post(e.url, secret[:10], good()); return c }, http.StatusUnauthorized},
		{"missing secret", func() int { c, _ := e.fake.Post(e.url, "", good()); return c }, http.StatusUnauthorized},
		{"forged secret, malformed body", func() int { return post("nope", []byte("{")) }, http.StatusUnauthorized},
		{"malformed JSON", func() int { return post(secret, []byte(`{"update_id": 7, "message": {`)) }, http.StatusBadRequest},
		{"not an object", func() int { return post(secret, []byte(`[1,2]`)) }, http.StatusBadRequest},
		{"no update_id", func() int {
			return post(secret, []byte(`{"message":{"message_id":1,"date":1,"chat":{"id":1001,"type":"private"},"text":"HELP"}}`))
		}, http.StatusBadRequest},
		{"message of the wrong type", func() int { return post(secret, []byte(`{"update_id":8,"message":"HELP"}`)) }, http.StatusBadRequest},
		{"body over 256 KiB", func() int {
			return post(secret, []byte(`{"update_id":9,"message":{"message_id":1,"date":1,"chat":{"id":1001,"type":"private"},"text":"`+
				strings.Repeat("a", 300<<10)+`"}}`))
		}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.do(); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 0 {
				t.Errorf("%d message.in events after a rejected update", n)
			}
			if n := e.Depth(); n != depth {
				t.Errorf("outbox depth %d, want %d", n, depth)
			}
		})
	}

	// A GET is not an update.
	res, err := http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", res.StatusCode)
	}

	// The same update with the right secret is accepted: the cases above
	// failed for the reason they name.
	if code := e.post(good()); code != http.StatusOK {
		t.Fatalf("good update: status %d", code)
	}
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 1 {
		t.Fatalf("%d message.in events after a good update", n)
	}
}

// TestNoSecretConfigured: a webhook without a configured secret trusts
// nobody, even a request without the header.
func TestNoSecretConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	h := &telegram.Webhooks{Turns: e.Runner, Bot: e.sender.Bot, Pack: e.Pack, Log: e.Runner.Log}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, sec := range []string{"", secret} {
		code, err := e.fake.Post(srv.URL, sec, e.fake.TextUpdate(1001, "HELP"))
		if err != nil || code != http.StatusUnauthorized {
			t.Fatalf("secret %q: status %d %v, want 401", sec, code, err)
		}
	}
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 0 {
		t.Fatalf("%d message.in events", n)
	}
}

func TestDuplicateUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	before := channeltest.Count(e.Timeline("p-1"), "message.out")
	u := e.fake.TextUpdate(1001, "HELP")
	for i := range 3 {
		if code := e.post(u); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i+1, code)
		}
	}
	evs := e.Timeline("p-1")
	if n := channeltest.Count(evs, "message.in"); n != 1 {
		t.Errorf("%d message.in events for one update_id posted 3 times", n)
	}
	if n := channeltest.Count(evs, "message.out") - before; n != 1 {
		t.Errorf("%d HELP replies for one update_id posted 3 times", n)
	}

	// Retries racing each other are deduplicated too.
	u2 := e.fake.TextUpdate(1001, "hello")
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			code, err := e.fake.Post(e.url, secret, u2)
			if err != nil || code != http.StatusOK {
				t.Errorf("concurrent retry: status %d %v", code, err)
			}
		})
	}
	wg.Wait()
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 2 {
		t.Errorf("%d message.in events after 5 concurrent deliveries of a second update, want 2", n)
	}
}

var codeRE = regexp.MustCompile(`^https://t\.me/tend_test_bot\?start=([A-Za-z0-9_-]{1,64})$`)

func (e *env) link(patientID string) string {
	e.t.Helper()
	links := &telegram.Links{Codes: e.Runner, BotUsername: "@" + telegramtest.BotUsername}
	url, expires, err := links.Create(e.t.Context(), patientID)
	if err != nil {
		e.t.Fatal(err)
	}
	if want := e.Clock.Now().Add(24 * time.Hour); !expires.Equal(want) {
		e.t.Fatalf("link expires %v, want %v", expires, want)
	}
	m := codeRE.FindStringSubmatch(url)
	if m == nil {
		e.t.Fatalf("link %q is not a t.me deep link with a valid start parameter", url)
	}
	return m[1]
}

func TestLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.enroll("p-1", "+15551230001")
	code := e.link("p-1")
	// The store keeps a hash, not the code.
	if _, err := e.Store.TakeCode(ctx, code, e.Clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeCode(raw code) = %v: the code itself is a key", err)
	}

	u := e.fake.TextUpdate(1001, "/start "+code)
	if code := e.post(u); code != http.StatusOK {
		t.Fatalf("/start: status %d", code)
	}
	p, err := e.Store.PatientByAddress(ctx, "telegram", "1001")
	if err != nil || p.ID != "p-1" {
		t.Fatalf("PatientByAddress = %+v %v, want p-1", p, err)
	}
	if p.Channel != conversations.Telegram || len(p.Channels) == 0 || p.Channels[0] != conversations.Telegram {
		t.Fatalf("chain after linking: %q %v, want telegram first", p.Channel, p.Channels)
	}
	e.deliver()
	msgs := e.fake.MessagesTo(1001)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "Welcome to") {
		t.Fatalf("messages to the linked chat: %+v, want the welcome", msgs)
	}
	linked := func() int {
		n := 0
		for _, ev := range e.Timeline("p-1") {
			if ev.Type == "channel" && ev.Channel == conversations.Telegram && ev.Status == "linked" {
				n++
			}
		}
		return n
	}
	if n := linked(); n != 1 {
		t.Fatalf("%d linked events", n)
	}

	// Telegram retrying the update links nothing again and says nothing.
	if code := e.post(u); code != http.StatusOK {
		t.Fatalf("retried /start: status %d", code)
	}
	e.deliver()
	if n := len(e.fake.MessagesTo(1001)); n != 1 || linked() != 1 {
		t.Fatalf("after a retry: %d messages, %d linked events", n, linked())
	}

	// The code is used: another chat gets the refusal.
	refused := e.catalog("en", "telegram.start.refused")
	e.text(2002, "/start "+code)
	e.deliver()
	if msgs := e.fake.MessagesTo(2002); len(msgs) != 1 || msgs[0].Text != refused || len(msgs[0].Buttons) != 0 {
		t.Fatalf("second use of a code: %+v, want one refusal", msgs)
	}
	if _, err := e.Store.PatientByAddress(ctx, "telegram", "2002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second use linked the chat: %v", err)
	}

	// An expired code is refused too.
	e.enroll("p-3", "+15551230003")
	expired := e.link("p-3")
	e.Clock.Add(24*time.Hour + time.Second)
	e.text(3003, "/start "+expired)
	e.deliver()
	if msgs := e.fake.MessagesTo(3003); len(msgs) != 1 || msgs[0].Text != refused {
		t.Fatalf("expired code: %+v, want one refusal", msgs)
	}
	if _, err := e.Store.PatientByAddress(ctx, "telegram", "3003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired code linked the chat: %v", err)
	}
}

// TestRefusal: an unknown chat hears once a day that it is not linked,
// whatever it writes, in its app's language when Tend has it.
func TestRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refused := e.catalog("en", "telegram.start.refused")
	for _, text := range []string{"/start", "hello", "/start not-a-code", "/start ../../etc", "/start " + strings.Repeat("a", 65)} {
		e.text(5005, text)
	}
	e.Clock.Add(23 * time.Hour)
	e.text(5005, "anyone?")
	e.deliver()
	if msgs := e.fake.MessagesTo(5005); len(msgs) != 1 || msgs[0].Text != refused {
		t.Fatalf("same day: %+v, want one refusal", msgs)
	}
	e.Clock.Add(2 * time.Hour)
	e.text(5005, "hello again")
	e.deliver()
	if msgs := e.fake.MessagesTo(5005); len(msgs) != 2 {
		t.Fatalf("next day: %d messages, want 2", len(msgs))
	}

	e.fake.SetLanguage(6006, "es-MX")
	e.text(6006, "/start")
	e.fake.SetLanguage(7007, "de")
	e.text(7007, "/start")
	e.deliver()
	if msgs := e.fake.MessagesTo(6006); len(msgs) != 1 || msgs[0].Text != e.catalog("es", "telegram.start.refused") {
		t.Fatalf("Spanish app: %+v, want the Spanish refusal", msgs)
	}
	if msgs := e.fake.MessagesTo(7007); len(msgs) != 1 || msgs[0].Text != refused {
		t.Fatalf("German app (no German bundled): %+v, want the default language's refusal", msgs)
	}
}

func TestChatTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.enrollLinked("p-1", 1001, "en")
	e.enroll("p-2", "+15551230002")
	code := e.link("p-2")
	e.text(1001, "/start "+code)
	e.deliver()
	if m := e.last(1001); m.Text != e.catalog("en", "telegram.start.taken") {
		t.Fatalf("last message %q, want telegram.start.taken", m.Text)
	}
	if p, err := e.Store.PatientByAddress(ctx, "telegram", "1001"); err != nil || p.ID != "p-1" {
		t.Fatalf("chat now belongs to %+v %v", p, err)
	}
	if p, _, err := e.Store.Load(ctx, "p-2"); err != nil || p.Address("telegram") != "" {
		t.Fatalf("p-2 = %+v %v, want no chat", p, err)
	}
}

// TestRelink: following a new link from the chat already linked links it
// again and asks the welcome again.
func TestRelink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	n := len(e.fake.MessagesTo(1001))
	e.text(1001, "/start "+e.link("p-1"))
	e.deliver()
	if msgs := e.fake.MessagesTo(1001); len(msgs) != n+1 || !strings.HasPrefix(msgs[n].Text, "Welcome to") {
		t.Fatalf("messages %+v, want a second welcome", msgs)
	}
}

func TestButtons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	q := e.last(1001)
	if q.Text != "Time for your medicine. Did you take it?" {
		t.Fatalf("question text %q: the choices belong on buttons, not in the text", q.Text)
	}
	labels := []string{e.catalog("en", "med.choice.taken"), e.catalog("en", "med.choice.not_yet"), e.catalog("en", "med.choice.problem")}
	if len(q.Buttons) != 3 || !q.Keyboard {
		t.Fatalf("keyboard %+v, want 3 buttons", q.Buttons)
	}
	var step uint32
	for i, b := range q.Buttons {
		choice, s, ok := telegram.ParseCallbackData(b.Data)
		if b.Text != labels[i] || !ok || s == 0 || (i > 0 && s != step) {
			t.Fatalf("button %d = %+v", i, b)
		}
		step = s
		if want := []string{"taken", "not_yet", "problem"}[i]; choice != want {
			t.Fatalf("button %d choice %q, want %q", i, choice, want)
		}
	}

	u := e.press(q, 0)
	evs := e.Timeline("p-1")
	adh := channeltest.Of(evs, "adherence")
	if len(adh) != 1 || adh[0].Status != "taken" || adh[0].Medication != "lisinopril" {
		t.Fatalf("adherence events %+v, want one taken", adh)
	}
	in := channeltest.Of(evs, "message.in")
	if len(in) != 1 || in[0].Text != labels[0] || in[0].Channel != conversations.Telegram {
		t.Fatalf("message.in %+v, want the button's label", in)
	}
	if a := e.fake.Answers(); len(a) != 1 || a[0].QueryID != u.CallbackQuery.ID || a[0].Text != "" {
		t.Fatalf("answers %+v, want the query answered without a notice", a)
	}
	if edits := e.fake.Edits(); len(edits) != 1 || edits[0].MessageID != q.ID || len(edits[0].Buttons) != 0 {
		t.Fatalf("edits %+v, want the keyboard removed", edits)
	}
	if m := e.fake.MessagesTo(1001); m[len(m)-1].Keyboard {
		t.Fatal("the answered question still shows its keyboard")
	}
	e.deliver()
	if m := e.last(1001); m.Text != e.catalog("en", "med.thanks") || len(m.Buttons) != 0 {
		t.Fatalf("reply %+v, want med.thanks without buttons", m)
	}
}

// TestStaleButton: a button of an earlier question changes nothing and is
// answered "this question has closed".
func TestStaleButton(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := e.Runner.StartFlow(t.Context(), "p-1", "hf-daily-weight", nil); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	q1 := e.last(1001)
	if len(q1.Buttons) != 3 {
		t.Fatalf("q1 %+v, want 3 buttons", q1)
	}
	e.press(q1, 0) // evening: wrong; how sure? then the question comes again
	e.deliver()
	sure := e.last(1001)
	if len(sure.Buttons) != 5 {
		t.Fatalf("confidence question %+v, want 5 buttons", sure)
	}
	e.press(sure, 0)
	e.deliver()
	retry := e.last(1001)
	if len(retry.Buttons) != 3 || retry.ID == q1.ID || retry.Buttons[1].Data == q1.Buttons[1].Data {
		t.Fatalf("retry %+v, want a new question with new steps", retry)
	}
	quizzes := len(channeltest.Of(e.Timeline("p-1"), "lesson"))
	depth := e.Depth()

	e.press(q1, 1) // the right answer, on the old question
	if n := len(channeltest.Of(e.Timeline("p-1"), "lesson")); n != quizzes {
		t.Fatalf("a stale button recorded a quiz answer (%d → %d)", quizzes, n)
	}
	if d := e.Depth(); d != depth {
		t.Fatalf("a stale button queued %d messages", d-depth)
	}
	a := e.fake.Answers()
	if last := a[len(a)-1]; last.Text != e.catalog("en", "telegram.stale") {
		t.Fatalf("stale press answered %+v, want telegram.stale", last)
	}

	// The waiting question still takes its own buttons.
	e.press(retry, 1)
	e.deliver()
	e.press(e.last(1001), 4) // very sure
	qs := channeltest.Of(e.Timeline("p-1"), "lesson")
	if len(qs) != quizzes+1 || qs[len(qs)-1].Correct == nil || !*qs[len(qs)-1].Correct || qs[len(qs)-1].Confidence != 5 || qs[len(qs)-1].Status != "mastered" {
		t.Fatalf("lesson events %+v, want a right, sure answer last", qs)
	}
}

// TestAnswerFailureAfterCommit: the callback answer and the keyboard edit
// failing leave the turn committed and the webhook answered 200.
func TestAnswerFailureAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	e.fake.FailNext(telegramtest.ServerError, 1)
	e.fake.FailNext(telegramtest.Drop, 1)
	e.press(e.last(1001), 0)
	if adh := channeltest.Of(e.Timeline("p-1"), "adherence"); len(adh) != 1 || adh[0].Status != "taken" {
		t.Fatalf("adherence %+v, want taken", adh)
	}
	calls := e.fake.Calls()
	var methods []string
	for _, c := range calls[len(calls)-2:] {
		methods = append(methods, c.Method+"/"+c.Fault.String())
	}
	if got := strings.Join(methods, ","); got != "answerCallbackQuery/server-error,editMessageReplyMarkup/drop" {
		t.Fatalf("last calls %s", got)
	}
}

// TestUnknownChatButton: buttons left in a chat that is not linked (any
// more) are answered as closed and removed.
func TestUnknownChatButton(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	q := e.last(1001)
	if err := e.Store.DeletePatient(t.Context(), "p-1"); err != nil {
		t.Fatal(err)
	}
	e.press(q, 0)
	if a := e.fake.Answers(); len(a) != 1 || a[0].Text != e.catalog("en", "telegram.stale") {
		t.Fatalf("answers %+v", a)
	}
	if m := e.last(1001); m.Keyboard {
		t.Fatal("keyboard left in place")
	}
}

// TestChatOrder: one chat's updates posted at once run one at a time, and
// all of them are committed.
func TestChatOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	e.enrollLinked("p-2", 2002, "en")
	watch := &watcher{Runner: e.Runner, inflight: map[string]int{}}
	e.hooks.Turns = watch // before any request of this test
	const n = 12
	var updates []models.Update
	for i := range n {
		updates = append(updates, e.fake.TextUpdate(1001, fmt.Sprintf("hello %d", i)), e.fake.TextUpdate(2002, fmt.Sprintf("hi %d", i)))
	}
	var wg sync.WaitGroup
	for _, u := range updates {
		wg.Go(func() {
			if code, err := e.fake.Post(e.url, secret, u); err != nil || code != http.StatusOK {
				t.Errorf("status %d %v", code, err)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"p-1", "p-2"} {
		if got := channeltest.Count(e.Timeline(id), "message.in"); got != n {
			t.Errorf("%s: %d message.in events, want %d", id, got, n)
		}
	}
	if watch.most > 1 {
		t.Fatalf("%d updates of one chat ran at once", watch.most)
	}
}

// watcher is the real runner, watched: it counts turns of one patient
// running at once.
type watcher struct {
	*runner.Runner
	mu       sync.Mutex
	inflight map[string]int
	most     int
}

func (w *watcher) Receive(ctx context.Context, patientID string, m runner.Message) (runner.Reply, error) {
	w.mu.Lock()
	w.inflight[patientID]++
	w.most = max(w.most, w.inflight[patientID])
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inflight[patientID]--
		w.mu.Unlock()
	}()
	return w.Runner.Receive(ctx, patientID, m)
}

// TestBlockedUpdate: a patient blocking the bot makes Telegram unreachable
// for them until they write again.
func TestBlockedUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	unreachable := func() bool {
		c, err := e.Runner.Contact(t.Context(), "p-1")
		if err != nil {
			t.Fatal(err)
		}
		return c.Unreachable.Has(conversations.Telegram)
	}
	if code := e.post(e.fake.BlockUpdate(1001)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if !unreachable() {
		t.Fatal("blocking the bot did not make Telegram unreachable")
	}
	e.text(1001, "/start")
	if unreachable() {
		t.Fatal("writing again did not make Telegram reachable")
	}
}

// TestGroupChat: a message in a group is not a patient's conversation.
func TestGroupChat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.fake.TextUpdate(-100123, "hello")
	u.Message.Chat.Type = models.ChatTypeGroup
	if code := e.post(u); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if d := e.Depth(); d != 0 {
		t.Fatalf("a group message queued %d messages", d)
	}
}

// TestSetWebhook: the webhook Register sets through the SDK is the one
// the fake Telegram delivers to, with its secret.
func TestSetWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	if err := telegram.Register(t.Context(), e.sender.Bot, e.srv.URL+"/", "bad secret!"); err == nil {
		t.Fatal("Register took a secret Telegram refuses")
	}
	if err := telegram.Register(t.Context(), e.sender.Bot, e.srv.URL+"/", secret); err != nil {
		t.Fatal(err)
	}
	if url, sec := e.fake.Webhook(); url != e.url || sec != secret {
		t.Fatalf("webhook %q %q", url, sec)
	}
	if code, err := e.fake.Deliver(e.fake.TextUpdate(1001, "HELP")); err != nil || code != http.StatusOK {
		t.Fatalf("Deliver = %d %v", code, err)
	}
	if n := channeltest.Count(e.Timeline("p-1"), "message.in"); n != 1 {
		t.Fatalf("%d message.in events", n)
	}
}

func TestSenderClassifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entry := store.OutboxEntry{ID: "0001", PatientID: "p-1", Channel: telegram.Channel, To: "1001", Text: "hi"}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	other := func(token, url string) *telegram.Sender {
		b, err := telegram.NewBot(token, url)
		if err != nil {
			t.Fatal(err)
		}
		return &telegram.Sender{Bot: b}
	}
	type class int
	const (
		ok class = iota
		retry
		unreachable
		permanent
		unknown
		auth
	)
	for _, tc := range []struct {
		name       string
		setup      func()
		sender     *telegram.Sender
		want       class
		code       int
		retryAfter time.Duration
	}{
		{"sent", nil, nil, ok, 0, 0},
		{"403 blocked", func() { e.fake.FailChat(1001, telegramtest.Blocked) }, nil, unreachable, 403, 0},
		{"429 retry_after", func() { e.fake.RateLimitNext(1, 7) }, nil, retry, 429, 7 * time.Second},
		{"500", func() { e.fake.FailNext(telegramtest.ServerError, 1) }, nil, retry, 500, 0},
		{"502 HTML page", func() { e.fake.FailNext(telegramtest.BadGateway, 1) }, nil, retry, 502, 0},
		{"connection dropped mid-request", func() { e.fake.FailNext(telegramtest.Drop, 1) }, nil, unknown, 0, 0},
		{"connection refused", nil, other(e.fake.Token, closed.URL), retry, 0, 0},
		{"401 wrong token", nil, other("123:wrong", e.fake.URL), auth, 401, 0},
		{"400 chat not found", func() { e.fake.FailChat(1001, telegramtest.ChatNotFound) }, nil, permanent, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.FailChat(1001, telegramtest.OK)
			if tc.setup != nil {
				tc.setup()
			}
			s := tc.sender
			if s == nil {
				s = e.sender
			}
			id, status, err := s.Send(t.Context(), entry)
			if tc.want == ok {
				if _, perr := strconv.Atoi(id); err != nil || perr != nil || status != "sent" {
					t.Fatalf("Send = %q %q %v", id, status, err)
				}
				return
			}
			is := map[class]bool{
				retry:       errors.Is(err, channels.ErrRetry),
				unreachable: errors.Is(err, channels.ErrUnreachable),
				unknown:     errors.Is(err, channels.ErrUnknownOutcome),
				auth:        errors.Is(err, channels.ErrAuth),
			}
			is[permanent] = err != nil && !is[retry] && !is[unreachable] && !is[unknown] && !is[auth] && !errors.Is(err, channels.ErrOptedOut)
			for c, yes := range is {
				if yes != (c == tc.want) {
					t.Fatalf("err %v: class %d is %v, want class %d", err, c, yes, tc.want)
				}
			}
			var se *channels.SendError
			if !errors.As(err, &se) || se.Code != tc.code || se.RetryAfter != tc.retryAfter {
				t.Fatalf("err %#v, want a SendError with code %d, retry after %v", err, tc.code, tc.retryAfter)
			}
			if strings.Contains(err.Error(), e.fake.Token) {
				t.Fatalf("error text carries the bot token: %v", err)
			}
		})
	}
	if msgs := e.fake.Messages(); len(msgs) != 1 || msgs[0].Chat != 1001 || msgs[0].Text != "hi" || len(msgs[0].Buttons) != 0 {
		t.Fatalf("messages %+v, want the one sent", msgs)
	}
}

func TestSenderLayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	labels := []string{"Yes, I took it", "Not yet"}
	for _, tc := range []struct {
		name    string
		entry   store.OutboxEntry
		text    string
		buttons []telegramtest.Button
	}{
		{"buttons", store.OutboxEntry{Text: "Did you take it?", Labels: labels, Choices: []string{"taken", "not_yet"}, Step: 3},
			"Did you take it?", []telegramtest.Button{{Text: labels[0], Data: "taken:3"}, {Text: labels[1], Data: "not_yet:3"}}},
		{"labels without choice ids: numbered lines", store.OutboxEntry{Text: "Did you take it?", Labels: labels},
			"Did you take it?\n1 Yes, I took it\n2 Not yet", nil},
		{"callback data over 64 bytes: numbered lines", store.OutboxEntry{Text: "Q", Labels: labels[:1], Choices: []string{strings.Repeat("c", 62)}, Step: 12},
			"Q\n1 Yes, I took it", nil},
		{"plain text", store.OutboxEntry{Text: "Thanks!\n1 is a number"}, "Thanks!\n1 is a number", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.entry.Channel, tc.entry.To = telegram.Channel, "4242"
			id, _, err := e.sender.Send(t.Context(), tc.entry)
			if err != nil {
				t.Fatal(err)
			}
			m := e.last(4242)
			if strconv.Itoa(m.ID) != id || m.Text != tc.text || fmt.Sprint(m.Buttons) != fmt.Sprint(tc.buttons) {
				t.Fatalf("sent %+v (id %s), want text %q buttons %v", m, id, tc.text, tc.buttons)
			}
		})
	}
	if _, _, err := e.sender.Send(t.Context(), store.OutboxEntry{Channel: telegram.Channel, Text: "hi"}); err == nil || errors.Is(err, channels.ErrRetry) {
		t.Fatalf("no chat: %v, want a permanent failure", err)
	}
}

// TestDispatcherBlocked: through the real dispatcher, a 403 marks Telegram
// unreachable for the patient.
func TestDispatcherBlocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enrollLinked("p-1", 1001, "en")
	e.fake.FailChat(1001, telegramtest.Blocked)
	if err := e.Runner.StartFlow(t.Context(), "p-1", "med-reminder", []conversations.Param{{Key: "medication", Value: "lisinopril"}}); err != nil {
		t.Fatal(err)
	}
	d := &channels.Dispatcher{Outbox: e.Store, Consent: e.Runner, Clock: e.Clock.Now, Quiet: e.Runner.Quiet, Log: e.Runner.Log,
		Senders: map[string]channels.Sender{telegram.Channel: e.sender}, Specs: channels.Specs{telegram.Spec}}
	if n := d.Step(t.Context()); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	c, err := e.Runner.Contact(t.Context(), "p-1")
	if err != nil || !c.Unreachable.Has(conversations.Telegram) {
		t.Fatalf("contact %+v %v, want Telegram unreachable", c, err)
	}
	outs := channeltest.Of(e.Timeline("p-1"), "message.out")
	if last := outs[len(outs)-1]; last.Status != "failed" || last.ErrorCode != 403 {
		t.Fatalf("reminder event %+v, want failed 403", last)
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	links := &telegram.Links{Codes: e.Runner, BotUsername: telegramtest.BotUsername, TTL: time.Hour}
	if _, _, err := links.Create(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link for an unknown patient: %v", err)
	}
	e.enroll("p-1", "+15551230001")
	seen := map[string]bool{}
	for range 20 {
		url, expires, err := links.Create(ctx, "p-1")
		if err != nil {
			t.Fatal(err)
		}
		m := codeRE.FindStringSubmatch(url)
		if m == nil || len(m[1]) < 32 || seen[m[1]] || !expires.Equal(channeltest.T0.Add(time.Hour)) {
			t.Fatalf("link %q expiring %v", url, expires)
		}
		seen[m[1]] = true
	}
}
