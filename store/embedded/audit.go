package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/audit"
)

// AppendAudit implements store.Store: one transaction reads the last
// record, seals the new one after it and puts it under its 8-byte
// sequence number, so the chain has one writer at a time.
func (s *Store) AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error) {
	if err := ctx.Err(); err != nil {
		return r, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAudit)
		var prev *audit.Record
		if _, v := b.Cursor().Last(); v != nil {
			prev = new(audit.Record)
			if err := json.Unmarshal(v, prev); err != nil {
				return err
			}
		}
		audit.Seal(&r, prev)
		data, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, r.Seq), data)
	})
	return r, err
}

// AuditRecords implements store.Store, in sequence order.
func (s *Store) AuditRecords(ctx context.Context, fn func(audit.Record) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAudit).ForEach(func(_, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r audit.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			return fn(r)
		})
	})
}
