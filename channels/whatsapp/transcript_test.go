package whatsapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/internal/golden"
)

// flowStarts are the parameters each default flow is started with; a flow
// missing here fails the test, so a new flow gets its transcripts.
var flowStarts = map[string][]conversations.Param{
	"welcome":              nil,
	"med-reminder":         {{Key: "medication", Value: "lisinopril"}},
	"refill-reminder":      {{Key: "medication", Value: "lisinopril"}, {Key: "date", Value: "2026-03-10"}},
	"appointment-reminder": {{Key: "appointment", Value: "a1"}, {Key: "date", Value: "2026-03-04"}, {Key: "time", Value: "10:30"}},
	"hf-daily-weight":      nil,
	"bp-measuring":         nil,
	"why-take-pills":       nil,
	"rule-of-15":           nil,
	"foot-checks":          nil,
	"salt-and-fluids":      nil,
	"stroke-signs":         nil,
	"confirm-bp":           nil,
	"confirm-bp-low":       nil,
	"confirm-glucose-high": nil,
	"confirm-glucose-low":  nil,
	"confirm-hr":           nil,
	"confirm-spo2":         nil,
	"confirm-weight":       nil,
	"check-in":             nil,
}

// firstVars are the placeholders of each flow's first message, in the
// order the test's templates take them as variables.
var firstVars = map[string][]string{
	"welcome.body":             {"Program"},
	"med.ask":                  {"Medication"},
	"refill.ask":               {"Medication", "Date"},
	"appt.ask":                 {"Date", "Time"},
	"weight.lesson.how":        nil,
	"bpm.lesson.before":        nil,
	"pills.lesson.why":         nil,
	"r15.lesson.treat":         nil,
	"feet.lesson.look":         nil,
	"salt.lesson.why":          nil,
	"stroke.lesson.signs":      nil,
	"checkin.ask":              nil,
	"confirm.bp.ask":           nil,
	"confirm.bp_low.ask":       nil,
	"confirm.weight.ask":       nil,
	"confirm.glucose_low.ask":  nil,
	"confirm.glucose_high.ask": nil,
	"confirm.spo2.ask":         nil,
	"confirm.hr.ask":           nil,
}

// transcriptPack is the default pack with the test's quick replies and, for
// every flow's first message that the bundled channels.yaml does not map,
// a template ("HXtemplate_<message>_<lang>"). It returns the message each
// template stands for.
func transcriptPack(t *testing.T) (*content.Pack, map[string]string) {
	t.Helper()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	pack.WhatsApp.QuickReply = quickReplies
	templates := map[string]map[string]content.Template{}
	for msg, langs := range pack.WhatsApp.Templates {
		templates[msg] = map[string]content.Template{}
		for lang, tpl := range langs {
			templates[msg][lang] = tpl
		}
	}
	for _, f := range pack.Flows {
		first := f.States[f.Start].Say
		vars, ok := firstVars[first]
		if !ok {
			t.Fatalf("flow %s starts with %s: add its placeholders to firstVars", f.ID, first)
		}
		if templates[first] == nil {
			templates[first] = map[string]content.Template{}
		}
		for _, lang := range pack.Languages {
			if _, ok := templates[first][lang]; !ok {
				templates[first][lang] = content.Template{Sid: "HXtemplate_" + first + "_" + lang, Variables: vars}
			}
		}
	}
	pack.WhatsApp.Templates = templates
	messages := map[string]string{}
	for msg, langs := range templates {
		for _, tpl := range langs {
			messages[tpl.Sid] = msg
		}
	}
	return pack, messages
}

// skips records the dispatcher's "channel skipped" log lines by message, so
// a transcript can say why a message went on SMS.
type skips struct {
	mu    sync.Mutex
	byMsg map[string][]string
}

func (s *skips) Enabled(context.Context, slog.Level) bool { return true }
func (s *skips) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *skips) WithGroup(string) slog.Handler            { return s }
func (s *skips) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "channel skipped" {
		return nil
	}
	var msg, ch, why string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "message":
			msg = a.Value.String()
		case "channel":
			ch = a.Value.String()
		case "reason":
			why = a.Value.String()
		}
		return true
	})
	s.mu.Lock()
	s.byMsg[msg] = append(s.byMsg[msg], ch+": "+why)
	s.mu.Unlock()
	return nil
}

func (s *skips) take(msg string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.byMsg[msg]
	delete(s.byMsg, msg)
	return out
}

// transcript drives one flow for a patient whose chain is WhatsApp then
// SMS, through the webhooks, the dispatcher and the fake Twilio, and writes
// what Twilio received and what the patient answered.
type transcript struct {
	t        *testing.T
	e        *env
	skips    *skips
	messages map[string]string // template sid → message id
	lang     string
	seen     int // fake messages already written
	b        strings.Builder
}

func (d *transcript) now() string {
	loc, _ := time.LoadLocation("America/Chicago")
	return d.e.Clock.Now().In(loc).Format("Mon 15:04")
}

// flush sends what is due and writes what reached Twilio.
func (d *transcript) flush() {
	d.t.Helper()
	d.e.drain()
	msgs := d.e.fake.Messages()
	for _, m := range msgs[d.seen:] {
		d.write(m)
	}
	d.seen = len(msgs)
}

func (d *transcript) write(m smstest.Message) {
	ch := "sms"
	if strings.HasPrefix(m.To, "whatsapp:") {
		ch = "whatsapp"
	}
	for _, why := range d.skips.take(m.CallbackParam("o")) {
		fmt.Fprintf(&d.b, "%s (not sent on %s)\n", d.now(), why)
	}
	if m.ContentSid == "" {
		fmt.Fprintf(&d.b, "%s tend (%s): %s\n", d.now(), ch, strings.ReplaceAll(m.Body, "\n", "\n      "))
		return
	}
	kind := "template"
	if slices.Contains(mapsValues(quickReplies), m.ContentSid) {
		kind = "quick reply"
	}
	fmt.Fprintf(&d.b, "%s tend (%s): [%s %s]\n", d.now(), ch, kind, m.ContentSid)
	vars := m.Variables()
	for i := 1; i <= len(vars); i++ {
		fmt.Fprintf(&d.b, "      {{%d}} %s\n", i, vars[fmt.Sprint(i)])
	}
}

func mapsValues(m map[int]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// answer answers the waiting question with its first choice, the way the
// patient would on the message that asked it: a quick-reply or template
// button, or "1" typed on WhatsApp or SMS. It reports false when nothing
// waits.
func (d *transcript) answer() bool {
	d.t.Helper()
	rep, err := d.e.Runner.Prompt(d.t.Context(), "p-1")
	if err != nil {
		d.t.Fatal(err)
	}
	if len(rep.Messages) == 0 {
		return false
	}
	q := rep.Messages[0]
	msgs := d.e.fake.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		vars := m.Variables()
		switch {
		case slices.Contains(mapsValues(quickReplies), m.ContentSid):
			n := (len(vars) - 1) / 2
			label, payload := vars["2"], vars[fmt.Sprint(n+2)]
			fmt.Fprintf(&d.b, "%s you (whatsapp): [button %q, payload %s]\n", d.now(), label, payload)
			d.check(d.e.press(patientPhone, label, payload))
			return true
		case m.ContentSid != "":
			// An approved template's buttons carry the choice ids fixed at
			// approval: the first choice of the state it asks.
			if id, label, ok := d.templateButton(d.messages[m.ContentSid]); ok {
				fmt.Fprintf(&d.b, "%s you (whatsapp): [button %q, payload %s]\n", d.now(), label, id)
				d.check(d.e.press(patientPhone, label, id))
				return true
			}
		case m.Body == "" || !strings.HasSuffix(m.Body, conversations.Numbered("", q.Labels)) && m.Body != q.Text:
			// Not the question.
		case strings.HasPrefix(m.To, "whatsapp:"):
			fmt.Fprintf(&d.b, "%s you (whatsapp): 1\n", d.now())
			d.check(d.e.write(patientPhone, "1"))
			return true
		default:
			// On SMS (a fallback), where the patient types the number.
			fmt.Fprintf(&d.b, "%s you (sms): 1\n", d.now())
			res := smstest.PostInbound(d.t, d.e.srv.URL, d.e.srv.URL, d.e.fake.AuthToken, patientPhone, "1", d.e.sid())
			d.check(res.StatusCode)
			return true
		}
	}
	d.t.Fatalf("no message at Twilio asks the waiting question %q", q.Text)
	return false
}

func (d *transcript) check(status int) {
	d.t.Helper()
	if status != http.StatusOK {
		d.t.Fatalf("webhook answered %d", status)
	}
}

// templateButton is the first choice (id and label) of the state that asks
// message.
func (d *transcript) templateButton(message string) (id, label string, ok bool) {
	for _, f := range d.e.Pack.Flows {
		for _, st := range f.States {
			if st.Say == message && len(st.Choices) > 0 {
				c := st.Choices[0]
				label, _ := d.e.Pack.Catalog.Text(d.lang, c.Label, nil, nil)
				return c.ID, label, true
			}
		}
	}
	return "", "", false
}

// TestTranscripts runs every default flow, in every bundled language, on
// WhatsApp inside the window (the patient wrote a moment ago: free text and
// quick replies) and outside it (templates; a message without one goes on
// SMS), answering each question with its first choice until the flow ends.
// Golden files: testdata/<lang>/<in-window|outside-window>/<flow>.txt
// (go test ./channels/whatsapp -update rewrites them).
func TestTranscripts(t *testing.T) {
	pack, messages := transcriptPack(t)
	var flows []string
	for id := range pack.Flows {
		if _, ok := flowStarts[id]; !ok {
			t.Fatalf("flow %s has no entry in flowStarts", id)
		}
		flows = append(flows, id)
	}
	slices.Sort(flows)
	for _, lang := range pack.Languages {
		for _, window := range []string{"in-window", "outside-window"} {
			for _, flow := range flows {
				t.Run(lang+"/"+window+"/"+flow, func(t *testing.T) {
					t.Parallel()
					got := runTranscript(t, pack, messages, lang, window == "in-window", flow)
					file := filepath.Join("testdata", lang, window, flow+".txt")
					golden.Compare(t, file, got)
				})
			}
		}
	}
}

func runTranscript(t *testing.T, pack *content.Pack, messages map[string]string, lang string, inWindow bool, flow string) string {
	sk := &skips{byMsg: map[string][]string{}}
	e := newEnv(t, pack, slog.New(sk))
	for sid := range messages {
		e.fake.ApproveTemplates(sid)
	}
	d := &transcript{t: t, e: e, skips: sk, messages: messages, lang: lang}
	e.enroll("p-1", patientPhone, lang)
	e.drain()
	d.seen = len(e.fake.Messages())
	sk.mu.Lock()
	sk.byMsg = map[string][]string{} // the enrollment's
	sk.mu.Unlock()
	e.Clock.Add(25 * time.Hour)

	window := "closed: the patient last wrote over 24 hours ago"
	if inWindow {
		window = "open: the patient wrote a moment ago"
	}
	fmt.Fprintf(&d.b, "# %s on WhatsApp, then SMS; language %s; window %s\n", flow, lang, window)
	if inWindow {
		fmt.Fprintf(&d.b, "%s you (whatsapp): hello\n", d.now())
		d.check(e.write(patientPhone, "hello"))
		d.flush()
	}
	line := "start " + flow
	for _, p := range flowStarts[flow] {
		line += " " + p.Key + "=" + p.Value
	}
	fmt.Fprintf(&d.b, "%s -- %s\n", d.now(), line)
	e.start("p-1", flow, flowStarts[flow]...)
	d.flush()
	for range 10 {
		if !d.answer() {
			fmt.Fprintf(&d.b, "%s -- nothing waits\n", d.now())
			return d.b.String()
		}
		d.flush()
	}
	t.Fatalf("%s did not end after 10 answers:\n%s", flow, d.b.String())
	return ""
}
