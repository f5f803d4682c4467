package content

import "testing"

func TestMedicationClasses(t *testing.T) {
	t.Parallel()
	p, _, err := Load(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		med, class string
		ok         bool
	}{
		{"lisinopril", "ras_antagonists", true},
		{"Lisinopril 10 mg", "ras_antagonists", true},
		{"amlodipine/benazepril", "ras_antagonists", true},
		{"ATORVASTATIN", "statins", true},
		{"metformin ER", "diabetes_non_insulin", true},
		{"Furosemide  40 mg", "furosemide 40 mg", false},
	} {
		id, threshold, ok := p.Medications.Class(c.med)
		if id != c.class || ok != c.ok || threshold != 0.80 {
			t.Errorf("Class(%q) = %q %v %v, want %q %v 0.80", c.med, id, threshold, ok, c.class, c.ok)
		}
	}
}
