package storetest

import (
	"testing"
	"time"

	"github.com/tendcare/tend/store"
)

// This file checks the Logins role: console sessions until they expire.

func testLogins(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := store.Login{Email: "nurse@clinic.org", Created: at(0), Seen: at(time.Minute), Expires: at(12 * time.Hour)}
	noErr(t, "PutLogin", s.PutLogin(ctx, "h1", l))
	got, err := s.Login(ctx, "h1", at(time.Hour))
	noErr(t, "Login", err)
	if got.Email != l.Email || !got.Seen.Equal(l.Seen) || !got.Expires.Equal(l.Expires) {
		t.Fatalf("Login = %+v, want %+v", got, l)
	}
	_, err = s.Login(ctx, "h1", at(12*time.Hour))
	wantErr(t, "Login at its end", err, store.ErrNotFound)
	_, err = s.Login(ctx, "h2", at(0))
	wantErr(t, "Login(unknown)", err, store.ErrNotFound)
	noErr(t, "PutLogin", s.PutLogin(ctx, "h3", l))
	noErr(t, "DeleteLogin", s.DeleteLogin(ctx, "h3"))
	_, err = s.Login(ctx, "h3", at(0))
	wantErr(t, "Login after DeleteLogin", err, store.ErrNotFound)
	noErr(t, "DeleteLogin(unknown)", s.DeleteLogin(ctx, "h4"))
}
