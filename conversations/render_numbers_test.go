package conversations

import (
	"testing"

	"github.com/tendcare/tend/enrollment"
	"github.com/tendcare/tend/locales"
)

// TestNumbersCountryOfResidence: the country of residence gives the
// emergency number before the clinic's setting and the phone's country.
func TestNumbersCountryOfResidence(t *testing.T) {
	t.Parallel()
	r := &Renderer{Emergency: "911", Crisis: "988"}
	for _, c := range []struct {
		name string
		p    enrollment.Patient
		want locales.ServiceNumbers
	}{
		{"clinic's, no country", enrollment.Patient{Phone: "+447700900123"}, locales.ServiceNumbers{Emergency: "911", Crisis: "988"}},
		{"US phone, lives in the UK", enrollment.Patient{Phone: "+13125550100", Country: "GB"}, locales.ServiceNumbers{Emergency: "999", Crisis: "116 123"}},
		{"lives in Germany: no crisis line borrowed", enrollment.Patient{Phone: "+13125550100", Country: "DE"}, locales.ServiceNumbers{Emergency: "112"}},
		{"own numbers first", enrollment.Patient{Phone: "+13125550100", Country: "GB", EmergencyNumber: "112", CrisisLine: "0800 123"}, locales.ServiceNumbers{Emergency: "112", Crisis: "0800 123"}},
		{"country not in the table: as before", enrollment.Patient{Phone: "+13125550100", Country: "HT"}, locales.ServiceNumbers{Emergency: "911", Crisis: "988"}},
	} {
		if got := r.Numbers(&c.p); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := (&Renderer{}).Numbers(&enrollment.Patient{Phone: "+34600000000", Country: "MX"}); got.Emergency != "911" {
		t.Errorf("Spanish phone living in Mexico: %+v, want 911", got)
	}
}
