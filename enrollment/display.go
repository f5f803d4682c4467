package enrollment

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDisplay is the longest medicine name a patient may be shown, in
// characters: enough for "metoprolol succinate ER 25 mg", short enough
// that a reminder naming it stays within its segments.
const MaxDisplay = 40

// displayPunct is the punctuation a medicine's name may hold.
const displayPunct = " .,-()/%+'&"

// CheckDisplay checks a medicine's display name before it is kept. The
// name comes from a clinic's system and goes into texts to the patient
// (when they allowed it), so it must read as a medicine's name and
// nothing else: at most MaxDisplay characters of letters, digits, spaces
// and basic punctuation, and nothing a patient could follow elsewhere —
// no web address, no phone number, no e-mail address, no "scheme:".
func CheckDisplay(s string) error {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxDisplay {
		return fmt.Errorf("%d characters, at most %d", n, MaxDisplay)
	}
	if strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return errors.New("leading, trailing or double spaces")
	}
	for _, r := range s {
		switch {
		case r == '@':
			return errors.New("an e-mail address is not a medicine's name (no @)")
		case r == ':':
			return errors.New("no ':' (a link such as tel: or https:)")
		case r >= '0' && r <= '9', unicode.IsLetter(r), unicode.Is(unicode.Mn, r), strings.ContainsRune(displayPunct, r):
		default:
			return fmt.Errorf("character %q is not allowed (letters, digits, spaces and %s)", r, strings.TrimSpace(displayPunct))
		}
	}
	lower := strings.ToLower(s)
	if strings.Contains(lower, "www") || strings.Contains(lower, "http") || domainLike(lower) {
		return errors.New("a web address is not a medicine's name")
	}
	if phoneLike(s) {
		return errors.New("a phone number is not a medicine's name (7 or more digits in a row)")
	}
	return nil
}

// domainLike reports a dot between a letter or digit and two letters
// ("x.ly", "clinic.com"): a web address without its scheme. "a.m." and
// "Ext. Str" pass.
func domainLike(s string) bool {
	rs := []rune(s)
	for i := 1; i+2 < len(rs); i++ {
		if rs[i] != '.' {
			continue
		}
		before, a, b := rs[i-1], rs[i+1], rs[i+2]
		if (unicode.IsLetter(before) || unicode.IsDigit(before)) && unicode.IsLetter(a) && unicode.IsLetter(b) {
			return true
		}
	}
	return false
}

// phoneLike reports seven or more digits with only phone-number
// separators between them ("555 0100", "(555) 010-0100", "+15550100").
func phoneLike(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
			if digits >= 7 {
				return true
			}
		case strings.ContainsRune(" -.()+", r):
		default:
			digits = 0
		}
	}
	return false
}
