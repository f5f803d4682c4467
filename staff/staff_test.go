package staff

import (
	"errors"
	"strings"
	"testing"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestPassword(t *testing.T) {
	t.Parallel()
	h := Hash("correct horse battery", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	if h2 := Hash("correct horse battery", cheap); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, rehash := Check(h, "correct horse battery", cheap); !ok || rehash {
		t.Fatalf("right password: ok %v rehash %v", ok, rehash)
	}
	if ok, _ := Check(h, "correct horse batterz", cheap); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, rehash := Check(h, "correct horse battery", Params{Memory: 128, Time: 1, Threads: 1}); !ok || !rehash {
		t.Fatalf("weaker parameters: ok %v rehash %v, want a rehash", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", "plain"} {
		if ok, _ := Check(bad, "", cheap); ok {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if err := CheckStrength("short"); err == nil {
		t.Error("a 5-character password passed")
	}
	if err := CheckStrength(NewPassword()); err != nil {
		t.Errorf("a generated password fails: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	a := Account{Email: "  Coach@Clinic.ORG ", Role: Coach, Teams: []string{"north", " north", "", "south"}}
	if err := a.Validate(); err != nil || a.Email != "coach@clinic.org" || strings.Join(a.Teams, ",") != "north,south" {
		t.Fatalf("%v %+v", err, a)
	}
	if !a.Sees("north") || a.Sees("east") || a.Sees("") {
		t.Fatal("a coach sees only their teams")
	}
	admin := Account{Email: "a@b.org", Role: Admin}
	if err := admin.Validate(); err != nil || !admin.Sees("east") || !admin.Sees("") {
		t.Fatalf("admin: %v", err)
	}
	for _, bad := range []Account{
		{Email: "Coach <c@x.org>", Role: Coach, Teams: []string{"t"}},
		{Email: "nobody", Role: Coach, Teams: []string{"t"}},
		{Email: "c@x.org", Role: "owner", Teams: []string{"t"}},
		{Email: "c@x.org", Role: Nurse},
		{Email: "c@x.org", Role: Nurse, Teams: []string{"bad team"}},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
}
