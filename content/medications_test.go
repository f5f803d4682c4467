package content

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

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

// overFS serves one file over another pack.
type overFS struct {
	fs.FS
	name string
	data string
}

func (o overFS) Open(name string) (fs.File, error) {
	if name == o.name {
		return fstest.MapFS{name: {Data: []byte(o.data)}}.Open(name)
	}
	return o.FS.Open(name)
}

func (o overFS) Glob(pattern string) ([]string, error) { return fs.Glob(o.FS, pattern) }

// TestMedicationsLint: a class without a source or medications, a
// threshold that is not a fraction, a medicine in two classes and an
// unknown field each stop the pack, at their line.
func TestMedicationsLint(t *testing.T) {
	t.Parallel()
	bad := `classes:
  statins:
    threshold: 80
    source: "PQA"
    medications: [atorvastatin]
  other:
    medications: [Atorvastatin]
  empty:
    source: "x"
`
	_, problems, err := Load(overFS{Default(), MedicationsFile, bad})
	if err == nil {
		t.Fatal("pack loaded")
	}
	var got []string
	for _, p := range problems {
		if p.File == MedicationsFile {
			got = append(got, fmt.Sprintf("%d: %s", p.Line, p.Msg))
		}
	}
	want := []string{
		`6: class "other" has no source`,
		`2: class "statins": "atorvastatin" is also in class "other"`,
		`8: class "empty" has no medications`,
		`2: class "statins": threshold 80 is not between 0 and 1`,
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no problem %q in %q", w, got)
		}
	}
	_, problems, _ = Load(overFS{Default(), MedicationsFile, "classes:\n  statins:\n    drugs: [x]\n"})
	if len(problems) == 0 || !strings.Contains(problems[0].Msg+fmt.Sprint(problems), "drugs") {
		t.Errorf("unknown field: %v", problems)
	}
}
