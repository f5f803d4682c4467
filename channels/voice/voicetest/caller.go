package voicetest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"
)

// Node is an XML element of a TwiML document, as parsed.
type Node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []Node     `xml:",any"`
}

// Name is the element's name (Say, Gather, ...).
func (n *Node) Name() string { return n.XMLName.Local }

// Attr returns an attribute's value, "" when absent.
func (n *Node) Attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// AllText is the element's text with its children's, as a <Say> speaks it.
func (n *Node) AllText() string {
	var b strings.Builder
	var walk func(*Node)
	walk = func(n *Node) {
		b.WriteString(n.Text)
		for i := range n.Children {
			walk(&n.Children[i])
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// Find returns the first element named name in a depth-first walk.
func (n *Node) Find(name string) *Node {
	if n.Name() == name {
		return n
	}
	for i := range n.Children {
		if f := n.Children[i].Find(name); f != nil {
			return f
		}
	}
	return nil
}

// Parse parses a TwiML document.
func Parse(doc []byte) (*Node, error) {
	var n Node
	if err := xml.Unmarshal(doc, &n); err != nil {
		return nil, err
	}
	if n.Name() != "Response" {
		return nil, fmt.Errorf("voicetest: root element %q, want Response", n.Name())
	}
	return &n, nil
}

// Speech is one <Say> the caller heard.
type Speech struct {
	Text     string
	Voice    string
	Language string
	// Rate is the SSML <prosody> rate, "" at normal speed.
	Rate string
}

// Step is one webhook request of a call and Tend's answer.
type Step struct {
	// Action says what led to the request: "call", "answer", "press 1",
	// "silence", "redirect", "dial no-answer", ...
	Action string
	URL    string
	Status int
	// TwiML is the parsed answer; nil when Status is not 200.
	TwiML *Node
}

// Caller is one call in progress, followed the way Twilio follows TwiML:
// <Say> is heard, <Play> fetched (GET) and heard, <Gather> waits for Press or Silence, <Redirect> fetches
// the next document, <Dial> waits for DialResult, <Hangup> and the end of
// a document end the call.
type Caller struct {
	t      testing.TB
	client *http.Client
	token  string
	params url.Values // the call's own parameters, sent with every request
	onEnd  func()

	// Steps is every request of the call so far.
	Steps []Step
	// Heard is everything said so far, in order.
	Heard []Speech

	verbs []Node // the rest of the current document
	doc   string // the current document's URL
	wait  *Node  // the <Gather> or <Dial> waiting for the test
	ended bool
}

// maxHops bounds requests without any input from the test: a redirect loop
// is a bug.
const maxHops = 20

func (c *Caller) start(action, target string) {
	c.t.Helper()
	c.request(action, target, nil)
	c.run()
}

// request posts to target and replaces the current document with the
// answer. A non-200 answer ends the call, as Twilio's "application error"
// does.
func (c *Caller) request(action, target string, extra url.Values) {
	c.t.Helper()
	form := url.Values{}
	for k, v := range c.params {
		form[k] = v
	}
	for k, v := range extra {
		form[k] = v
	}
	step := Step{Action: action, URL: target}
	req, err := SignedRequest(target, c.token, form)
	if err != nil {
		c.t.Fatalf("voicetest: %s: %v", action, err)
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("voicetest: %s: %v", action, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.t.Fatalf("voicetest: %s: reading the answer: %v", action, err)
	}
	step.Status = res.StatusCode
	c.verbs, c.doc, c.wait = nil, target, nil
	if res.StatusCode == http.StatusOK {
		doc, err := Parse(body)
		if err != nil {
			c.t.Fatalf("voicetest: %s: %v\n%s", action, err, body)
		}
		step.TwiML = doc
		c.verbs = doc.Children
	}
	c.Steps = append(c.Steps, step)
	if res.StatusCode != http.StatusOK {
		c.end()
	}
}

func (c *Caller) end() {
	if c.ended {
		return
	}
	c.ended = true
	c.verbs, c.wait = nil, nil
	if c.onEnd != nil {
		c.onEnd()
	}
}

// resolve makes a verb's URL absolute against the current document's; an
// empty one is the current document, as on Twilio.
func (c *Caller) resolve(ref string) string {
	base, err := url.Parse(c.doc)
	if err != nil || ref == "" {
		return c.doc
	}
	u, err := base.Parse(ref)
	if err != nil {
		c.t.Fatalf("voicetest: bad URL %q: %v", ref, err)
	}
	return u.String()
}

func (c *Caller) hear(n *Node) {
	s := Speech{Text: n.AllText(), Voice: n.Attr("voice"), Language: n.Attr("language")}
	if p := n.Find("prosody"); p != nil {
		s.Rate = p.Attr("rate")
	}
	c.Heard = append(c.Heard, s)
}

// play fetches a <Play>'s recording as Twilio does, unsigned, and hears
// it as "play NAME" (the URL's last element). A recording that cannot be
// fetched fails the test: Twilio would play an error in its place.
func (c *Caller) play(n *Node) {
	c.t.Helper()
	u := strings.TrimSpace(n.Text)
	res, err := c.client.Get(u)
	if err != nil {
		c.t.Fatalf("voicetest: <Play> %s: %v", u, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(body) == 0 {
		c.t.Fatalf("voicetest: <Play> %s: HTTP %d, %d bytes", u, res.StatusCode, len(body))
	}
	c.Heard = append(c.Heard, Speech{Text: "play " + path.Base(u)})
}

// run follows the current document until it waits for the test or ends.
func (c *Caller) run() {
	c.t.Helper()
	for hops := 0; !c.ended; {
		if len(c.verbs) == 0 {
			c.end() // Twilio hangs up at the end of a document
			return
		}
		v := c.verbs[0]
		c.verbs = c.verbs[1:]
		switch v.Name() {
		case "Say":
			c.hear(&v)
		case "Play":
			c.play(&v)
		case "Pause":
		case "Gather":
			for i := range v.Children {
				switch v.Children[i].Name() {
				case "Say":
					c.hear(&v.Children[i])
				case "Play":
					c.play(&v.Children[i])
				}
			}
			c.wait = &v
			return
		case "Dial":
			c.wait = &v
			return
		case "Redirect":
			if hops++; hops > maxHops {
				c.t.Fatalf("voicetest: %d redirects without input", hops)
			}
			c.request("redirect", c.resolve(strings.TrimSpace(v.Text)), nil)
		case "Hangup", "Reject":
			c.end()
		default:
			c.t.Fatalf("voicetest: unexpected verb <%s>", v.Name())
		}
	}
}

// Ended reports whether the call is over.
func (c *Caller) Ended() bool { return c.ended }

// Waiting returns the verb waiting for the test: "Gather", "Dial" or "".
func (c *Caller) Waiting() string {
	if c.wait == nil {
		return ""
	}
	return c.wait.Name()
}

// Gather returns the <Gather> waiting for a key, nil when none waits.
func (c *Caller) Gather() *Node {
	if c.wait == nil || c.wait.Name() != "Gather" {
		return nil
	}
	return c.wait
}

// Dialing returns the <Dial> waiting for its outcome, nil when none waits.
func (c *Caller) Dialing() *Node {
	if c.wait == nil || c.wait.Name() != "Dial" {
		return nil
	}
	return c.wait
}

// Press presses a key at the waiting <Gather>: its action gets Digits.
func (c *Caller) Press(digits string) {
	c.t.Helper()
	g := c.Gather()
	if g == nil {
		c.t.Fatalf("voicetest: pressed %s with no <Gather> waiting (ended=%v)", digits, c.ended)
	}
	if n := g.Attr("numDigits"); n != "" && n != fmt.Sprint(len(digits)) {
		c.t.Fatalf("voicetest: pressed %q at a <Gather numDigits=%s>", digits, n)
	}
	c.request("press "+digits, c.resolve(g.Attr("action")), url.Values{"Digits": {digits}})
	c.run()
}

// Speak says words at the waiting <Gather>, as Twilio's recognizer heard
// them: its action gets SpeechResult and no Digits. The <Gather> must take
// speech (input holds "speech"), or Twilio would not listen.
func (c *Caller) Speak(words string) {
	c.t.Helper()
	g := c.Gather()
	if g == nil {
		c.t.Fatalf("voicetest: said %q with no <Gather> waiting (ended=%v)", words, c.ended)
	}
	if !strings.Contains(g.Attr("input"), "speech") {
		c.t.Fatalf("voicetest: said %q at a <Gather input=%q> that does not listen", words, g.Attr("input"))
	}
	c.request("say "+words, c.resolve(g.Attr("action")), url.Values{"SpeechResult": {words}, "Confidence": {"0.9"}})
	c.run()
}

// Silence lets the waiting <Gather> time out: Twilio goes on with the next
// verb (or posts the action without digits when actionOnEmptyResult).
func (c *Caller) Silence() {
	c.t.Helper()
	g := c.Gather()
	if g == nil {
		c.t.Fatalf("voicetest: silent with no <Gather> waiting (ended=%v)", c.ended)
	}
	c.wait = nil
	if g.Attr("actionOnEmptyResult") == "true" {
		c.request("silence", c.resolve(g.Attr("action")), url.Values{"Digits": {""}})
	} else {
		c.Steps = append(c.Steps, Step{Action: "silence"})
	}
	c.run()
}

// DialResult ends the waiting <Dial> with a DialCallStatus: "completed"
// (someone answered and talked), "no-answer", "busy" or "failed". Its
// action, if any, is posted; otherwise the document goes on.
func (c *Caller) DialResult(status string) {
	c.t.Helper()
	d := c.Dialing()
	if d == nil {
		c.t.Fatalf("voicetest: dial result with no <Dial> waiting (ended=%v)", c.ended)
	}
	c.wait = nil
	if a := d.Attr("action"); a != "" {
		c.request("dial "+status, c.resolve(a), url.Values{"DialCallStatus": {status}, "DialCallSid": {"CA" + randomHex(16)}})
	} else {
		c.Steps = append(c.Steps, Step{Action: "dial " + status})
	}
	c.run()
}

// Said returns the texts heard, in order.
func (c *Caller) Said() []string {
	out := make([]string, len(c.Heard))
	for i, s := range c.Heard {
		out[i] = s.Text
	}
	return out
}

// LastStatus is the HTTP status of the call's last request.
func (c *Caller) LastStatus() int {
	for i := len(c.Steps) - 1; i >= 0; i-- {
		if c.Steps[i].URL != "" {
			return c.Steps[i].Status
		}
	}
	return 0
}

// Transcript renders every step of the call: what led to it and Tend's
// TwiML answer (see Render), with base (Tend's URL) cut from URLs.
func (c *Caller) Transcript(base string) string {
	var b strings.Builder
	for _, s := range c.Steps {
		fmt.Fprintf(&b, "== %s\n", s.Action)
		switch {
		case s.URL == "":
		case s.Status != http.StatusOK:
			fmt.Fprintf(&b, "HTTP %d\n", s.Status)
		default:
			b.WriteString(Render(s.TwiML, base))
		}
	}
	return b.String()
}

// Render writes a TwiML document as stable, readable text: one verb a
// line, nested verbs indented, attributes sorted by name, URLs without
// base and with their query sorted, Say text quoted. Attribute order in
// the XML does not matter.
func Render(doc *Node, base string) string {
	var b bytes.Buffer
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.Name())
		attrs := append([]xml.Attr(nil), n.Attrs...)
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name.Local < attrs[j].Name.Local })
		for _, a := range attrs {
			fmt.Fprintf(&b, " %s=%s", a.Name.Local, cleanURL(a.Value, base))
		}
		switch n.Name() {
		case "Say":
			rate := ""
			if p := n.Find("prosody"); p != nil {
				rate = " (rate " + p.Attr("rate") + ")"
			}
			fmt.Fprintf(&b, "%s %q\n", rate, n.AllText())
			return
		default:
			if t := strings.TrimSpace(n.Text); t != "" {
				fmt.Fprintf(&b, " %s", cleanURL(t, base))
			}
		}
		b.WriteString("\n")
		for i := range n.Children {
			walk(&n.Children[i], depth+1)
		}
	}
	for i := range doc.Children {
		walk(&doc.Children[i], 0)
	}
	return b.String()
}

func cleanURL(v, base string) string {
	if base == "" || !strings.HasPrefix(v, base) {
		return v
	}
	u, err := url.Parse(strings.TrimPrefix(v, base))
	if err != nil {
		return v
	}
	if q := u.Query(); len(q) > 0 {
		return u.Path + "?" + q.Encode()
	}
	return u.Path
}
