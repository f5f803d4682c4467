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
// services and emergency authorities of each country; docs/clinical.md
// and research section 7.3. Haiti, Pakistan and the Gulf states are left
// out until their numbers are checked: a clinic there sets its own.
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
	"20":  {"123", ""},         // Egypt: ambulance
	"27":  {"112", ""},         // South Africa: from mobiles (10177 from landlines)
	"234": {"112", ""},         // Nigeria
	"254": {"999", ""},         // Kenya
	"880": {"999", ""},         // Bangladesh
}

// regionNumbers maps an ISO 3166-1 alpha-2 country code (a patient's
// country of residence) to its numbers: the countries of countryNumbers,
// and the European Union's member states, where 112 is the emergency
// number by law (European Electronic Communications Code, Directive (EU)
// 2018/1972, article 109), with the crisis lines above where we know one.
var regionNumbers = map[string]ServiceNumbers{
	"US": {"911", "988"}, "CA": {"911", "988"}, "MX": {"911", ""}, "PH": {"911", ""},
	"GB": {"999", "116 123"}, "ES": {"112", "024"}, "FR": {"112", "3114"}, "PT": {"112", ""},
	"DE": {"112", ""}, "IT": {"112", ""}, "RU": {"112", ""}, "KZ": {"112", ""}, "IN": {"112", ""},
	"CN": {"120", ""}, "VN": {"115", ""}, "KR": {"119", ""}, "TW": {"119", ""}, "BR": {"192", "188"},
	"AU": {"000", "13 11 14"}, "NZ": {"111", "1737"},
	"EG": {"123", ""}, "ZA": {"112", ""}, "NG": {"112", ""}, "KE": {"999", ""}, "BD": {"999", ""},
	"AT": {"112", ""}, "BE": {"112", ""}, "BG": {"112", ""}, "HR": {"112", ""}, "CY": {"112", ""},
	"CZ": {"112", ""}, "DK": {"112", ""}, "EE": {"112", ""}, "FI": {"112", ""}, "GR": {"112", ""},
	"HU": {"112", ""}, "IE": {"112", ""}, "LV": {"112", ""}, "LT": {"112", ""}, "LU": {"112", ""},
	"MT": {"112", ""}, "NL": {"112", ""}, "PL": {"112", ""}, "RO": {"112", ""}, "SK": {"112", ""},
	"SI": {"112", ""}, "SE": {"112", ""},
}

// NumbersForCountry returns the service numbers of a country of residence
// (ISO 3166-1 alpha-2, upper case), and false when the country is not in
// the table.
func NumbersForCountry(country string) (ServiceNumbers, bool) {
	s, ok := regionNumbers[country]
	return s, ok
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
