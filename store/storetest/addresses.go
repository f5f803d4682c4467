package storetest

import (
	"testing"

	"github.com/tendcare/tend/store"
)

// This file checks the address index (PatientByAddress), with Telegram
// chats, the address a patient links, and a second channel to show that
// nothing in it is Telegram's.
func byChat(t *testing.T, s store.Store, chat string) (store.Patient, error) {
	t.Helper()
	return byAddress(t, s, "telegram", chat)
}

func byAddress(t *testing.T, s store.Store, channel, addr string) (store.Patient, error) {
	t.Helper()
	p, err := s.PatientByAddress(t.Context(), channel, addr)
	return normPatient(p), err
}

func testAddresses(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := byChat(t, s, "1001")
	wantErr(t, "PatientByAddress of an unknown chat", err, store.ErrNotFound)

	p := enroll(t, s, "p1", "+15551230001")
	_, err = byChat(t, s, "")
	wantErr(t, "PatientByAddress of an empty chat", err, store.ErrNotFound)

	// Linking a chat is a re-enrollment.
	p.SetAddress("telegram", "1001")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p})
	got, err := byChat(t, s, "1001")
	noErr(t, "PatientByAddress", err)
	check(t, "patient by chat", got, p)
	got, _, err = s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "loaded patient with a chat", normPatient(got), p)
	got, err = s.PatientByPhone(ctx, "+15551230001")
	noErr(t, "PatientByPhone", err)
	check(t, "patient by phone with a chat", normPatient(got), p)

	// A new chat replaces the old one in the index.
	p.SetAddress("telegram", "1002")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p})
	_, err = byChat(t, s, "1001")
	wantErr(t, "PatientByAddress of the replaced chat", err, store.ErrNotFound)
	got, err = byChat(t, s, "1002")
	noErr(t, "PatientByAddress of the new chat", err)
	check(t, "patient by new chat", got, p)

	// The freed chat can go to somebody else.
	p2 := newPatient("p2", "+15551230002")
	p2.SetAddress("telegram", "1001")
	commit(t, s, store.Commit{PatientID: "p2", Patient: &p2, Session: []byte("enrolled")})
	got, err = byChat(t, s, "1001")
	noErr(t, "PatientByAddress of the reused chat", err)
	check(t, "patient by reused chat", got, p2)

	// Unlinking frees the chat.
	p.SetAddress("telegram", "")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p})
	_, err = byChat(t, s, "1002")
	wantErr(t, "PatientByAddress of an unlinked chat", err, store.ErrNotFound)
	got, _, err = s.Load(ctx, "p1")
	noErr(t, "Load", err)
	check(t, "unlinked patient", normPatient(got), p)

	// Moving phone and chat in one commit moves both indexes.
	p2.Phone = "+15551230009"
	p2.SetAddress("telegram", "1009")
	commit(t, s, store.Commit{PatientID: "p2", Version: 1, Patient: &p2})
	_, err = s.PatientByPhone(ctx, "+15551230002")
	wantErr(t, "PatientByPhone of the old phone", err, store.ErrNotFound)
	_, err = byChat(t, s, "1001")
	wantErr(t, "PatientByAddress of the old chat", err, store.ErrNotFound)
	got, err = byChat(t, s, "1009")
	noErr(t, "PatientByAddress after a move", err)
	check(t, "patient by chat after a move", got, p2)

	// DeletePatient frees the chat.
	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p2"))
	_, err = byChat(t, s, "1009")
	wantErr(t, "PatientByAddress after DeletePatient", err, store.ErrNotFound)
	p3 := newPatient("p3", "+15551230003")
	p3.SetAddress("telegram", "1009")
	commit(t, s, store.Commit{PatientID: "p3", Patient: &p3})
	got, err = byChat(t, s, "1009")
	noErr(t, "PatientByAddress of a deleted patient's chat", err)
	check(t, "patient by a deleted patient's chat", got, p3)
}

func testAddressTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	link := func(id, phone, chat string) store.Patient {
		t.Helper()
		p := newPatient(id, phone)
		p.SetAddress("telegram", chat)
		commit(t, s, store.Commit{PatientID: id, Patient: &p, Session: []byte("enrolled")})
		return p
	}
	p1 := link("p1", "+15551230001", "2001")
	p2 := link("p2", "+15551230002", "2002")
	owners := func(want map[string]string) {
		t.Helper()
		for chat, id := range want {
			got, err := byChat(t, s, chat)
			if id == "" {
				wantErr(t, "PatientByAddress("+chat+")", err, store.ErrNotFound)
				continue
			}
			noErr(t, "PatientByAddress("+chat+")", err)
			if got.ID != id {
				t.Errorf("PatientByAddress(%s): got %s, want %s", chat, got.ID, id)
			}
		}
	}

	// A new patient with a phone of its own and p1's chat.
	p3 := newPatient("p3", "+15551230003")
	p3.SetAddress("telegram", "2001")
	c := turn("p3", 0, 1)
	c.Patient = &p3
	before := snap(t, s, "p3")
	wantErr(t, "enrolling with a taken chat", s.Commit(ctx, c), store.ErrAddressTaken)
	sameSnap(t, "a commit with a taken chat", snap(t, s, "p3"), before)
	_, _, err := s.Load(ctx, "p3")
	wantErr(t, "Load of the refused patient", err, store.ErrNotFound)
	_, err = s.PatientByPhone(ctx, "+15551230003")
	wantErr(t, "PatientByPhone of the refused patient's phone", err, store.ErrNotFound)
	// The refused commit did not keep its phone: somebody else can have it.
	link("p4", "+15551230003", "2004")

	// p2 moving to p1's chat, with or without a new phone.
	for _, phone := range []string{"+15551230002", "+15551230009"} {
		moved := p2
		moved.Phone = phone
		moved.SetAddress("telegram", "2001")
		before = snap(t, s, "p2")
		err := s.Commit(ctx, store.Commit{PatientID: "p2", Version: 1, Patient: &moved, Session: []byte("x")})
		wantErr(t, "moving to a taken chat", err, store.ErrAddressTaken)
		sameSnap(t, "a move to a taken chat", snap(t, s, "p2"), before)
	}
	owners(map[string]string{"2001": "p1", "2002": "p2"})
	_, err = s.PatientByPhone(ctx, "+15551230009")
	wantErr(t, "PatientByPhone of the phone a refused move asked for", err, store.ErrNotFound)
	got, err := s.PatientByPhone(ctx, "+15551230002")
	noErr(t, "PatientByPhone", err)
	check(t, "p2 by phone after refused moves", got.ID, "p2")

	// A refused phone does not take the chat that came with it.
	p5 := newPatient("p5", "+15551230001")
	p5.SetAddress("telegram", "2005")
	wantErr(t, "enrolling with a taken phone and a free chat", s.Commit(ctx, store.Commit{PatientID: "p5", Patient: &p5}), store.ErrPhoneTaken)
	owners(map[string]string{"2005": ""})
	link("p6", "+15551230006", "2005")
	owners(map[string]string{"2001": "p1", "2002": "p2", "2004": "p4", "2005": "p6"})

	// Re-enrolling a patient with its own chat is not a conflict.
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p1})
	owners(map[string]string{"2001": "p1"})
}

func testAddressChannels(t *testing.T, s store.Store) {
	ctx := t.Context()
	enrollWith := func(id, phone string, addrs ...string) (store.Patient, error) {
		t.Helper()
		p := newPatient(id, phone)
		for i := 0; i+1 < len(addrs); i += 2 {
			p.SetAddress(addrs[i], addrs[i+1])
		}
		return p, s.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("enrolled")})
	}
	owners := func(want map[[2]string]string) {
		t.Helper()
		for k, id := range want {
			got, err := byAddress(t, s, k[0], k[1])
			if id == "" {
				wantErr(t, "PatientByAddress("+k[0]+", "+k[1]+")", err, store.ErrNotFound)
				continue
			}
			noErr(t, "PatientByAddress("+k[0]+", "+k[1]+")", err)
			check(t, "owner of "+k[0]+" "+k[1], got.ID, id)
		}
	}

	// One address on two channels is two addresses, of two patients.
	p1, err := enrollWith("p1", "+15551230001", "telegram", "4001", "viber", "4002")
	noErr(t, "enrolling with two addresses", err)
	_, err = enrollWith("p2", "+15551230002", "viber", "4001")
	noErr(t, "enrolling with p1's Telegram chat as a Viber address", err)
	owners(map[[2]string]string{
		{"telegram", "4001"}: "p1", {"viber", "4002"}: "p1", {"viber", "4001"}: "p2", {"telegram", "4002"}: "",
	})
	got, err := byAddress(t, s, "viber", "4002")
	noErr(t, "PatientByAddress", err)
	check(t, "patient by a second channel's address", got, p1)

	// Taken on the other channel: refused, nothing written.
	before := snap(t, s, "p3")
	_, err = enrollWith("p3", "+15551230003", "viber", "4002")
	wantErr(t, "enrolling with a taken Viber address", err, store.ErrAddressTaken)
	sameSnap(t, "a commit with a taken Viber address", snap(t, s, "p3"), before)

	// Dropping one channel's address keeps the other's.
	p1.SetAddress("viber", "")
	commit(t, s, store.Commit{PatientID: "p1", Version: 1, Patient: &p1})
	owners(map[[2]string]string{{"viber", "4002"}: "", {"telegram", "4001"}: "p1"})
	_, err = enrollWith("p3", "+15551230003", "viber", "4002")
	noErr(t, "enrolling with a dropped Viber address", err)

	// DeletePatient frees every channel's address.
	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p2"))
	owners(map[[2]string]string{{"viber", "4001"}: "", {"viber", "4002"}: "p3"})

	// An empty address is none.
	p5 := newPatient("p5", "+15551230005")
	p5.Addresses = map[string]string{"telegram": ""}
	commit(t, s, store.Commit{PatientID: "p5", Patient: &p5, Session: []byte("enrolled")})
	_, err = byAddress(t, s, "telegram", "")
	wantErr(t, "PatientByAddress of an empty address", err, store.ErrNotFound)

	// A channel name a backend cannot key by is refused.
	_, err = enrollWith("p4", "+15551230004", "Tele gram", "4004")
	wantErr(t, "an address on channel \"Tele gram\"", err, store.ErrInvalid)
}
