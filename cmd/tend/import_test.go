package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendcare/tend/channels/sms/smstest"
)

// enrollmentLine is one NDJSON line of tend import patients.
func enrollmentLine(t *testing.T, id, phone string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "phone": phone, "language": "en", "timezone": "America/Chicago",
		"programs": []string{"hypertension"}, "medications": []any{map[string]any{"id": "m", "times": []string{"08:00"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportPatients: tend import patients posts a file to a running
// server, draws the job's progress on standard error and lists the failed
// lines; it exits 1 when a line failed and 0 when none did, and the same
// file again answers with the job as it ended rather than enrolling again.
func TestImportPatients(t *testing.T) {
	t.Parallel()
	p := startTend(t, "", t.TempDir(), smstest.New(t))
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.ndjson")
	os.WriteFile(mixed, []byte(strings.Join([]string{
		enrollmentLine(t, "imp-1", "+15553000001"),
		`{"id":"imp-x","phone":`,
		enrollmentLine(t, "imp-2", "+15553000002"),
		strings.Replace(enrollmentLine(t, "imp-3", "+15553000003"), "hypertension", "no-such-program", 1),
	}, "\n")), 0o600)
	env := []string{"TEND_API_TOKEN=" + e2eToken}

	code, stdout, stderr, _ := tendRun(t, env, "import", "patients", mixed, "--url", p.URL, "--every", "50ms")
	if code != 1 || !strings.Contains(stdout, "2 enrolled, 0 skipped, 2 failed of 4") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and 2 of 4 enrolled", code, stdout, stderr)
	}
	for _, want := range []string{"[##############################] 4/4", "line 2: malformed JSON",
		`line 4: patient "imp-3": programs: invalid`, "2 of 4 lines failed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "no-such-program") {
		t.Errorf("stderr quotes a value:\n%s", stderr)
	}
	for _, id := range []string{"imp-1", "imp-2"} {
		p.api(http.MethodGet, "/patients/"+id, nil, http.StatusOK, nil)
	}
	job := strings.Fields(stdout)[1]

	// The same file again: its key finds the finished job.
	code, again, _, _ := tendRun(t, env, "import", "patients", "--url", p.URL, mixed)
	if code != 1 || !strings.HasPrefix(again, "job "+job+" done: 2 enrolled") {
		t.Errorf("the same file again: exit %d, %q; want job %s as it ended", code, again, job)
	}

	good := filepath.Join(dir, "good.ndjson")
	os.WriteFile(good, []byte(enrollmentLine(t, "imp-4", "+15553000004")+"\n\n"+enrollmentLine(t, "imp-5", "+15553000005")+"\n"), 0o600)
	if code, stdout, stderr, _ := tendRun(t, env, "import", "patients", good, "--url", p.URL, "--every", "50ms"); code != 0 ||
		!strings.Contains(stdout, "2 enrolled, 0 skipped, 0 failed of 2") {
		t.Errorf("a good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Without a token: none in the environment, none in the data dir.
	if code, _, stderr, _ := tendRun(t, []string{"TEND_DATA_DIR=" + dir}, "import", "patients", good, "--url", p.URL); code != 1 ||
		!strings.Contains(stderr, "no API token") {
		t.Errorf("no token: exit %d, %q", code, stderr)
	}
	if code, _, stderr, _ := tendRun(t, nil, "import", "patients"); code != 2 || !strings.Contains(stderr, "FILE") {
		t.Errorf("no file: exit %d, %q", code, stderr)
	}
}
