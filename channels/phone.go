package channels

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is assumed for numbers written without a country code.
const DefaultRegion = "US"

// E164 normalizes a phone number to E.164 (+15551230001). It accepts the
// forms people and providers write ("(555) 123-0001", "whatsapp:+1555...")
// and refuses what cannot be a phone number. It checks that a number is
// possible, not that it is assigned, so test numbers like 555 ones pass.
func E164(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "", fmt.Errorf("empty phone number")
	}
	n, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("not a phone number: %w", err)
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("not a possible phone number")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}
