package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/redis/redistest"
	"github.com/tendcare/tend/store/seal"
	"github.com/tendcare/tend/store/storetest"
)

// TestMigrateV1 loads keys written by the release before generic addresses
// (testdata/README.md), in the clear and sealed, into a fresh Redis: Open
// migrates them, the Telegram chats read as addresses, no chat index key
// is left, and migrating again (the schema key lost) changes nothing.
func TestMigrateV1(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	loadFixture(t, addr, filepath.Join("testdata", "v1.json"))
	for _, prefix := range []string{"v1clear", "v1sealed"} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			wrap := func(s *Store) store.Store { return s }
			if prefix == "v1sealed" {
				keys := testKeys(t)
				wrap = func(s *Store) store.Store { return seal.Wrap(s, keys) }
			}
			opts := Options{Addrs: []string{addr}, KeyPrefix: prefix, Lease: -1}
			s := openStore(t, opts)
			storetest.V1Fixture(t, wrap(s))
			checkV2(t, s)
			// Again, as after a crash before the version was recorded.
			if err := s.rdb.Del(t.Context(), s.k.schema()).Err(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = openStore(t, opts)
			t.Cleanup(func() { s.Close() })
			checkV2(t, s)
			storetest.V1Fixture(t, wrap(s))
			storetest.V1FixtureChanges(t, wrap(s))
		})
	}
}

// checkV2 checks the keys of s: schema 2, no chat index, no "telegram" in
// a patient.
func checkV2(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	if v, err := s.rdb.Get(ctx, s.k.schema()).Result(); err != nil || v != "2" {
		t.Errorf("schema version %q, %v; want 2", v, err)
	}
	err := s.scan(ctx, "chats", "tg:", func(chat string) error {
		t.Errorf("chat index key of %q left", chat)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.PatientIDs(ctx, func(id string) error {
		v, err := s.rdb.Get(ctx, s.k.patient(id)).Result()
		if _, ok, merr := store.MoveTelegramChat([]byte(v)); err != nil || ok || merr != nil {
			t.Errorf("patient %s still has a telegram (%v, %v): %s", id, err, merr, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fixtureKey is a key of a fixture (store/testdata/genv1).
type fixtureKey struct {
	Key    string          `json:"key"`
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value"`
	Base64 string          `json:"base64"`
	PTTL   int64           `json:"pttl_ms"`
}

// loadFixture writes the keys of a fixture to the Redis at addr.
func loadFixture(t *testing.T, addr, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []fixtureKey
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	ctx := t.Context()
	for _, k := range keys {
		if err := loadKey(ctx, rdb, k); err != nil {
			t.Fatalf("%s: %v", k.Key, err)
		}
		if k.PTTL > 0 {
			if err := rdb.PExpire(ctx, k.Key, time.Duration(k.PTTL)*time.Millisecond).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func loadKey(ctx context.Context, rdb *goredis.Client, k fixtureKey) error {
	switch k.Type {
	case "string":
		var v string
		if k.Base64 != "" {
			b, err := base64.StdEncoding.DecodeString(k.Base64)
			if err != nil {
				return err
			}
			v = string(b)
		} else if err := json.Unmarshal(k.Value, &v); err != nil {
			return err
		}
		return rdb.Set(ctx, k.Key, v, 0).Err()
	case "list":
		var vs []string
		if err := json.Unmarshal(k.Value, &vs); err != nil {
			return err
		}
		return rdb.RPush(ctx, k.Key, vs).Err()
	case "hash":
		var m map[string]string
		if err := json.Unmarshal(k.Value, &m); err != nil {
			return err
		}
		return rdb.HSet(ctx, k.Key, m).Err()
	case "set":
		var vs []string
		if err := json.Unmarshal(k.Value, &vs); err != nil {
			return err
		}
		return rdb.SAdd(ctx, k.Key, vs).Err()
	case "zset":
		var m map[string]float64
		if err := json.Unmarshal(k.Value, &m); err != nil {
			return err
		}
		for member, score := range m {
			if err := rdb.ZAdd(ctx, k.Key, goredis.Z{Score: score, Member: member}).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	return os.ErrInvalid
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
