package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tendcare/tend/store"
)

// Options tune an embedded store. The zero value is a durable store with
// the defaults below.
type Options struct {
	// MaxBatchDelay is how long a commit waits for concurrent commits to
	// share its transaction and fsync. Zero means 2ms: a small fraction of
	// an fsync, so a lone commit barely notices it.
	MaxBatchDelay time.Duration
	// NoSync skips fsync. A crash may then lose or corrupt data: it is for
	// tests only.
	NoSync bool
	// DedupeRetention is how long a committed dedupe key is remembered;
	// providers retry a webhook for hours at most. Zero means 7 days.
	DedupeRetention time.Duration
	// Now stamps dedupe keys to time their retention; nil means time.Now.
	// It decides nothing but when a key may be forgotten.
	Now func() time.Time
	// TimelineMax caps each patient's timeline, as on Redis: a commit
	// that makes it longer drops the oldest events in the same
	// transaction. Zero or less keeps every event.
	TimelineMax int
}

// Store is a store.Store kept in one bbolt file. Open it with Open; it is
// safe for concurrent use, and only one process can have the file open.
type Store struct {
	db        *bolt.DB
	retention time.Duration
	now       func() time.Time
	tlMax     int
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.PatientLister = (*Store)(nil)
)

// ErrInvalid is store.ErrInvalid: a commit or call that no backend could
// apply (store.Commit.Validate), or an empty single-use code.
var ErrInvalid = store.ErrInvalid

// ErrLocked: another process (a running tend serve) has the file open;
// only one process can.
var ErrLocked = errors.New("embedded: the store is in use by another process")

// Open opens the store in the bbolt file at path, creating it if needed.
// It waits up to a second for another process to release the file, then
// fails with ErrLocked.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoSync:         opts.NoSync,
		NoFreelistSync: true, // rebuilt at open: fewer pages written per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("embedded: open %s: %w (a running tend serve?): %w", path, ErrLocked, err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	db.MaxBatchDelay = cmp.Or(opts.MaxBatchDelay, 2*time.Millisecond)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return migrate(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s := &Store{
		db:        db,
		retention: cmp.Or(opts.DedupeRetention, 7*24*time.Hour),
		now:       opts.Now,
		tlMax:     opts.TimelineMax,
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Close closes the file. Calling it again does nothing.
func (s *Store) Close() error { return s.db.Close() }

// Ready reports an error once the store is closed.
func (s *Store) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(*bolt.Tx) error { return nil })
}
