package embedded_test

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	"github.com/tendcare/tend/store/seal"
	"github.com/tendcare/tend/store/storetest"
)

// TestMigrateV1 opens files written by the release before generic
// addresses (testdata/README.md), in the clear and sealed: the Telegram
// chats read as addresses, the old index is gone, and opening again
// migrates nothing.
func TestMigrateV1(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"clear", "sealed"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			b, err := os.ReadFile(filepath.Join("testdata", "v1-"+name+".db"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "tend.db")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			wrap := func(s store.Store) store.Store { return s }
			if name == "sealed" {
				keys := testKeys(t)
				wrap = func(s store.Store) store.Store { return seal.Wrap(s, keys) }
			}
			s := wrap(open(t, dir, embedded.Options{NoSync: true}))
			storetest.V1Fixture(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			checkV2(t, path)

			s = wrap(open(t, dir, embedded.Options{NoSync: true}))
			t.Cleanup(func() { s.Close() })
			storetest.V1Fixture(t, s)
			storetest.V1FixtureChanges(t, s)
		})
	}
}

// checkV2 checks a closed file's layout: schema 2, no chat index, no
// "telegram" in a patient.
func checkV2(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); string(v) != "2" {
			t.Errorf("schema version %q, want 2", v)
		}
		if tx.Bucket([]byte("telegrams")) != nil {
			t.Error("the telegrams bucket is still there")
		}
		return tx.Bucket([]byte("patients")).ForEach(func(id, v []byte) error {
			if _, ok, err := store.MoveTelegramChat(v); ok || err != nil {
				t.Errorf("patient %s still has a telegram (%v): %s", id, err, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testKeys(t *testing.T) *seal.Keyring {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "keys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, err := seal.ParseKeyring("keys.txt", f)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
