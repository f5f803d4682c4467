package staff

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// The SHA-1 vectors of RFC 6238, appendix B (eight digits), and their last
// six digits, which is what TOTPCode gives.
func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	key, err := totpKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		if got := hotp(key, TOTPStep(at), 8); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.want)
		}
		if got, _ := TOTPCode(secret, at); got != v.want[2:] {
			t.Errorf("T=%d: six digits %s, want %s", v.unix, got, v.want[2:])
		}
	}
}

// A code matches at its step and one step either side, not two; spaces
// and a lower-case secret are forgiven; a malformed secret matches nothing.
func TestMatchTOTP(t *testing.T) {
	t.Parallel()
	secret := NewTOTPSecret()
	if len(secret) != 32 || strings.ContainsAny(secret, "=") {
		t.Fatalf("secret %q: want 32 base32 characters without padding", secret)
	}
	now := time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)
	code, err := TOTPCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -TOTPPeriod, TOTPPeriod} {
		step, ok := MatchTOTP(strings.ToLower(GroupSecret(secret)), code[:3]+" "+code[3:], now.Add(d))
		if !ok || step != TOTPStep(now) {
			t.Errorf("%v away: ok %v step %d, want step %d", d, ok, step, TOTPStep(now))
		}
	}
	for _, d := range []time.Duration{-2 * TOTPPeriod, 2 * TOTPPeriod} {
		if _, ok := MatchTOTP(secret, code, now.Add(d)); ok {
			t.Errorf("a code %v away matched", d)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := MatchTOTP(secret, bad, now); ok {
			t.Errorf("code %q matched", bad)
		}
	}
	if _, ok := MatchTOTP("not base32!", code, now); ok {
		t.Error("a malformed secret matched")
	}
}

func TestTOTPURI(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(TOTPURI("Tend", "nurse@clinic.org", "JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Tend:nurse@clinic.org" || q.Get("secret") != "JBSWY3DPEHPK3PXP" ||
		q.Get("issuer") != "Tend" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("URI %s", u)
	}
}
