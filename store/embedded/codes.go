package embedded

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tendcare/tend/store"
)

// PutCode implements store.Store. A code put again replaces its value and
// expiry. On its way it forgets a few codes that expired before the latest
// now TakeCode was given (the store has no clock of its own for codes).
func (s *Store) PutCode(ctx context.Context, code, value string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if code == "" {
		return fmt.Errorf("%w: empty code", ErrInvalid)
	}
	k, exp := []byte(code), timeKey(expires)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		codes, codesAt := tx.Bucket(bCodes), tx.Bucket(bCodesAt)
		if hw := tx.Bucket(bMeta).Get(kCodesNow); len(hw) == 8 {
			if _, err := pruneBefore(codesAt, codes, bytes.Clone(hw), true, pruneBatch); err != nil {
				return err
			}
		}
		if old := codes.Get(k); len(old) >= 8 {
			if err := codesAt.Delete(concat(old[:8], k)); err != nil {
				return err
			}
		}
		if err := codes.Put(k, concat(exp, []byte(value))); err != nil {
			return err
		}
		return codesAt.Put(concat(exp, k), nil)
	})
	if err != nil {
		return fmt.Errorf("embedded: put code: %w", err)
	}
	return nil
}

// TakeCode implements store.Store. A code is expired at its expiry time.
// The code is deleted whether it was still valid or not, and a few other
// codes expired at now go with it: as for Once, the now given to TakeCode
// is assumed never to go backwards.
func (s *Store) TakeCode(ctx context.Context, code string, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if code == "" {
		return "", store.ErrNotFound
	}
	k, nowKey := []byte(code), timeKey(now)
	var (
		value string
		found bool
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		value, found = "", false
		codes, codesAt, meta := tx.Bucket(bCodes), tx.Bucket(bCodesAt), tx.Bucket(bMeta)
		if v := codes.Get(k); len(v) >= 8 {
			exp := bytes.Clone(v[:8])
			if bytes.Compare(nowKey, exp) < 0 {
				value, found = string(v[8:]), true
			}
			if err := codes.Delete(k); err != nil {
				return err
			}
			if err := codesAt.Delete(concat(exp, k)); err != nil {
				return err
			}
		}
		if hw := meta.Get(kCodesNow); bytes.Compare(nowKey, hw) > 0 {
			if err := meta.Put(kCodesNow, nowKey); err != nil {
				return err
			}
		}
		_, err := pruneBefore(codesAt, codes, nowKey, true, pruneBatch)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("embedded: take code: %w", err)
	}
	if !found {
		return "", store.ErrNotFound
	}
	return value, nil
}

// Once implements store.Store as a fixed window: a call that returns false
// does not extend it, so a key fires again ttl after it last fired.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	k := []byte(key)
	nowKey := timeKey(now)
	var fresh bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		fresh = false
		once, onceAt := tx.Bucket(bOnce), tx.Bucket(bOnceAt)
		if _, err := pruneBefore(onceAt, once, nowKey, true, pruneBatch); err != nil {
			return err
		}
		if exp := once.Get(k); exp != nil {
			if bytes.Compare(nowKey, exp) < 0 {
				return nil
			}
			if err := onceAt.Delete(concat(exp, k)); err != nil {
				return err
			}
		}
		exp := timeKey(now.Add(ttl))
		if err := once.Put(k, exp); err != nil {
			return err
		}
		fresh = true
		return onceAt.Put(concat(exp, k), nil)
	})
	if err != nil {
		return false, fmt.Errorf("embedded: once: %w", err)
	}
	return fresh, nil
}
