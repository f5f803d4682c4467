package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// TestKeysRotate rotates an embedded store's key with `tend keys generate`
// and `tend keys rotate`, then reads everything with the new key alone.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dataDir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "keys")
	writeKeys := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(keyFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	generate := func(id string) string {
		t.Helper()
		var out bytes.Buffer
		if err := keysCmd([]string{"generate", id}, &out, &out); err != nil {
			t.Fatalf("keys generate %s: %v", id, err)
		}
		return strings.TrimSuffix(out.String(), "\n")
	}
	flags := []string{"--store", "embedded", "--data-dir", dataDir, "--encryption-key-file", keyFile}
	c, err := parseConfig("keys rotate", flags)
	if err != nil {
		t.Fatal(err)
	}

	old := generate("k2026")
	writeKeys(old)
	st, err := openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	const phone, name = "+15551239876", "med|med-reminder|metoprolol|08:00"
	due := time.Date(2026, time.March, 3, 8, 0, 0, 0, time.UTC)
	err = st.Commit(ctx, store.Commit{PatientID: "p1", Session: []byte("session"),
		Patient:   &store.Patient{ID: "p1", Phone: phone, Medications: []store.Medication{{ID: "metoprolol", Display: "metoprolol 25 mg"}}},
		Events:    []store.Event{{ID: "e1", Type: "message.in", At: due, Text: "I feel dizzy"}},
		SetTimers: []store.Timer{{PatientID: "p1", Name: name, Due: due}}})
	if err != nil {
		t.Fatal(err)
	}

	// The embedded store has one owner: rotate refuses to run beside it.
	var stdout, stderr bytes.Buffer
	if err := keysCmd(append([]string{"rotate"}, flags...), &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "stop tend serve first") {
		t.Errorf("keys rotate while the store is open: got %v, want a hint to stop tend serve", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	next := generate("k2027")
	writeKeys(next, old)
	stdout.Reset()
	if err := keysCmd(append([]string{"rotate"}, flags...), &stdout, &stderr); err != nil {
		t.Fatalf("keys rotate: %v (stderr: %s)", err, stderr.String())
	}
	if got := stdout.String(); got != "re-sealed 1 patient(s) under key k2027\n" {
		t.Errorf("keys rotate printed %q", got)
	}

	// The old key can go.
	writeKeys(next)
	st, err = openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, sess, err := st.Load(ctx, "p1")
	if err != nil || p.Phone != phone || p.Medications[0].Display != "metoprolol 25 mg" || string(sess.Data) != "session" {
		t.Errorf("Load with the new key only: %+v %q %v", p, sess.Data, err)
	}
	if got, err := st.PatientByPhone(ctx, phone); err != nil || got.ID != "p1" {
		t.Errorf("PatientByPhone with the new key only: %+v %v", got, err)
	}
	if tms, err := st.Timers(ctx, "p1"); err != nil || len(tms) != 1 || tms[0].Name != name || !tms[0].Due.Equal(due) {
		t.Errorf("Timers with the new key only: %+v %v", tms, err)
	}
	if evs, err := st.Timeline(ctx, "p1"); err != nil || len(evs) != 1 || evs[0].Text != "I feel dizzy" {
		t.Errorf("Timeline with the new key only: %+v %v", evs, err)
	}

	// Without a key file there is nothing to rotate to.
	noKeys := []string{"rotate", "--store", "embedded", "--data-dir", dataDir, "--encryption-key-file", ""}
	if err := keysCmd(noKeys, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "TEND_ENCRYPTION_KEY_FILE") {
		t.Errorf("keys rotate without a key file: got %v", err)
	}
	if err := keysCmd([]string{"generate", "Bad.ID"}, &stdout, &stderr); err == nil {
		t.Error("keys generate with an invalid id: got nil error")
	}
}

// Secure by default: the embedded store gets a key file in its data dir on
// first start and seals from the first write; Redis refuses to start
// without one unless plaintext is allowed.
func TestKeysByDefault(t *testing.T) {
	dir := t.TempDir()
	c := config{Store: "embedded", DataDir: dir}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := ensureKeys(&c, log); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, keysName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || c.KeyFile != path {
		t.Fatalf("key file %v %v, config %q", fi, err, c.KeyFile)
	}
	again := config{Store: "embedded", DataDir: dir}
	if err := ensureKeys(&again, log); err != nil || again.KeyFile != path {
		t.Fatalf("second start: %q %v", again.KeyFile, err)
	}
	b1, _ := os.ReadFile(path)
	if err := ensureKeys(&config{Store: "embedded", DataDir: dir}, log); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(path); string(b1) != string(b2) {
		t.Fatal("the key file changed on a later start")
	}
	st, err := openStore(config{Store: "embedded", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	p := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "UTC"}
	if err := st.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, "tend.db"))
	if strings.Contains(string(raw), "+15551230001") {
		t.Fatal("the phone number is in the clear in tend.db")
	}
	if err := ensureKeys(&config{Store: "redis"}, log); err == nil || !strings.Contains(err.Error(), "TEND_ALLOW_PLAINTEXT") {
		t.Fatalf("redis without keys: %v", err)
	}
	if err := ensureKeys(&config{Store: "redis", AllowPlaintext: true}, log); err != nil {
		t.Fatalf("redis with plaintext allowed: %v", err)
	}
}
