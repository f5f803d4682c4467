package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	"github.com/tendcare/tend/store/seal"
)

// TestReseal writes under key a, re-seals with the ring [b, a], and reads
// everything with b alone.
func TestReseal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tend.db")
	inner := openEmbedded(t, path, embedded.Options{NoSync: true})
	sa := seal.Wrap(inner, ring(t, keyLine("a", 1)))
	writePHI(t, sa)
	// p2 has no session, a timer and an adherence event.
	p2 := store.Patient{ID: "p2", Phone: "+15551230002", Medications: []store.Medication{{ID: "metformin", Display: "metformin 500 mg"}}, EnrolledAt: t0}
	if err := sa.Commit(ctx, store.Commit{PatientID: "p2", Patient: &p2,
		Events:    []store.Event{{ID: "ad-2", Type: "adherence", At: t0, Medication: "metformin", Status: "missed"}},
		SetTimers: []store.Timer{{PatientID: "p2", Name: "med|med-reminder|metformin|20:00", Due: t0.Add(11 * time.Hour)}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}

	sba := seal.Wrap(openEmbedded(t, path, embedded.Options{NoSync: true}), ring(t, keyLine("b", 2), keyLine("a", 1)))
	var progress []int
	n, err := seal.Reseal(ctx, sba, func(done int) { progress = append(progress, done) })
	if err != nil || n != 2 || !slices.Equal(progress, []int{1, 2}) {
		t.Fatalf("Reseal: %d, %v, progress %v; want 2 patients", n, err, progress)
	}
	// Running it again is harmless.
	if n, err := seal.Reseal(ctx, sba, nil); err != nil || n != 2 {
		t.Fatalf("Reseal again: %d, %v", n, err)
	}
	if err := sba.Close(); err != nil {
		t.Fatal(err)
	}

	// Every record of an enrolled patient is under b: the stored bytes
	// hold no value sealed under a. Pending outbox entries are left alone.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"patients", "phones", "addresses", "sessions", "timers", "timers_due", "events", "escalations"} {
			var underB bool
			tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				if bytes.Contains(k, []byte("seal:a:")) || bytes.Contains(v, []byte("seal:a:")) {
					t.Errorf("bucket %s still holds a value sealed under a: %q", name, k)
				}
				underB = underB || bytes.Contains(k, []byte("seal:b:")) || bytes.Contains(v, []byte("seal:b:"))
				return nil
			})
			if !underB {
				t.Errorf("bucket %s holds no value sealed under b", name)
			}
		}
		if v := tx.Bucket([]byte("outbox")).Get([]byte("out-2")); !bytes.Contains(v, []byte("seal:a:")) {
			t.Errorf("the pending outbox entry was rewritten: %s", v)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Key a can go.
	sb := seal.Wrap(openEmbedded(t, path, embedded.Options{NoSync: true}), ring(t, keyLine("b", 2)))
	t.Cleanup(func() { sb.Close() })
	p, sess, err := sb.Load(ctx, "p1")
	if err != nil || p.Phone != "+15551230001" || p.Medications[0].ID != "lisinopril" || p.Medications[0].Display != "lisinopril 10 mg" ||
		p.Refills[0].Medication != "lisinopril" || !p.EnrolledAt.Equal(t0) ||
		string(sess.Data) != "\x01en\x00med-reminder\x00done\x01medication\x00lisinopril" {
		t.Errorf("Load p1 with b only: %+v %q %v", p, sess.Data, err)
	}
	for phone, want := range map[string]string{"+15551230001": "p1", "+15551230002": "p2"} {
		if got, err := sb.PatientByPhone(ctx, phone); err != nil || got.ID != want {
			t.Errorf("PatientByPhone(%s) with b only: %+v %v, want %s", phone, got, err, want)
		}
	}
	if got, err := sb.PatientByAddress(ctx, "telegram", "987654321"); err != nil || got.ID != "p1" {
		t.Errorf("PatientByAddress with b only: %+v %v, want p1", got, err)
	}
	for id, want := range map[string]store.Timer{
		"p1": {PatientID: "p1", Name: "med|med-reminder|lisinopril|08:00", Due: t0.Add(25 * time.Hour)},
		"p2": {PatientID: "p2", Name: "med|med-reminder|metformin|20:00", Due: t0.Add(11 * time.Hour)},
	} {
		tms, err := sb.Timers(ctx, id)
		if err != nil || len(tms) != 1 || tms[0].Name != want.Name || !tms[0].Due.Equal(want.Due) {
			t.Errorf("Timers(%s) with b only: %+v %v, want %+v", id, tms, err, want)
		}
	}
	evs, err := sb.Timeline(ctx, "p1")
	if err != nil || len(evs) != 9 || evs[5].Value != "187/121" || *evs[7].Correct || evs[7].Status != "misconception" || evs[3].Reason != "chest pain at night" || *evs[4].Correct || evs[0].Text != "I feel dizzy today" || evs[1].Medication != "lisinopril" ||
		evs[2].Text != "Time for your lisinopril (delivered)" || evs[2].Status != "delivered" || evs[2].ProviderID != "SM9" {
		t.Errorf("Timeline(p1) with b only: %+v %v", evs, err)
	}
	if evs, err := sb.Timeline(ctx, "p2"); err != nil || len(evs) != 1 || evs[0].Medication != "metformin" {
		t.Errorf("Timeline(p2) with b only: %+v %v", evs, err)
	}
	if tk, err := sb.Escalation(ctx, "t1"); err != nil || tk.Reason != "chest pain at night" || tk.Status != store.TicketOpen {
		t.Errorf("Escalation(t1) with b only: %+v %v", tk, err)
	}
}

// TestResealSealsClearData: a store written in the clear (before a key
// file, or by an older release that left programs, appointments, reasons
// and answers unsealed) holds none of that in the clear once Reseal ran,
// and reads back the same. Dedupe and Once keys are not rewritten (they
// expire), and neither are pending outbox entries, so they are not
// checked; the check reads every bucket's keys and values as bbolt holds
// them (freed pages of the file may keep old bytes until reused: see the
// package documentation).
func TestResealSealsClearData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tend.db")
	inner := openEmbedded(t, path, embedded.Options{NoSync: true})
	writePHI(t, inner) // no Wrap: all in the clear
	if err := inner.Close(); err != nil {
		t.Fatal(err)
	}
	s := seal.Wrap(openEmbedded(t, path, embedded.Options{NoSync: true}), ring(t, keyLine("k1", 1)))
	if n, err := seal.Reseal(ctx, s, nil); err != nil || n != 1 {
		t.Fatalf("Reseal: %d, %v", n, err)
	}
	p, _, err := s.Load(ctx, "p1")
	if err != nil || p.Programs[0] != "heart-failure" || p.Appointments[0].At != "2027-03-04T09:30" || p.Phone != "+15551230001" {
		t.Fatalf("Load after Reseal: %+v %v", p, err)
	}
	if got, err := s.PatientByPhone(ctx, "+15551230001"); err != nil || got.ID != "p1" {
		t.Fatalf("PatientByPhone after Reseal: %+v %v", got, err)
	}
	if tms, err := s.Timers(ctx, "p1"); err != nil || len(tms) != 1 || tms[0].Name != "med|med-reminder|lisinopril|08:00" {
		t.Fatalf("Timers after Reseal: %+v %v", tms, err)
	}
	evs, err := s.Timeline(ctx, "p1")
	if err != nil || len(evs) != 9 || evs[8].Date != "2026-11-02" || evs[1].Status != "not_yet" || evs[3].Reason != "chest pain at night" || *evs[4].Correct {
		t.Fatalf("Timeline after Reseal: %+v %v", evs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dump := boltDump(t, path, "outbox", "outbox_due", "outbox_dead", "dedupe", "dedupe_at", "once", "once_at", "staff")
	for _, w := range phi {
		if strings.Contains(w, "dedupe-of") || strings.Contains(w, "once-of") || w == totpSecret {
			continue // not rewritten (TOTP secrets are: TestReseal)
		}
		if strings.Contains(dump, w) {
			t.Errorf("%q is still in the clear after Reseal", w)
		}
	}
}

// boltDump returns every key and value of every bucket of the bbolt file
// at path but those named in skip, as text.
func boltDump(t *testing.T, path string, skip ...string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			if slices.Contains(skip, string(name)) {
				return nil
			}
			return bk.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&b, "%s %s=%s\n", name, k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// racer runs a turn of its own right before the first commit it passes
// on, as a replica serving the patient would between Reseal's load and its
// commit.
type racer struct {
	*embedded.Store
	turn func() error
}

func (r *racer) Commit(ctx context.Context, c store.Commit) error {
	if turn := r.turn; turn != nil {
		r.turn = nil
		if err := turn(); err != nil {
			return err
		}
	}
	return r.Store.Commit(ctx, c)
}

// TestResealKeepsConcurrentTurn: a turn that commits while Reseal is at a
// patient is kept, and the patient is re-sealed all the same.
func TestResealKeepsConcurrentTurn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	writePHI(t, seal.Wrap(inner, ring(t, keyLine("a", 1))))

	ringBA := ring(t, keyLine("b", 2), keyLine("a", 1))
	replica := seal.Wrap(inner, ringBA)
	r := &racer{Store: inner, turn: func() error {
		_, sess, err := replica.Load(ctx, "p1")
		if err != nil {
			return err
		}
		return replica.Commit(ctx, store.Commit{PatientID: "p1", Version: sess.Version, Session: []byte("after the turn"),
			Events: []store.Event{{ID: "in-2", Type: "message.in", At: t0, Text: "taken"}}})
	}}
	if n, err := seal.Reseal(ctx, seal.Wrap(r, ringBA), nil); err != nil || n != 1 {
		t.Fatalf("Reseal: %d, %v", n, err)
	}
	if r.turn != nil {
		t.Fatal("the concurrent turn did not run")
	}
	_, sess, err := replica.Load(ctx, "p1")
	if err != nil || string(sess.Data) != "after the turn" || sess.Version != 4 {
		t.Errorf("session after Reseal: %q version %d, %v; want the turn's, version 4", sess.Data, sess.Version, err)
	}
	raw, _, err := inner.Load(ctx, "p1")
	if err != nil || !bytes.HasPrefix([]byte(raw.Phone), []byte("seal:b:")) {
		t.Errorf("raw phone after Reseal: %q %v", raw.Phone, err)
	}
}

// TestResealNeedsAListingStore: Reseal refuses a store it cannot list.
func TestResealNeedsAListingStore(t *testing.T) {
	t.Parallel()
	inner := openEmbedded(t, filepath.Join(t.TempDir(), "tend.db"), embedded.Options{NoSync: true})
	t.Cleanup(func() { inner.Close() })
	if _, err := seal.Reseal(t.Context(), inner, nil); err == nil {
		t.Error("Reseal of a store without Wrap: got nil error")
	}
	unlisted := struct{ store.Store }{inner} // hides PatientIDs
	if _, err := seal.Reseal(t.Context(), seal.Wrap(unlisted, ring(t, keyLine("a", 1))), nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Reseal of a store that cannot list: got %v, want ErrUnsupported", err)
	}
	if err := seal.Wrap(inner, ring(t, keyLine("a", 1))).(store.PatientLister).PatientIDs(t.Context(), func(string) error { return nil }); err != nil {
		t.Errorf("PatientIDs through Wrap: %v", err)
	}
}
