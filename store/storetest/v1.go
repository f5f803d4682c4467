package storetest

import (
	"testing"

	"github.com/tendcare/tend/store"
)

// This file checks a store opened on the fixtures of the release before
// generic addresses (store/testdata/genv1): the Telegram chat it kept as
// "telegram", with its own index, must read and behave as an address.

// V1Fixture checks, without changing anything, a store opened (and so
// migrated) on a v1 fixture: p1 is found by its chat as an address, with
// everything else it had; p2 has no address; p3 was unenrolled, and its
// chat went with it.
func V1Fixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	p1, err := s.PatientByAddress(ctx, "telegram", "1001")
	noErr(t, "PatientByAddress(telegram, 1001)", err)
	check(t, "p1's id", p1.ID, "p1")
	check(t, "p1's addresses", p1.Addresses, map[string]string{"telegram": "1001"})
	check(t, "p1's phone", p1.Phone, "+15551230001")
	check(t, "p1's channels", p1.Channels, []string{"telegram", "sms"})
	check(t, "p1's medicine", p1.Medications[0].Display, "Lisinopril 10 mg")
	loaded, sess, err := s.Load(ctx, "p1")
	noErr(t, "Load(p1)", err)
	check(t, "p1 loaded", normPatient(loaded), normPatient(p1))
	check(t, "p1's session", sess, store.Session{Data: []byte("session-1"), Version: 1})
	byPhone, err := s.PatientByPhone(ctx, "+15551230001")
	noErr(t, "PatientByPhone(p1)", err)
	check(t, "p1 by phone", normPatient(byPhone), normPatient(p1))
	tms, err := s.Timers(ctx, "p1")
	noErr(t, "Timers(p1)", err)
	check(t, "p1's timers", timerNames(tms), []string{"p1/med|lisinopril|08:00"})
	evs, err := s.Timeline(ctx, "p1")
	noErr(t, "Timeline(p1)", err)
	check(t, "p1's timeline", eventIDs(evs), []string{"e1"})

	p2, err := s.PatientByPhone(ctx, "+15551230002")
	noErr(t, "PatientByPhone(p2)", err)
	check(t, "p2's id", p2.ID, "p2")
	check(t, "p2's addresses", len(p2.Addresses), 0)

	_, _, err = s.Load(ctx, "p3")
	wantErr(t, "Load of the unenrolled p3", err, store.ErrNotFound)
	_, err = s.PatientByAddress(ctx, "telegram", "1003")
	wantErr(t, "PatientByAddress of the unenrolled p3's chat", err, store.ErrNotFound)
}

// V1FixtureChanges checks that the migrated chats stay unique, move, and
// go with their patient: a store opened on a v1 fixture, after V1Fixture.
func V1FixtureChanges(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	p4 := newPatient("p4", "+15551230004")
	p4.SetAddress("telegram", "1001")
	err := s.Commit(ctx, store.Commit{PatientID: "p4", Patient: &p4})
	wantErr(t, "linking p1's migrated chat to p4", err, store.ErrAddressTaken)

	// The unenrolled p3's chat is free.
	p4.SetAddress("telegram", "1003")
	commit(t, s, store.Commit{PatientID: "p4", Patient: &p4})
	got, err := s.PatientByAddress(ctx, "telegram", "1003")
	noErr(t, "PatientByAddress of p3's old chat", err)
	check(t, "owner of p3's old chat", got.ID, "p4")

	// Changing p1's chat moves the index.
	p1, _, err := s.Load(ctx, "p1")
	noErr(t, "Load(p1)", err)
	p1.SetAddress("telegram", "1005")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p1})
	_, err = s.PatientByAddress(ctx, "telegram", "1001")
	wantErr(t, "PatientByAddress of p1's old chat", err, store.ErrNotFound)
	got, err = s.PatientByAddress(ctx, "telegram", "1005")
	noErr(t, "PatientByAddress of p1's new chat", err)
	check(t, "owner of p1's new chat", got.ID, "p1")

	// Unenrolling releases it.
	noErr(t, "DeletePatient(p1)", s.DeletePatient(ctx, "p1"))
	_, err = s.PatientByAddress(ctx, "telegram", "1005")
	wantErr(t, "PatientByAddress after DeletePatient", err, store.ErrNotFound)
	p5 := newPatient("p5", "+15551230005")
	p5.SetAddress("telegram", "1005")
	commit(t, s, store.Commit{PatientID: "p5", Patient: &p5})
}
