package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
)

// Schema versions, kept in the key T:schema of shard 0 (none: 1):
//
//	1  a patient's Telegram chat was "telegram" in its JSON, indexed as
//	   T:tg:<chat> in the chat's shard
//	2  it is "addresses": {"telegram": chat}, indexed with every other
//	   address as T:ad:telegram:<chat>, in the same shard
const schemaVersion = 2

// schema is the key of the store's schema version.
func (k *keyspace) schema() string { return k.base[0] + "schema" }

// legacyChat is the chat index key of schema version 1.
func (k *keyspace) legacyChat(chat string) string { return k.base[shardOf(chat)] + "tg:" + chat }

// migrate brings the store to schemaVersion, once: Open calls it, and it
// records the version when done. Each step is atomic per key and can run
// again, so a migration cut short by a crash, or run by two replicas that
// start together, ends the same. Replicas of an older release must be
// stopped first: they would keep writing the old layout.
func (s *Store) migrate(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, s.k.schema()).Int()
	switch {
	case errors.Is(err, goredis.Nil):
		v = 1
	case err != nil:
		return fmt.Errorf("redis: schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("redis: schema version %d, want %d (written by a newer release)", v, schemaVersion)
	}
	if err := s.migrateAddresses(ctx); err != nil {
		return fmt.Errorf("redis: schema 1 to 2: %w", err)
	}
	if err := s.rdb.Set(ctx, s.k.schema(), schemaVersion, 0).Err(); err != nil {
		return fmt.Errorf("redis: schema version: %w", err)
	}
	return nil
}

// migrateAddresses moves the chat index to the address index, then each
// patient's "telegram" to Addresses["telegram"], as they are: a chat
// sealed by store/seal stays sealed (seal opens Addresses["telegram"]
// under the field it sealed "telegram" under).
func (s *Store) migrateAddresses(ctx context.Context) error {
	err := s.scan(ctx, "migrate chat index", "tg:", func(chat string) error {
		keys := []string{s.k.legacyChat(chat), s.k.address("telegram", chat)}
		return moveChatScript.Run(ctx, s.rdb, keys).Err()
	})
	if err != nil {
		return err
	}
	return s.scan(ctx, "migrate patients", "pat:", func(id string) error {
		return s.migratePatient(ctx, id)
	})
}

// migratePatient rewrites one enrollment that has a "telegram", with a
// compare-and-set, so that a concurrent write is never overwritten.
func (s *Store) migratePatient(ctx context.Context, id string) error {
	key := s.k.patient(id)
	for range 10 {
		v, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		moved, ok, err := store.MoveTelegramChat([]byte(v))
		if err != nil {
			return fmt.Errorf("patient %s: %w", id, err)
		}
		if !ok {
			return nil
		}
		n, err := casScript.Run(ctx, s.rdb, []string{key}, v, string(moved)).Int()
		if err != nil || n == 1 {
			return err
		}
	}
	return fmt.Errorf("patient %s: changed ten times during its migration", id)
}

// moveChatScript moves a schema 1 chat index record to its schema 2 key
// (both in the chat's shard), unless that key exists already: then it only
// deletes the old one. KEYS: 1 tg:<chat>, 2 ad:telegram:<chat>.
var moveChatScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], v) end
redis.call('DEL', KEYS[1])
return 1
`)
