package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	goredis "github.com/redis/go-redis/v9"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/staff"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/redis/redistest"
	"github.com/tendcare/tend/store/seal"
	"github.com/tendcare/tend/store/storetest"
)

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// secret is a fixed test key: 32 bytes of b.
func secret(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func keyLine(id string, b byte) string { return id + " " + secret(b) }

func ring(t testing.TB, lines ...string) *seal.Keyring {
	t.Helper()
	k, err := seal.ParseKeyring("test-keys", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openEmbedded(t testing.TB, path string, opts embedded.Options) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	good := "# Tend keys\n\n  k2  " + secret(2) + "  \n\t# old key\n\tk1\t" + secret(1) + "\r\n"
	k, err := seal.ParseKeyring("keys.txt", strings.NewReader(good))
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	if k.Active() != "k2" || !slices.Equal(k.IDs(), []string{"k2", "k1"}) {
		t.Errorf("active %q, ids %v; want k2, [k2 k1]", k.Active(), k.IDs())
	}

	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	for _, tc := range []struct {
		name, file, want string
	}{
		{"empty", "", "keys.txt has no key"},
		{"comments only", "# nothing\n\n", "keys.txt has no key"},
		{"upper-case id", "K1 " + secret(1), "keys.txt:1: key id \"K1\""},
		{"id too long", "# c\nthis-id-is-too-long " + secret(1), "keys.txt:2: key id"},
		{"id with a dot", "k.1 " + secret(1), "keys.txt:1: key id"},
		{"no key", "k1", "keys.txt:1: want \"<key id> <base64 of 32 bytes>\", got 1 fields"},
		{"three fields", "k1 " + secret(1) + " extra", "keys.txt:1: want"},
		{"not base64", "\n\nk1 ***", "keys.txt:3: key \"k1\" is not standard base64"},
		{"base64url", "k1 " + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))), "keys.txt:1: key \"k1\" is not standard base64"},
		{"no padding", "k1 " + strings.TrimRight(secret(1), "="), "keys.txt:1: key \"k1\" is not standard base64"},
		{"16 bytes", "k1 " + short, "keys.txt:1: key \"k1\" has 16 bytes, want 32"},
		{"duplicate id", keyLine("k1", 1) + "\n" + keyLine("k1", 2), "keys.txt:2: key id \"k1\" appears again (first on line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seal.ParseKeyring("keys.txt", strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			for _, key := range []string{secret(1), secret(2), short} {
				if strings.Contains(err.Error(), key) {
					t.Errorf("error shows key material: %v", err)
				}
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "tend.keys")
	if err := os.WriteFile(path, []byte(keyLine("k1", 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := seal.LoadKeyring(path)
	if err != nil {
		t.Fatalf("LoadKeyring of a 0600 file: %v", err)
	}
	if k.Active() != "k1" {
		t.Errorf("active key %q, want k1", k.Active())
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.LoadKeyring(path); err != nil {
		t.Errorf("LoadKeyring of a 0400 file: %v", err)
	}

	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o620, 0o602} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := seal.LoadKeyring(path)
			want := fmt.Sprintf("key file %s has mode %#o", path, mode)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("mode %#o: got error %v, want one containing %q and chmod 600", mode, err, want)
			}
		}
	}

	bad := filepath.Join(dir, "bad.keys")
	if err := os.WriteFile(bad, []byte("# keys\nk1 nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.LoadKeyring(bad); err == nil || !strings.Contains(err.Error(), bad+":2:") {
		t.Errorf("bad key file: got %v, want an error naming %s:2", err, bad)
	}
	if _, err := seal.LoadKeyring(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: got %v, want ErrNotExist", err)
	}
	if _, err := seal.LoadKeyring(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as key file: got %v", err)
	}
}

func TestGenerateKeyLine(t *testing.T) {
	t.Parallel()
	a, err := seal.GenerateKeyLine("k2026-01")
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.GenerateKeyLine("k2026-02")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Fields(a)[1] == strings.Fields(b)[1] {
		t.Error("two generated keys are equal")
	}
	k := ring(t, a, b)
	if !slices.Equal(k.IDs(), []string{"k2026-01", "k2026-02"}) {
		t.Errorf("ids %v", k.IDs())
	}
	for _, id := range []string{"", "Key", "a b", "0123456789abcdefg"} {
		if _, err := seal.GenerateKeyLine(id); err == nil {
			t.Errorf("GenerateKeyLine(%q): no error", id)
		}
	}
}

func TestKeyringPrintsNoKey(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k2", 2), keyLine("k1", 1))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, k)
		if strings.Contains(out, secret(1)) || strings.Contains(out, secret(2)) || !strings.Contains(out, "active: k2") {
			t.Errorf("%s of a keyring: %s", format, out)
		}
	}
}

var plaintexts = []string{
	"", "x", "+15551230001", "I feel dizzy today", "Tomaré la pastilla mañana 💊",
	strings.Repeat("long message ", 200), "seal:looks:sealed", "\x00binary\xff",
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k1", 1))
	for _, pt := range plaintexts {
		for name, v := range map[string]string{
			"random":        k.Seal("event.text", pt),
			"deterministic": k.SealDeterministic("event.text", pt),
		} {
			if !strings.HasPrefix(v, "seal:k1:") {
				t.Errorf("%s seal of %q: %q lacks the seal:k1: prefix", name, pt, v)
			}
			if len(pt) > 4 && strings.Contains(v, pt) {
				t.Errorf("%s seal of %q contains it", name, pt)
			}
			got, err := k.Open("event.text", v)
			if err != nil || got != pt {
				t.Errorf("%s: Open(Seal(%q)) = %q, %v", name, pt, got, err)
			}
		}
		b := k.SealBytes("session", []byte(pt))
		got, err := k.OpenBytes("session", b)
		if err != nil || string(got) != pt {
			t.Errorf("OpenBytes(SealBytes(%q)) = %q, %v", pt, got, err)
		}
		if want := len("seal:k1:") + 12 + len(pt) + 16; len(b) != want {
			t.Errorf("SealBytes of %d bytes: %d bytes, want %d", len(pt), len(b), want)
		}
	}
}

func TestOpenClearValue(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k1", 1))
	for _, v := range []string{"", "+15551230001", "sealed", "seal"} {
		if got, err := k.Open("patient.phone", v); err != nil || got != v {
			t.Errorf("Open(%q) = %q, %v; want it as it is", v, got, err)
		}
	}
	if got, err := k.OpenBytes("session", []byte("enrolled")); err != nil || string(got) != "enrolled" {
		t.Errorf("OpenBytes of clear data = %q, %v", got, err)
	}
}

func TestTamperDetection(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k1", 1))
	const pt = "I feel dizzy today"
	for _, v := range []string{k.Seal("event.text", pt), k.SealDeterministic("event.text", pt)} {
		body := len("seal:k1:")
		for i := body; i < len(v); i++ {
			c := byte('A')
			if v[i] == 'A' {
				c = 'B'
			}
			bad := v[:i] + string(c) + v[i+1:]
			got, err := k.Open("event.text", bad)
			if err == nil {
				t.Fatalf("altered at %d: opened to %q", i, got)
			}
			if !errors.Is(err, seal.ErrAuth) && !errors.Is(err, seal.ErrMalformed) {
				t.Errorf("altered at %d: got %v, want ErrAuth or ErrMalformed", i, err)
			}
			if strings.Contains(err.Error(), pt) || strings.Contains(err.Error(), bad) {
				t.Errorf("error shows the value: %v", err)
			}
		}
		for _, cut := range []string{v[:len(v)-1], v[:body+10], "seal:k1:", "seal:k1", "seal:", "seal::abc", "seal:K1:abc"} {
			if _, err := k.Open("event.text", cut); !errors.Is(err, seal.ErrAuth) && !errors.Is(err, seal.ErrMalformed) {
				t.Errorf("Open(%q): got %v, want ErrAuth or ErrMalformed", cut, err)
			}
		}
	}

	b := k.SealBytes("session", []byte(pt))
	for i := len("seal:k1:"); i < len(b); i++ {
		bad := bytes.Clone(b)
		bad[i] ^= 1
		if _, err := k.OpenBytes("session", bad); !errors.Is(err, seal.ErrAuth) {
			t.Fatalf("session altered at %d: got %v, want ErrAuth", i, err)
		}
	}
	if _, err := k.OpenBytes("session", b[:len("seal:k1:")+27]); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("truncated session: got %v, want ErrMalformed", err)
	}
}

func TestWrongField(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k1", 1))
	const pt = "Time for your lisinopril"
	for _, v := range []string{k.Seal("outbox.text", pt), k.SealDeterministic("outbox.text", pt)} {
		_, err := k.Open("event.text", v)
		if !errors.Is(err, seal.ErrAuth) {
			t.Fatalf("opening an outbox.text value as event.text: got %v, want ErrAuth", err)
		}
		if !strings.Contains(err.Error(), `event.text under key "k1"`) || strings.Contains(err.Error(), "lisinopril") {
			t.Errorf("error %q: want the field and key id, not the plaintext", err)
		}
	}
	// A timer name is bound to its patient.
	v := k.SealDeterministic("timer.name\x00p1", "med|med-reminder|lisinopril|08:00")
	if _, err := k.Open("timer.name\x00p2", v); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("p1's timer name opened as p2's: got %v, want ErrAuth", err)
	}
	if _, err := k.OpenBytes("session\x00p2", k.SealBytes("session\x00p1", []byte("x"))); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("p1's session opened as p2's: got %v, want ErrAuth", err)
	}
}

func TestKeyIDIsAuthenticated(t *testing.T) {
	t.Parallel()
	// Two ids with the same material: a value relabelled with the other id
	// does not open.
	k := ring(t, keyLine("k1", 1), keyLine("k2", 1))
	v := k.Seal("event.text", "hello")
	relabelled := strings.Replace(v, "seal:k1:", "seal:k2:", 1)
	if _, err := k.Open("event.text", relabelled); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("relabelled value: got %v, want ErrAuth", err)
	}
}

func TestUnknownKey(t *testing.T) {
	t.Parallel()
	a := ring(t, keyLine("a", 1))
	b := ring(t, keyLine("b", 2))
	v := a.Seal("event.text", "I feel dizzy today")
	_, err := b.Open("event.text", v)
	if !errors.Is(err, seal.ErrUnknownKey) || !strings.Contains(err.Error(), `key "a"`) || strings.Contains(err.Error(), "dizzy") {
		t.Errorf("got %v, want ErrUnknownKey naming key \"a\" and not the text", err)
	}
	if _, err := b.OpenBytes("session", a.SealBytes("session", []byte("x"))); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("session under an unknown key: got %v, want ErrUnknownKey", err)
	}
	// Same id, other material: authentication fails.
	other := ring(t, keyLine("a", 3))
	if _, err := other.Open("event.text", v); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("same id, other key: got %v, want ErrAuth", err)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	k := ring(t, keyLine("k1", 1))
	phone := "+15551230001"
	d1, d2 := k.SealDeterministic("patient.phone", phone), k.SealDeterministic("patient.phone", phone)
	if d1 != d2 {
		t.Errorf("deterministic seals differ: %q, %q", d1, d2)
	}
	// Same key material in another ring seals equally: replicas agree.
	if d3 := ring(t, keyLine("k1", 1)).SealDeterministic("patient.phone", phone); d3 != d1 {
		t.Errorf("another ring with the same key: %q, want %q", d3, d1)
	}
	for name, v := range map[string]string{
		"other plaintext": k.SealDeterministic("patient.phone", "+15551230002"),
		"other field":     k.SealDeterministic("outbox.to", phone),
		"other key":       ring(t, keyLine("k1", 2)).SealDeterministic("patient.phone", phone),
		"other key id":    ring(t, keyLine("k2", 1)).SealDeterministic("patient.phone", phone),
	} {
		if v == d1 {
			t.Errorf("%s seals like the original", name)
		}
	}
	if r1, r2 := k.Seal("patient.phone", phone), k.Seal("patient.phone", phone); r1 == r2 || r1 == d1 {
		t.Error("random seals are equal")
	}
	// The field and the plaintext are length-separated in the nonce.
	if k.SealDeterministic("ab", "c")[8:24] == k.SealDeterministic("a", "bc")[8:24] {
		t.Error("nonce of (ab, c) equals nonce of (a, bc)")
	}
}

func TestConformance(t *testing.T) {
	k := ring(t, keyLine("k1", 1))
	storetest.Run(t,
		func(t *testing.T) store.Store {
			return seal.Wrap(openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true}), k)
		},
		func(t *testing.T, dir string) store.Store {
			return seal.Wrap(openEmbedded(t, filepath.Join(dir, "tend.db"), embedded.Options{}), k)
		},
	)
}

// TestConformanceAfterRotation runs the suite on a ring whose active key
// is not the only one, with clear lookups, so every lookup also tries the
// old key and the clear value.
func TestConformanceAfterRotation(t *testing.T) {
	k := ring(t, keyLine("k2", 2), keyLine("k1", 1))
	storetest.Run(t,
		func(t *testing.T) store.Store {
			s := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
			return seal.Wrap(s, k, seal.WithClearLookups())
		},
		func(t *testing.T, dir string) store.Store {
			return seal.Wrap(openEmbedded(t, filepath.Join(dir, "tend.db"), embedded.Options{}), k, seal.WithClearLookups())
		},
	)
}

// phi is what the dump test writes and then looks for in the file.
// totpSecret is a staff member's TOTP secret: not PHI, but sealed too.
const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// The program names a diagnosis; the appointment, the refill date, the
// ticket's reason, the answers and the keys that embed patient data
// (dedupe and Once) say something about the patient too.
var phi = []string{"+15551230001", "5551230001", "lisinopril", "dizzy", "Time for your", "987654321", "metformin", "Not yet", totpSecret,
	"heart-failure", "cardio-visit-77", "2027-03-04T09:30", "2026-12-01", "chest pain at night", "hf-weight-check",
	"hf-salt-quiz", "salt-q3", "not_yet", `"correct":false`, "dedupe-of-p1-+1555", "once-of-p1-+1555",
	"187/121", "blood_pressure", "chronic-kidney-disease", "hypertension", "salt-and-fluids", "sodium-limit", "misconception", "furosemide", "2026-11-02"}

// writePHI enrolls a patient and runs the paths that write PHI.
func writePHI(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	p := store.Patient{
		ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/New_York", Channel: "sms",
		Channels: []string{"sms", "voice"}, Addresses: map[string]string{"telegram": "987654321"}, SlowSpeech: true,
		Programs: []string{"heart-failure"}, Conditions: []string{"chronic-kidney-disease"}, PHIOK: true,
		Dispenses: []store.Dispense{{Medication: "furosemide", Date: "2026-11-02", DaysSupply: 30}},
		Appointments: []store.Appointment{{ID: "cardio-visit-77", At: "2027-03-04T09:30"}},
		Medications:  []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg", Times: []string{"08:00"}}},
		Refills:      []store.Refill{{Medication: "lisinopril", Date: "2026-12-01"}},
		EnrolledAt:   t0,
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("enroll", s.Commit(ctx, store.Commit{
		PatientID: "p1", Patient: &p,
		Session: []byte("\x01en\x00med-reminder\x00ask\x01medication\x00lisinopril"),
		SetTimers: []store.Timer{
			{PatientID: "p1", Name: "med|med-reminder|lisinopril|08:00", Due: t0.Add(time.Hour)},
			{PatientID: "p1", Name: "refill|refill-reminder|lisinopril|2026-12-01", Due: t0.Add(24 * time.Hour)},
		},
	}))
	wrong := false
	must("turn", s.Commit(ctx, store.Commit{
		PatientID: "p1", Version: 1, DedupeKey: "dedupe-of-p1-+15551230001",
		Session: []byte("\x01en\x00med-reminder\x00done\x01medication\x00lisinopril"),
		Events: []store.Event{
			{ID: "in-1", Type: "message.in", At: t0, Channel: "sms", Text: "I feel dizzy today"},
			{ID: "ad-1", Type: "adherence", At: t0, Medication: "lisinopril", Status: "not_yet", Flow: "hf-weight-check"},
			{ID: "out-1", Type: "message.out", At: t0, Channel: "sms", Text: "Time for your lisinopril", Status: "queued"},
			{ID: "esc-1", Type: "escalation", At: t0, Priority: "high", Reason: "chest pain at night", Flow: "hf-weight-check"},
			{ID: "quiz-1", Type: "quiz", At: t0, Quiz: "hf-salt-quiz", Question: "salt-q3", Correct: &wrong},
			{ID: "rd-1", Type: "reading", At: t0, Kind: "blood_pressure", Value: "187/121", Unit: "mmHg", Source: "patient", Level: "alert", Rule: "hypertension-crisis"},
			{ID: "ep-1", Type: "episode", At: t0, Condition: "hypertension", Rule: "hypertension-crisis", Status: "opened", Priority: "high"},
			{ID: "ls-1", Type: "lesson", At: t0, Quiz: "salt-and-fluids", Question: "sodium-limit", Correct: &wrong, Confidence: 5, Status: "misconception"},
			{ID: "dp-1", Type: "dispense", At: t0, Medication: "furosemide", Date: "2026-11-02", Days: 30},
		},
		Escalations: []store.Escalation{{ID: "t1", PatientID: "p1", Priority: "high", Reason: "chest pain at night", OpenedAt: t0, Due: t0.Add(time.Hour), Status: store.TicketOpen}},
		Outbox: []store.OutboxEntry{
			{ID: "out-1", PatientID: "p1", Channel: "sms", To: "+15551230001", Text: "Time for your lisinopril", NotBefore: t0, CreatedAt: t0,
				Choices: []string{"yes", "no"}, Labels: []string{"I took my lisinopril", "Not yet"}, Step: 3,
				Template: "HX0123", Vars: []string{"metformin 500 mg", "08:00"}},
			{ID: "out-2", PatientID: "p1", Channel: "sms", To: "+15551230001", Text: "Time for your lisinopril, again", NotBefore: t0.Add(time.Hour), CreatedAt: t0,
				Choices: []string{"yes", "no"}, Labels: []string{"I took my lisinopril", "Not yet"}, Step: 4,
				Template: "HX0123", Vars: []string{"metformin 500 mg", "08:00"}},
		},
		SetTimers:    []store.Timer{{PatientID: "p1", Name: "med|med-reminder|lisinopril|08:00", Due: t0.Add(25 * time.Hour)}},
		DeleteTimers: []string{"refill|refill-reminder|lisinopril|2026-12-01"},
	}))
	got, err := s.ClaimOutbox(ctx, t0, 10)
	must("ClaimOutbox", err)
	if len(got) != 1 || got[0].Text != "Time for your lisinopril" || got[0].To != "+15551230001" ||
		!slices.Equal(got[0].Labels, []string{"I took my lisinopril", "Not yet"}) || got[0].Step != 3 ||
		got[0].Template != "HX0123" || !slices.Equal(got[0].Vars, []string{"metformin 500 mg", "08:00"}) {
		t.Fatalf("claimed %+v", got)
	}
	must("Finish", s.Finish(ctx, got[0], store.Delivery{Done: true, Status: "sent", ProviderID: "SM9"}))
	must("UpdateEvent", s.UpdateEvent(ctx, "p1", "out-1", func(e *store.Event) bool {
		e.Status = "delivered"
		e.Text += " (delivered)"
		return true
	}))
	pt, err := s.PatientByPhone(ctx, "+15551230001")
	must("PatientByPhone", err)
	if pt.ID != "p1" || pt.Medications[0].Display != "lisinopril 10 mg" {
		t.Fatalf("PatientByPhone: %+v", pt)
	}
	pt, err = s.PatientByAddress(ctx, "telegram", "987654321")
	must("PatientByAddress", err)
	if pt.ID != "p1" || pt.Addresses["telegram"] != "987654321" || pt.Phone != "+15551230001" || !pt.SlowSpeech || len(pt.Channels) != 2 {
		t.Fatalf("PatientByAddress: %+v", pt)
	}
	tms, err := s.Timers(ctx, "p1")
	must("Timers", err)
	if len(tms) != 1 || tms[0].Name != "med|med-reminder|lisinopril|08:00" {
		t.Fatalf("Timers: %+v", tms)
	}
	evs, err := s.Timeline(ctx, "p1")
	must("Timeline", err)
	if len(evs) != 9 || evs[5].Value != "187/121" || evs[5].Kind != "blood_pressure" || evs[5].Rule != "hypertension-crisis" ||
		evs[6].Condition != "hypertension" || evs[6].Status != "opened" ||
		evs[7].Status != "misconception" || evs[7].Correct == nil || *evs[7].Correct || evs[7].Text != "" || evs[7].Confidence != 5 ||
		evs[8].Medication != "furosemide" || evs[8].Date != "2026-11-02" || evs[8].Days != 30 {
		t.Fatalf("Timeline clinical events: %+v", evs[5:])
	}
	if evs[0].Text != "I feel dizzy today" || evs[1].Medication != "lisinopril" ||
		evs[1].Status != "not_yet" || evs[1].Flow != "hf-weight-check" ||
		evs[2].Text != "Time for your lisinopril (delivered)" || evs[2].Status != "delivered" || evs[2].ProviderID != "SM9" ||
		evs[3].Reason != "chest pain at night" || evs[4].Quiz != "hf-salt-quiz" || evs[4].Question != "salt-q3" ||
		evs[4].Correct == nil || *evs[4].Correct || evs[4].Status != "" {
		t.Fatalf("Timeline: %+v", evs)
	}
	lp, _, err := s.Load(ctx, "p1")
	must("Load", err)
	if !slices.Equal(lp.Programs, []string{"heart-failure"}) || lp.Appointments[0] != (store.Appointment{ID: "cardio-visit-77", At: "2027-03-04T09:30"}) ||
		lp.Refills[0].Date != "2026-12-01" {
		t.Fatalf("Load: %+v", lp)
	}
	tk, err := s.Escalation(ctx, "t1")
	must("Escalation", err)
	tks, err := s.Escalations(ctx, store.TicketOpen)
	must("Escalations", err)
	if tk.Reason != "chest pain at night" || len(tks) != 1 || tks[0].Reason != tk.Reason {
		t.Fatalf("tickets read back: %+v, %+v", tk, tks)
	}
	first, err := s.Once(ctx, "once-of-p1-+15551230001", time.Hour, t0)
	must("Once", err)
	again, err := s.Once(ctx, "once-of-p1-+15551230001", time.Hour, t0.Add(time.Minute))
	must("Once", err)
	if !first || again {
		t.Fatalf("Once: %v then %v", first, again)
	}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Version: 2, DedupeKey: "dedupe-of-p1-+15551230001"}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("the same dedupe key again: %v", err)
	}
	nurse := staff.Account{Email: "nurse@clinic.org", Role: staff.Nurse, Teams: []string{"north"}, PasswordHash: "$argon2id$x", TOTPSecret: totpSecret, CreatedAt: t0}
	must("PutStaff", s.PutStaff(ctx, nurse, true))
	must("PutStaff(no TOTP)", s.PutStaff(ctx, staff.Account{Email: "coach@clinic.org", Role: staff.Coach, Teams: []string{"north"}, CreatedAt: t0}, true))
	a, err := s.StaffAccount(ctx, nurse.Email)
	must("StaffAccount", err)
	all, err := s.StaffAccounts(ctx)
	must("StaffAccounts", err)
	if a.TOTPSecret != totpSecret || len(all) != 2 || all[1].TOTPSecret != totpSecret || all[0].TOTPSecret != "" {
		t.Fatalf("staff accounts read back: %+v, %+v", a, all)
	}
}

// TestDump writes PHI through the sealed store and reads the raw bbolt
// file: none of it is there in the clear. The same writes without Wrap
// leave all of it there, which shows the check can see it.
func TestDump(t *testing.T) {
	t.Parallel()
	for _, sealed := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tend.db")
			var s store.Store = openEmbedded(t, path, embedded.Options{})
			if sealed {
				s = seal.Wrap(s, ring(t, keyLine("k1", 1)))
			}
			writePHI(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range phi {
				found := bytes.Contains(raw, []byte(w))
				if sealed && found {
					t.Errorf("the sealed store's file holds %q in the clear", w)
				}
				if !sealed && !found {
					t.Errorf("the plain store's file lacks %q: the dump check cannot see it", w)
				}
			}
		})
	}
}

// TestRotation writes under key a, then puts key b on top of the ring.
func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	ringA := ring(t, keyLine("a", 1))
	ringBA := ring(t, keyLine("b", 2), keyLine("a", 1))
	sa, sb := seal.Wrap(inner, ringA), seal.Wrap(inner, ringBA)

	enroll := func(s store.Store, id, phone string, version uint64) error {
		p := store.Patient{ID: id, Phone: phone, Medications: []store.Medication{{ID: "lisinopril", Display: "lisinopril 10 mg"}}, EnrolledAt: t0}
		return s.Commit(ctx, store.Commit{PatientID: id, Version: version, Patient: &p, Session: []byte("s-" + id),
			Events: []store.Event{{ID: "e-" + id, Type: "message.in", At: t0, Text: "hello from " + id}}})
	}
	setTimer := func(s store.Store, id, name string, due time.Time) {
		t.Helper()
		if err := s.Commit(ctx, store.Commit{PatientID: id, Version: 1, SetTimers: []store.Timer{{PatientID: id, Name: name, Due: due}}}); err != nil {
			t.Fatal(err)
		}
	}
	rawPhone := func(id string) string {
		t.Helper()
		p, _, err := inner.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Phone
	}
	const remind, other = "med|med-reminder|lisinopril|08:00", "lesson|salt"

	if err := enroll(sa, "p1", "+15551230001", 0); err != nil {
		t.Fatal(err)
	}
	setTimer(sa, "p1", remind, t0.Add(time.Hour))
	setTimer(sa, "p1", other, t0.Add(time.Hour))

	// Old values read under the rotated ring.
	p, sess, err := sb.Load(ctx, "p1")
	if err != nil || p.Phone != "+15551230001" || p.Medications[0].ID != "lisinopril" || string(sess.Data) != "s-p1" {
		t.Fatalf("Load of a value sealed under a: %+v %q %v", p, sess.Data, err)
	}
	evs, err := sb.Timeline(ctx, "p1")
	if err != nil || evs[0].Text != "hello from p1" {
		t.Fatalf("Timeline under the rotated ring: %+v %v", evs, err)
	}

	// New writes use b.
	if err := enroll(sb, "p2", "+15551230002", 0); err != nil {
		t.Fatal(err)
	}
	if a, b := rawPhone("p1"), rawPhone("p2"); !strings.HasPrefix(a, "seal:a:") || !strings.HasPrefix(b, "seal:b:") {
		t.Errorf("raw phones %q and %q: want seal:a: and seal:b:", a, b)
	}
	for phone, want := range map[string]string{"+15551230001": "p1", "+15551230002": "p2"} {
		got, err := sb.PatientByPhone(ctx, phone)
		if err != nil || got.ID != want || got.Phone != phone {
			t.Errorf("PatientByPhone(%s) after rotation: %+v %v, want %s", phone, got, err, want)
		}
	}

	// The phone index knows p1's number only under a; it is taken all the same.
	if err := enroll(sb, "p3", "+15551230001", 0); !errors.Is(err, store.ErrPhoneTaken) {
		t.Errorf("enrolling p3 with p1's phone (sealed under a): got %v, want ErrPhoneTaken", err)
	}

	// A timer set under a is moved, not duplicated, and deleted by name.
	setTimer(sb, "p1", remind, t0.Add(2*time.Hour))
	tms, err := sb.Timers(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tms) != 2 || tms[0].Name != other || tms[1].Name != remind || !tms[1].Due.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("timers after moving one under b: %+v", tms)
	}
	if err := sb.Commit(ctx, store.Commit{PatientID: "p1", Version: 1, DeleteTimers: []string{other}}); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.Timers(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 1 || !strings.HasPrefix(raw[0].Name, "seal:b:") {
		t.Errorf("raw timers after move and delete: %+v, want one sealed under b", raw)
	}

	// Re-enrolling p1 moves its phone index to b, and the lookup still works.
	if err := enroll(sb, "p1", "+15551230001", 1); err != nil {
		t.Fatal(err)
	}
	if got := rawPhone("p1"); !strings.HasPrefix(got, "seal:b:") {
		t.Errorf("raw phone of re-enrolled p1: %q", got)
	}
	if _, err := inner.PatientByPhone(ctx, ringA.SealDeterministic("patient.phone", "+15551230001")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the phone index under a after re-enrolling: got %v, want ErrNotFound", err)
	}
	if got, err := sb.PatientByPhone(ctx, "+15551230001"); err != nil || got.ID != "p1" {
		t.Errorf("PatientByPhone of re-enrolled p1: %+v %v", got, err)
	}

	// A replica that does not know b yet cannot read what b sealed.
	if _, _, err := sa.Load(ctx, "p2"); !errors.Is(err, seal.ErrUnknownKey) || !strings.Contains(err.Error(), `key "b"`) {
		t.Errorf("Load of a value sealed under b with ring a: got %v, want ErrUnknownKey naming b", err)
	}
}

// TestTelegramIndex checks that the Telegram chat is sealed
// deterministically, so the inner store's index works on sealed values,
// and that lookups and the taken check see a chat sealed under an older
// key or stored in the clear.
func TestTelegramIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	ringA := ring(t, keyLine("a", 1))
	sa, sb := seal.Wrap(inner, ringA), seal.Wrap(inner, ring(t, keyLine("b", 2), keyLine("a", 1)))
	const chat = "555000111"
	enroll := func(s store.Store, id, phone, chat string) error {
		p := store.Patient{ID: id, Phone: phone, Addresses: map[string]string{"telegram": chat}, EnrolledAt: t0}
		return s.Commit(ctx, store.Commit{PatientID: id, Patient: &p})
	}
	if err := enroll(sa, "p1", "+15551230001", chat); err != nil {
		t.Fatal(err)
	}
	raw, _, err := inner.Load(ctx, "p1")
	if err != nil || raw.Addresses["telegram"] != ringA.SealDeterministic("patient.telegram", chat) {
		t.Fatalf("raw chat %q, %v: want it sealed deterministically under a", raw.Addresses["telegram"], err)
	}
	if got, err := inner.PatientByAddress(ctx, "telegram", raw.Addresses["telegram"]); err != nil || got.ID != "p1" {
		t.Errorf("inner PatientByAddress of the sealed chat: %+v %v", got, err)
	}
	for name, s := range map[string]store.Store{"a": sa, "b over a": sb} {
		if got, err := s.PatientByAddress(ctx, "telegram", chat); err != nil || got.ID != "p1" || got.Addresses["telegram"] != chat {
			t.Errorf("PatientByAddress under ring %s: %+v %v", name, got, err)
		}
	}
	if _, err := sb.PatientByAddress(ctx, "telegram", "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PatientByAddress of an unknown chat: %v, want ErrNotFound", err)
	}
	// The index knows the chat only under a; it is taken all the same.
	if err := enroll(sb, "p2", "+15551230002", chat); !errors.Is(err, store.ErrAddressTaken) {
		t.Errorf("enrolling p2 with p1's chat (sealed under a): got %v, want ErrChatTaken", err)
	}
	// Re-enrolling p1 under b moves the index.
	if err := enroll(sb, "p1", "+15551230001", chat); err != nil {
		t.Fatal(err)
	}
	if _, err := inner.PatientByAddress(ctx, "telegram", raw.Addresses["telegram"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the chat index under a after re-enrolling: got %v, want ErrNotFound", err)
	}
	if got, err := sb.PatientByAddress(ctx, "telegram", chat); err != nil || got.ID != "p1" {
		t.Errorf("PatientByAddress of re-enrolled p1: %+v %v", got, err)
	}

	// A chat stored in the clear is found and taken with clear lookups only.
	clear := store.Patient{ID: "p3", Phone: "+15551230003", Addresses: map[string]string{"telegram": "777"}, EnrolledAt: t0}
	if err := inner.Commit(ctx, store.Commit{PatientID: "p3", Patient: &clear}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.PatientByAddress(ctx, "telegram", "777"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PatientByAddress of a clear chat without clear lookups: %v, want ErrNotFound", err)
	}
	sc := seal.Wrap(inner, ring(t, keyLine("b", 2)), seal.WithClearLookups())
	if got, err := sc.PatientByAddress(ctx, "telegram", "777"); err != nil || got.ID != "p3" {
		t.Errorf("PatientByAddress of a clear chat: %+v %v", got, err)
	}
	if err := enroll(sc, "p4", "+15551230004", "777"); !errors.Is(err, store.ErrAddressTaken) {
		t.Errorf("enrolling p4 with p3's clear chat: got %v, want ErrChatTaken", err)
	}
}

// TestClearData reads and migrates data written before encryption.
func TestClearData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	p := store.Patient{ID: "p1", Phone: "+15551230001", Medications: []store.Medication{{ID: "lisinopril"}}, EnrolledAt: t0}
	const name = "med|med-reminder|lisinopril|08:00"
	err := inner.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Session: []byte("clear"),
		Events:    []store.Event{{ID: "e1", Type: "message.in", At: t0, Text: "hello"}},
		SetTimers: []store.Timer{{PatientID: "p1", Name: name, Due: t0}}})
	if err != nil {
		t.Fatal(err)
	}
	k := ring(t, keyLine("k1", 1))

	// Without clear lookups, clear values are read but not looked up.
	plain := seal.Wrap(inner, k)
	got, sess, err := plain.Load(ctx, "p1")
	if err != nil || got.Phone != p.Phone || got.Medications[0].ID != "lisinopril" || string(sess.Data) != "clear" {
		t.Fatalf("Load of clear data: %+v %q %v", got, sess.Data, err)
	}
	if evs, err := plain.Timeline(ctx, "p1"); err != nil || evs[0].Text != "hello" {
		t.Errorf("Timeline of clear data: %+v %v", evs, err)
	}
	if tms, err := plain.Timers(ctx, "p1"); err != nil || len(tms) != 1 || tms[0].Name != name {
		t.Errorf("Timers of clear data: %+v %v", tms, err)
	}
	if _, err := plain.PatientByPhone(ctx, p.Phone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PatientByPhone of a clear index without clear lookups: got %v, want ErrNotFound", err)
	}

	s := seal.Wrap(inner, k, seal.WithClearLookups())
	if got, err := s.PatientByPhone(ctx, p.Phone); err != nil || got.ID != "p1" {
		t.Errorf("PatientByPhone of a clear index: %+v %v", got, err)
	}
	p2 := store.Patient{ID: "p2", Phone: p.Phone}
	if err := s.Commit(ctx, store.Commit{PatientID: "p2", Patient: &p2}); !errors.Is(err, store.ErrPhoneTaken) {
		t.Errorf("enrolling p2 with p1's clear phone: got %v, want ErrPhoneTaken", err)
	}
	if err := s.Commit(ctx, store.Commit{PatientID: "p1", Version: 1, SetTimers: []store.Timer{{PatientID: "p1", Name: name, Due: t0.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.Timers(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 1 || !strings.HasPrefix(raw[0].Name, "seal:k1:") {
		t.Errorf("raw timers after setting a clear one: %+v, want it replaced by a sealed one", raw)
	}
}

func TestFinish(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	k := ring(t, keyLine("k1", 1))
	s1 := seal.Wrap(inner, k)
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	var evs []store.Event
	var out []store.OutboxEntry
	for _, id := range []string{"o1", "o2", "o3"} {
		evs = append(evs, store.Event{ID: id, Type: "message.out", At: t0, Text: "text " + id, Status: "queued"})
		out = append(out, store.OutboxEntry{ID: id, PatientID: "p1", Channel: "sms", To: p.Phone, Text: "text " + id, NotBefore: t0})
	}
	if err := s1.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Events: evs, Outbox: out}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s1.ClaimOutbox(ctx, t0, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimOutbox: %+v %v", claimed, err)
	}
	// Through the store that claimed it.
	if err := s1.Finish(ctx, claimed[0], store.Delivery{Done: true, Status: "sent"}); err != nil {
		t.Errorf("Finish by the claiming store: %v", err)
	}
	// Through another wrapper, which re-seals the caller's entry.
	s2 := seal.Wrap(inner, k)
	if err := s2.Finish(ctx, claimed[1], store.Delivery{Done: true, Status: "failed", ErrorCode: 30003}); err != nil {
		t.Errorf("Finish by another store: %v", err)
	}
	// The embedded store finds the entry by ID: the opened entry works too.
	if err := inner.Finish(ctx, claimed[2], store.Delivery{Done: true, Status: "sent"}); err != nil {
		t.Errorf("embedded Finish of the opened entry: %v", err)
	}
	if n, err := s1.OutboxDepth(ctx); err != nil || n != 0 {
		t.Errorf("OutboxDepth: %d %v, want 0", n, err)
	}
	got, err := s1.Timeline(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"sent", "failed", "sent"} {
		if got[i].Status != want || got[i].Text != "text "+got[i].ID {
			t.Errorf("event %s after Finish: %+v, want status %s", got[i].ID, got[i], want)
		}
	}
	// Finish of an entry that is not claimed is still ErrNotFound.
	if err := s1.Finish(ctx, claimed[0], store.Delivery{Done: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Finish: got %v, want ErrNotFound", err)
	}
}

func TestClaimPutsBackWhatItCannotOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	sa := seal.Wrap(inner, ring(t, keyLine("a", 1)))
	sb := seal.Wrap(inner, ring(t, keyLine("b", 2), keyLine("a", 1)))
	entry := func(id string) store.OutboxEntry {
		return store.OutboxEntry{ID: id, Channel: "sms", To: "+15559990000", Text: "not enrolled", NotBefore: t0}
	}
	if err := sb.Commit(ctx, store.Commit{Outbox: []store.OutboxEntry{entry("under-b")}}); err != nil {
		t.Fatal(err)
	}

	// Only an entry it cannot open: an error, and the entry is pending again.
	got, err := sa.ClaimOutbox(ctx, t0, 10)
	if !errors.Is(err, seal.ErrUnknownKey) || len(got) != 0 {
		t.Fatalf("ClaimOutbox of an entry under an unknown key: %+v %v, want ErrUnknownKey", got, err)
	}
	if claimed, err := inner.Claimed(ctx); err != nil || len(claimed) != 0 {
		t.Errorf("left claimed: %+v %v", claimed, err)
	}

	// With one it can open: that one, no error; the other waits a minute.
	if err := sa.Commit(ctx, store.Commit{Outbox: []store.OutboxEntry{entry("under-a")}}); err != nil {
		t.Fatal(err)
	}
	got, err = sa.ClaimOutbox(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != "under-a" || got[0].To != "+15559990000" {
		t.Fatalf("ClaimOutbox of a mix: %+v %v", got, err)
	}
	got, err = sb.ClaimOutbox(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || len(got) != 0 {
		t.Errorf("ClaimOutbox before the put-back entry is due again: %+v %v", got, err)
	}
	got, err = sb.ClaimOutbox(ctx, t0.Add(3*time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != "under-b" || got[0].Text != "not enrolled" || got[0].Attempts != 0 {
		t.Errorf("ClaimOutbox by a store with the key: %+v %v", got, err)
	}
}

func TestUpdateEventReseal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	sa := seal.Wrap(inner, ring(t, keyLine("a", 1)))
	sb := seal.Wrap(inner, ring(t, keyLine("b", 2), keyLine("a", 1)))
	p := store.Patient{ID: "p1"}
	err := sa.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p, Events: []store.Event{
		{ID: "e1", Type: "message.out", At: t0, Text: "hello", Status: "queued"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rawText := func() string {
		t.Helper()
		evs, err := inner.Timeline(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].Text
	}
	update := func(s store.Store, fn func(*store.Event)) {
		t.Helper()
		err := s.UpdateEvent(ctx, "p1", "e1", func(e *store.Event) bool {
			if e.Text != "hello" && e.Text != "hello again" {
				t.Errorf("fn got text %q", e.Text)
			}
			fn(e)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := rawText()
	update(sa, func(e *store.Event) { e.Status = "sent" })
	if rawText() != before {
		t.Error("a status update re-sealed an unchanged text under the active key")
	}
	update(sb, func(e *store.Event) { e.Status = "delivered" })
	if got := rawText(); !strings.HasPrefix(got, "seal:b:") {
		t.Errorf("an update under the rotated ring left the text under %q", got)
	}
	update(sb, func(e *store.Event) { e.Text = "hello again" })
	evs, err := sb.Timeline(ctx, "p1")
	if err != nil || evs[0].Text != "hello again" || evs[0].Status != "delivered" {
		t.Errorf("after updates: %+v %v", evs, err)
	}
	// An event the ring cannot open: an error, and fn is not called.
	if err := sb.Commit(ctx, store.Commit{PatientID: "p1", Events: []store.Event{{ID: "e2", Type: "message.in", At: t0, Text: "x"}}}); err != nil {
		t.Fatal(err)
	}
	err = sa.UpdateEvent(ctx, "p1", "e2", func(*store.Event) bool { t.Error("fn called"); return true })
	if !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("UpdateEvent of an event under an unknown key: got %v", err)
	}
}

func TestTimersOfTwoPatientsSealDifferently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	s := seal.Wrap(inner, ring(t, keyLine("k1", 1)))
	const name = "med|med-reminder|lisinopril|08:00"
	for _, id := range []string{"p1", "p2"} {
		p := store.Patient{ID: id}
		if err := s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, SetTimers: []store.Timer{{PatientID: id, Name: name, Due: t0}}}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := inner.DueTimers(ctx, t0, 10)
	if err != nil || len(raw) != 2 || raw[0].Name == raw[1].Name {
		t.Errorf("raw due timers: %+v %v, want two different sealed names", raw, err)
	}
	due, err := s.DueTimers(ctx, t0, 10)
	if err != nil || len(due) != 2 || due[0].PatientID != "p1" || due[0].Name != name || due[1].Name != name {
		t.Errorf("DueTimers: %+v %v", due, err)
	}
}

func TestCommitLeavesCallerValuesAlone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := seal.Wrap(openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true}), ring(t, keyLine("k1", 1)))
	t.Cleanup(func() { s.Close() })
	p := store.Patient{ID: "p1", Phone: "+15551230001", Addresses: map[string]string{"telegram": "42"}, Medications: []store.Medication{{ID: "lisinopril", Display: "x"}}, Refills: []store.Refill{{Medication: "lisinopril"}}}
	c := store.Commit{PatientID: "p1", Patient: &p, Session: []byte("sess"),
		Events:       []store.Event{{ID: "e", Type: "message.in", Text: "hi"}},
		Outbox:       []store.OutboxEntry{{ID: "o", To: "+1", Text: "yo", Labels: []string{"a"}, Vars: []string{"v"}}},
		SetTimers:    []store.Timer{{PatientID: "p1", Name: "t"}},
		DeleteTimers: []string{"u"},
	}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if p.Phone != "+15551230001" || p.Medications[0].ID != "lisinopril" || p.Refills[0].Medication != "lisinopril" ||
		string(c.Session) != "sess" || c.Events[0].Text != "hi" || c.Outbox[0].To != "+1" || c.Outbox[0].Text != "yo" ||
		c.SetTimers[0].Name != "t" || c.DeleteTimers[0] != "u" || c.Patient != &p ||
		p.Addresses["telegram"] != "42" || c.Outbox[0].Labels[0] != "a" || c.Outbox[0].Vars[0] != "v" {
		t.Errorf("Commit changed the caller's values: %+v %+v", c, p)
	}
}

func BenchmarkSeal(b *testing.B) {
	k := ring(b, keyLine("k1", 1))
	b.ReportAllocs()
	for b.Loop() {
		k.Seal("outbox.text", "Time for your lisinopril. Reply 1 when taken.")
	}
}

func BenchmarkSealDeterministic(b *testing.B) {
	k := ring(b, keyLine("k1", 1))
	b.ReportAllocs()
	for b.Loop() {
		k.SealDeterministic("timer.name\x00p1", "med|med-reminder|lisinopril|08:00")
	}
}

func BenchmarkOpen(b *testing.B) {
	k := ring(b, keyLine("k2", 2), keyLine("k1", 1))
	v := k.Seal("outbox.text", "Time for your lisinopril. Reply 1 when taken.")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open("outbox.text", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealBytes(b *testing.B) {
	k := ring(b, keyLine("k1", 1))
	sess := bytes.Repeat([]byte{1}, 48)
	b.ReportAllocs()
	for b.Loop() {
		k.SealBytes("session\x00p1", sess)
	}
}

// TestDumpRedis is TestDump on Redis: every key name and every value of
// every key, read back by type, holds none of the PHI in the clear.
func TestDumpRedis(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	for _, sealed := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("dump%v", sealed)
			rs, err := redisstore.Open(t.Context(), redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix, Lease: -1})
			if err != nil {
				t.Fatal(err)
			}
			var s store.Store = rs
			if sealed {
				s = seal.Wrap(s, ring(t, keyLine("k1", 1)))
			}
			writePHI(t, s)
			defer s.Close()
			dump := redisDump(t, addr, prefix)
			for _, w := range phi {
				if got := strings.Contains(dump, w); got == sealed {
					t.Errorf("sealed=%v: %q in the Redis data: %v", sealed, w, got)
				}
			}
		})
	}
}

// redisDump reads every key with prefix in its name, and its value.
func redisDump(t *testing.T, addr, prefix string) string {
	t.Helper()
	ctx := t.Context()
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	var b strings.Builder
	keys, err := rc.Keys(ctx, "*:"+prefix+":*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		b.WriteString(k + "\n")
		switch rc.Type(ctx, k).Val() {
		case "string":
			b.WriteString(rc.Get(ctx, k).Val())
		case "hash":
			for f, v := range rc.HGetAll(ctx, k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "list":
			b.WriteString(strings.Join(rc.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			b.WriteString(strings.Join(rc.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(rc.ZRange(ctx, k, 0, -1).Val(), "\n"))
		default:
			t.Fatalf("key %s of unexpected type", k)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestClaimTimersOpened: timers claimed through the wrapper (Redis claims
// them for replicas) come back with their names opened.
func TestClaimTimersOpened(t *testing.T) {
	t.Parallel()
	rs, err := redisstore.Open(t.Context(), redisstore.Options{Addrs: []string{redistest.Start(t)}, Lease: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := seal.Wrap(rs, ring(t, keyLine("k1", 1)))
	defer s.Close()
	p := store.Patient{ID: "p1", Phone: "+15551230001"}
	name := "med|med-reminder|lisinopril|08:00"
	if err := s.Commit(t.Context(), store.Commit{PatientID: "p1", Patient: &p, Session: []byte("s"),
		SetTimers: []store.Timer{{PatientID: "p1", Name: name, Due: t0}}}); err != nil {
		t.Fatal(err)
	}
	tc, ok := s.(store.TimerClaimer)
	if !ok {
		t.Fatal("the wrapper hides the Redis store's timer claims")
	}
	got, err := tc.ClaimTimers(t.Context(), t0.Add(time.Second), 10, time.Minute)
	if err != nil || len(got) != 1 || got[0].Name != name || !got[0].Due.Equal(t0) {
		t.Fatalf("ClaimTimers = %+v, %v", got, err)
	}
}

// A sealed TOTP secret copied onto another account does not open there.
func TestTOTPSecretBoundToAccount(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	s := seal.Wrap(inner, ring(t, keyLine("k1", 1)))
	if err := s.PutStaff(ctx, staff.Account{Email: "a@clinic.org", Role: staff.Admin, TOTPSecret: totpSecret}, true); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.StaffAccount(ctx, "a@clinic.org")
	if err != nil || !strings.HasPrefix(raw.TOTPSecret, "seal:k1:") {
		t.Fatalf("stored secret %q %v, want it sealed", raw.TOTPSecret, err)
	}
	if err := inner.PutStaff(ctx, staff.Account{Email: "b@clinic.org", Role: staff.Admin, TOTPSecret: raw.TOTPSecret}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StaffAccount(ctx, "b@clinic.org"); !errors.Is(err, seal.ErrAuth) {
		t.Fatalf("a secret moved to another account: %v, want ErrAuth", err)
	}
}
