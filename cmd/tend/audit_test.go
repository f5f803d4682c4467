package main

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// tend audit verify passes an untouched log and finds an edited record.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEND_STORE", "embedded")
	t.Setenv("TEND_DATA_DIR", dir)
	var out bytes.Buffer
	for _, email := range []string{"a@clinic.org", "b@clinic.org", "c@clinic.org"} {
		if err := staffCmd([]string{"add", "--email", email, "--role", "coach", "--team", "north"}, nil, &out); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := auditCmd([]string{"verify"}, &out); err != nil || !strings.Contains(out.String(), "intact: 3 records") {
		t.Fatalf("verify: %v %q", err, out.String())
	}
	// Someone with the file edits the second record.
	db, err := bolt.Open(filepath.Join(dir, "tend.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		k := binary.BigEndian.AppendUint64(nil, 2)
		return b.Put(k, bytes.Replace(b.Get(k), []byte("b@clinic.org"), []byte("x@clinic.org"), 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = auditCmd([]string{"verify"}, &out)
	if err == nil || !strings.Contains(err.Error(), "record 2") || !strings.Contains(err.Error(), "edited") {
		t.Fatalf("verify after an edit: %v", err)
	}
}
