package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is the -update flag of every test binary that compares goldens.
var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Compare fails t when got differs from the file, naming the command that
// accepts it; with -update it writes got to the file instead.
func Compare(t testing.TB, file, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s (go test with -update to accept):\n--- got\n%s--- want\n%s", file, got, want)
	}
}
