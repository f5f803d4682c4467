package api

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tendcare/tend/enrollment"
)

// TestPatientMirrorsEnrollment checks that Patient has the enrollment's
// fields, in its order, with Telegram where the enrollment has Addresses,
// so that a field added to the enrollment is not left out of the API.
func TestPatientMirrorsEnrollment(t *testing.T) {
	t.Parallel()
	names := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			f := rt.Field(i)
			out = append(out, f.Name+" "+f.Type.String()+" "+f.Tag.Get("json"))
		}
		return out
	}
	want := names(enrollment.Patient{})
	i := slices.Index(want, "Addresses map[string]string addresses,omitempty")
	if i < 0 {
		t.Fatalf("enrollment.Patient has no Addresses: %v", want)
	}
	want[i] = "Telegram string telegram,omitempty"
	if got := names(Patient{}); !slices.Equal(got, want) {
		t.Errorf("api.Patient fields:\n%v\nwant the enrollment's:\n%v", got, want)
	}
}
