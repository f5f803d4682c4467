package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tendcare/tend/store"
)

// testListPatients: ListPatients pages through enrolled patients in id
// order, leaves out unenrolled ones, and reads them whole.
func testListPatients(t *testing.T, s store.Store) {
	l, ok := s.(store.PatientPager)
	if !ok {
		t.Skip("the store does not implement store.PatientPager")
	}
	ctx := t.Context()
	for i := range 7 {
		enroll(t, s, fmt.Sprintf("p%02d", 7-i), fmt.Sprintf("+155500000%02d", i))
	}
	noErr(t, "DeletePatient", s.DeletePatient(ctx, "p04"))
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := l.ListPatients(ctx, after, 2)
		noErr(t, "ListPatients", err)
		for _, p := range page {
			got = append(got, p.ID)
			if p.Phone == "" || len(p.Medications) != 1 || p.Medications[0].Display != "Amlodipine 5 mg" || p.Programs[0] != "hypertension" {
				t.Fatalf("ListPatients read %+v", p)
			}
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if want := []string{"p01", "p02", "p03", "p05", "p06", "p07"}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if page, err := l.ListPatients(ctx, "p07", 10); err != nil || len(page) != 0 {
		t.Fatalf("after the last: %v %v", page, err)
	}
}
