package locales

import "strings"

// ServiceNumbers are the numbers a safety reply gives: the medical emergency
// number and the suicide and crisis line of one country. Crisis is empty
// where we know of no national line; the reply then gives the emergency
// number alone.
type ServiceNumbers struct {
	Emergency string
	Crisis    string
}

// FallbackEmergency is the number given when neither the patient, the
// clinic nor the country of the patient's phone says otherwise: GSM phones
// route 112 to the local emergency service almost everywhere.
const FallbackEmergency = "112"

// countryNumbers maps an E.164 country calling code to its numbers. Only
// numbers checked against a national source are here; a clinic sets its
// own (TEND_EMERGENCY_NUMBER, TEND_CRISIS_LINE) or a patient's
// (emergency_number, crisis_line) where this table is silent or wrong.
// Sources: FCC 911 and 988 (US), CRTC 988 (Canada), the national health
// services and emergency authorities of each country.
var countryNumbers = map[string]ServiceNumbers{
	"1":   {"911", "988"},      // United States, Canada (NANP)
	"52":  {"911", ""},         // Mexico
	"63":  {"911", ""},         // Philippines
	"44":  {"999", "116 123"},  // United Kingdom: Samaritans
	"34":  {"112", "024"},      // Spain: Línea 024
	"33":  {"112", "3114"},     // France: numéro national de prévention du suicide
	"351": {"112", ""},         // Portugal
	"49":  {"112", ""},         // Germany
	"39":  {"112", ""},         // Italy
	"7":   {"112", ""},         // Russia, Kazakhstan
	"91":  {"112", ""},         // India
	"86":  {"120", ""},         // China: ambulance
	"84":  {"115", ""},         // Vietnam: ambulance
	"82":  {"119", ""},         // South Korea
	"886": {"119", ""},         // Taiwan
	"55":  {"192", "188"},      // Brazil: SAMU; CVV
	"61":  {"000", "13 11 14"}, // Australia: Lifeline
	"64":  {"111", "1737"},     // New Zealand
}

// NumbersFor returns the service numbers of the country of an E.164 phone
// number, and false when the country is not in the table.
func NumbersFor(phone string) (ServiceNumbers, bool) {
	digits := strings.TrimPrefix(phone, "+")
	// Calling codes are prefix-free: at most one of 1, 2 or 3 digits matches.
	for n := 1; n <= 3 && n <= len(digits); n++ {
		if s, ok := countryNumbers[digits[:n]]; ok {
			return s, true
		}
	}
	return ServiceNumbers{}, false
}

// ValidServiceNumber reports whether s can be a number to call: 2 to 15
// digits, with single spaces between groups ("116 123").
func ValidServiceNumber(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' ':
		default:
			return false
		}
	}
	return digits >= 2 && digits <= 15
}
