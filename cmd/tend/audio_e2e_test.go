package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/channels/channeltest"
	"github.com/tendcare/tend/channels/voice/voicetest"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/store"
)

// writePack writes the bundled pack's own files (the catalogs come from
// the binary) and then top's over them into a folder, as a clinic's pack.
func writePack(t *testing.T, top fs.FS) string {
	t.Helper()
	dir := t.TempDir()
	for _, src := range []fs.FS{content.Default(), top} {
		err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(src, name)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRecordedAudioEndToEnd: a clinic records Haitian Creole (no Twilio
// voice speaks it) in its pack's audio folder. Lint and tend content audio
// find nothing missing; through the real binary a patient's med-reminder
// call plays the recordings Tend serves (the fake caller fetches each),
// and pressing 1 records the dose taken.
func TestRecordedAudioEndToEnd(t *testing.T) {
	t.Parallel()
	dir := writePack(t, channeltest.Recorded(t, "ht"))
	var out bytes.Buffer
	if err := lintCmd([]string{dir}, &out); err != nil || strings.Contains(out.String(), "recordings missing") || strings.Contains(out.String(), "recordings for ht") {
		t.Fatalf("lint of the recorded pack: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := audioCmd([]string{"ht", dir}, &out); err != nil || !strings.Contains(out.String(), "ht: 270 recordings, 0 missing") {
		t.Errorf("tend content audio ht: %v\n%s", err, out.String())
	}
	tw := newChTwilio(t)
	srv := startTend(t, "", t.TempDir(), tw.msgs, "TEND_TWILIO_API_URL="+tw.URL, "TEND_VOICE_FROM=+15550000009", "TEND_CONTENT_DIR="+dir)
	const phone = "+15551279001"
	srv.api(http.MethodPost, "/patients", map[string]any{"id": "p-ht", "phone": phone, "language": "ht",
		"timezone": "America/Chicago", "programs": []string{"hypertension"}, "channels": []string{"voice"},
		"medications": []map[string]any{{"id": "lisinopril", "display": "lisinopril 10 mg", "times": []string{"08:00"}}}}, http.StatusCreated, nil)
	srv.api(http.MethodPost, "/flow-starts", map[string]any{"flow": "med-reminder", "patients": []string{"p-ht"},
		"params": map[string]string{"medication": "lisinopril"}}, http.StatusAccepted, nil)
	handled := map[string]bool{}
	for deadline := time.Now().Add(time.Minute); ; {
		if time.Now().After(deadline) {
			t.Fatal("no reminder call answered")
		}
		var c *voicetest.Caller
		for _, call := range tw.calls.Calls() {
			if call.To == phone && !handled[call.SID] {
				handled[call.SID] = true
				c = tw.calls.Answer(t, call, voicetest.Human)
				break
			}
		}
		if c == nil || !slices.Contains(c.Said(), "play med.ask.1.mp3") {
			time.Sleep(50 * time.Millisecond)
			continue // none yet, or the welcome
		}
		c.Press("1")
		for _, s := range c.Said() {
			if !strings.HasPrefix(s, "play ") {
				t.Errorf("said %q with <Say>", s)
			}
		}
		if !slices.Contains(c.Said(), "play med.thanks.mp3") {
			t.Errorf("after pressing 1: %q", c.Said())
		}
		break
	}
	chTimeline(t, srv, "p-ht", "adherence taken", func(evs []store.Event) bool {
		return slices.ContainsFunc(evs, func(ev store.Event) bool { return ev.Type == "adherence" && ev.Status == "taken" })
	})
	res, err := http.Get(srv.URL + content.AudioPath + "ht/../channels.yaml")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("a file outside the recordings served")
		}
	}
}
