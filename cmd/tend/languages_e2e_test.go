package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/sms/smstest"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/store"
)

// TestEveryLanguageEndToEnd: through the real binary, one patient per
// bundled language on SMS and one on voice are enrolled through the API
// and get a med-reminder; each hears the question in their own language,
// answers "taken" (a reply of 1, a key press of 1) and is thanked in it.
// Nothing falls back to English.
func TestEveryLanguageEndToEnd(t *testing.T) {
	t.Parallel()
	pack, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	tw := newChTwilio(t)
	const voiceFrom = "+15550000009"
	srv := startTend(t, "", t.TempDir(), tw.msgs, "TEND_TWILIO_API_URL="+tw.URL, "TEND_VOICE_FROM="+voiceFrom)
	text := func(lang, id string) string {
		t.Helper()
		data := map[string]any{}
		if id == "med.ask" {
			data["Medication"], _ = pack.Catalog.Text(lang, content.MsgGenericMedication, nil, nil)
		}
		s, err := pack.Catalog.Text(lang, id, data, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", lang, id, err)
		}
		return s
	}
	type patient struct{ id, phone, lang string }
	var smsPatients, voicePatients []patient
	for i, lang := range pack.Languages {
		smsPatients = append(smsPatients, patient{"p-sms-" + lang, fmt.Sprintf("+1555125%04d", i), lang})
		voicePatients = append(voicePatients, patient{"p-voice-" + lang, fmt.Sprintf("+1555126%04d", i), lang})
	}
	enroll := func(p patient, channel string) {
		srv.api(http.MethodPost, "/patients", map[string]any{"id": p.id, "phone": p.phone, "language": p.lang,
			"timezone": "America/Chicago", "programs": []string{"hypertension"}, "channels": []string{channel},
			"medications": []map[string]any{{"id": "lisinopril", "display": "lisinopril 10 mg", "times": []string{"08:00"}}}},
			http.StatusCreated, nil)
	}
	var ids []string
	for _, p := range smsPatients {
		enroll(p, "sms")
		ids = append(ids, p.id)
	}
	for _, p := range voicePatients {
		enroll(p, "voice")
		ids = append(ids, p.id)
	}
	srv.api(http.MethodPost, "/flow-starts", map[string]any{"flow": "med-reminder", "patients": ids,
		"params": map[string]string{"medication": "lisinopril"}}, http.StatusAccepted, nil)

	taken := func(p patient) {
		t.Helper()
		chTimeline(t, srv, p.id, p.lang+" thanks and adherence taken", func(evs []store.Event) bool {
			return slices.ContainsFunc(evs, func(ev store.Event) bool { return ev.Type == "message.out" && ev.Message == "med.thanks" }) &&
				slices.ContainsFunc(evs, func(ev store.Event) bool { return ev.Type == "adherence" && ev.Status == "taken" })
		})
	}
	for _, p := range smsPatients {
		msgs := waitTo(t, tw.msgs, p.phone, 2) // the welcome, the reminder
		if !strings.HasPrefix(msgs[1].Body, text(p.lang, "med.ask")) || !strings.Contains(msgs[1].Body, text(p.lang, "med.choice.taken")) {
			t.Errorf("%s reminder %q, want it to start with %q", p.lang, msgs[1].Body, text(p.lang, "med.ask"))
		}
		res := smstest.PostInbound(t, srv.URL, srv.URL, tw.msgs.AuthToken, p.phone, "1", sid())
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s inbound: status %d", p.lang, res.StatusCode)
		}
		if msgs := waitTo(t, tw.msgs, p.phone, 3); msgs[2].Body != text(p.lang, "med.thanks") {
			t.Errorf("%s after 1: %q, want %q", p.lang, msgs[2].Body, text(p.lang, "med.thanks"))
		}
		taken(p)
	}
	// A number carries a few calls at once (voice.DefaultMaxCalls): answer
	// every call as it comes: the welcome and the reminder, in either
	// order.
	byPhone := map[string]patient{}
	for _, p := range voicePatients {
		byPhone[p.phone] = p
	}
	answered := map[string]int{} // phone → calls answered
	handled := map[string]bool{} // call SIDs
	deadline := time.Now().Add(2 * time.Minute)
	for done := 0; done < len(voicePatients); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d voice patients reached taken; calls answered %v", done, len(voicePatients), answered)
		}
		progress := false
		for _, call := range tw.calls.Calls() {
			p, ok := byPhone[call.To]
			if !ok || handled[call.SID] {
				continue
			}
			handled[call.SID], progress = true, true
			answered[call.To]++
			c := tw.calls.Answer(t, call, voicetest.Human)
			if !slices.Contains(c.Said(), text(p.lang, "med.ask")) {
				// The welcome (the reminder may come first: it has the
				// higher priority), or the welcome again when a loaded
				// machine let its first call ring out.
				continue
			}
			if c.Gather() == nil {
				t.Fatalf("%s reminder call: heard %q and no question waits", p.lang, c.Said())
			}
			c.Press("1")
			if !slices.Contains(c.Said(), text(p.lang, "med.thanks")) {
				t.Errorf("%s after pressing 1: heard %q, want %q", p.lang, c.Said(), text(p.lang, "med.thanks"))
			}
			taken(p)
			done++
		}
		if !progress {
			time.Sleep(50 * time.Millisecond)
		}
	}
}
