package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/seal"
)

// TestExport writes patients through a sealed embedded store, as tend
// serve does, then runs tend export: one NDJSON line per patient, in id
// order, with the enrollment, timeline and tickets decrypted; --patient
// exports one (an unenrolled one too, without enrollment); -o writes a
// file only its owner can read and warns on standard error; the export is
// audited; an unknown patient fails.
func TestExport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	line, err := seal.GenerateKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, keysName), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--store", "embedded", "--data-dir", dir}
	c, err := parseConfig("export", flags)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"p2", "p1", "p3"} {
		p := store.Patient{ID: id, Phone: "+1555123000" + id[1:], Programs: []string{"heart-failure"}, EnrolledAt: t0}
		err := st.Commit(ctx, store.Commit{PatientID: id, Patient: &p, Session: []byte("s"),
			Events:      []store.Event{{ID: "e-" + id, Type: "message.in", At: t0, Text: "my ankles are swollen"}},
			Escalations: []store.Escalation{{ID: "t-" + id, PatientID: id, Priority: "high", Reason: "weight up 2 kg", OpenedAt: t0, Due: t0, Status: store.TicketOpen}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeletePatient(ctx, "p3"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if err := exportCmd(flags, &out, &errb); err != nil {
		t.Fatalf("export: %v (%s)", err, errb.String())
	}
	var recs []exportRecord
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r exportRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 || recs[0].ID != "p1" || recs[1].ID != "p2" {
		t.Fatalf("exported %+v, want p1 and p2 (the enrolled ones) in id order", recs)
	}
	r := recs[0]
	if r.Patient == nil || r.Patient.Phone != "+15551230001" || r.Patient.Programs[0] != "heart-failure" ||
		len(r.Events) != 1 || r.Events[0].Text != "my ankles are swollen" || len(r.Tickets) != 1 || r.Tickets[0].Reason != "weight up 2 kg" {
		t.Fatalf("p1's record is not whole and decrypted: %+v", r)
	}

	// One patient, unenrolled, to a file.
	file := filepath.Join(t.TempDir(), "p3.ndjson")
	out.Reset()
	errb.Reset()
	if err := exportCmd(append(flags, "--patient", "p3", "-o", file), &out, &errb); err != nil {
		t.Fatalf("export --patient p3: %v", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "PHI") || strings.Count(string(b), "\n") != 1 ||
		!strings.Contains(string(b), `"patient":null`) || !strings.Contains(string(b), "weight up 2 kg") {
		t.Errorf("export -o: stdout %q, stderr %q, file %s", out.String(), errb.String(), b)
	}
	if err := exportCmd(append(flags, "--patient", "nobody"), &out, &errb); err == nil || !strings.Contains(err.Error(), "no patient nobody") {
		t.Errorf("export of an unknown patient: %v", err)
	}

	// Each export is audited as cli.
	st, err = openStore(c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var exports []audit.Record
	st.AuditRecords(ctx, func(r audit.Record) error {
		if r.Action == audit.ExportPatients {
			exports = append(exports, r)
		}
		return nil
	})
	if len(exports) != 3 || exports[0].Staff != "cli" || exports[0].Patient != "" || exports[1].Patient != "p3" {
		t.Errorf("export audit records: %+v", exports)
	}
}
