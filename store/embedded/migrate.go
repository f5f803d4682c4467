package embedded

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// Schema versions:
//
//	1  a patient's Telegram chat was "telegram" in its JSON, indexed in
//	   the bucket telegrams (chat → patient ID)
//	2  it is "addresses": {"telegram": chat}, indexed with every other
//	   address in the bucket addresses ("telegram"\x00chat → patient ID)
//
// A new file starts at the current version.

// bTelegrams is the chat index of schema version 1.
var bTelegrams = []byte("telegrams")

// migrate brings the file to schemaVersion inside Open's transaction, so
// that a migration is all done or not at all, and runs once: the version
// is recorded with it. It refuses a file of a newer version.
func migrate(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	v := meta.Get(kSchema)
	switch {
	case v == nil:
		return meta.Put(kSchema, []byte(schemaVersion))
	case string(v) == schemaVersion:
		return nil
	case string(v) == "1":
		if err := migrateAddresses(tx); err != nil {
			return fmt.Errorf("schema 1 to 2: %w", err)
		}
		return meta.Put(kSchema, []byte(schemaVersion))
	}
	return fmt.Errorf("schema version %q, want %q", v, schemaVersion)
}

// migrateAddresses moves each patient's Telegram chat from "telegram" to
// Addresses["telegram"] and the chat index into the addresses index, as
// they are: a chat sealed by store/seal stays sealed (seal opens
// Addresses["telegram"] under the field it sealed "telegram" under).
func migrateAddresses(tx *bolt.Tx) error {
	addrs := tx.Bucket(bAddresses)
	if chats := tx.Bucket(bTelegrams); chats != nil {
		err := chats.ForEach(func(chat, id []byte) error {
			return addrs.Put(addressKey("telegram", string(chat)), bytes.Clone(id))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bTelegrams); err != nil {
			return err
		}
	}
	patients := tx.Bucket(bPatients)
	moved := map[string][]byte{}
	err := patients.ForEach(func(id, v []byte) error {
		b, ok, err := store.MoveTelegramChat(v)
		if ok {
			moved[string(id)] = b
		}
		if err != nil {
			return fmt.Errorf("patient %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Written after the walk: bbolt forbids changing a bucket in ForEach.
	for id, b := range moved {
		if err := patients.Put([]byte(id), b); err != nil {
			return err
		}
	}
	return nil
}
