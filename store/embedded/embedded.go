package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

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
}

// Store is a store.Store kept in one bbolt file. Open it with Open; it is
// safe for concurrent use, and only one process can have the file open.
type Store struct {
	db        *bolt.DB
	retention time.Duration
	now       func() time.Time
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.PatientLister = (*Store)(nil)
)

var (
	bPatients      = []byte("patients")
	bPhones        = []byte("phones")
	bTelegrams     = []byte("telegrams")
	bSessions      = []byte("sessions")
	bDedupe        = []byte("dedupe")
	bDedupeAt      = []byte("dedupe_at")
	bEvents        = []byte("events")
	bEventIDs      = []byte("event_ids")
	bEscalations   = []byte("escalations")
	bEscAt         = []byte("escalations_at")
	bEscStatus     = []byte("escalations_st")
	bTimers        = []byte("timers")
	bTimersDue     = []byte("timers_due")
	bOutbox        = []byte("outbox")
	bOutboxDue     = []byte("outbox_due")
	bOutboxClaimed = []byte("outbox_claimed")
	bOutboxPatient = []byte("outbox_patient")
	bOnce          = []byte("once")
	bOnceAt        = []byte("once_at")
	bCodes         = []byte("codes")
	bCodesAt       = []byte("codes_at")
	bMeta          = []byte("meta")

	allBuckets = [][]byte{
		bPatients, bPhones, bTelegrams, bSessions, bDedupe, bDedupeAt, bEvents,
		bEventIDs, bEscalations, bEscAt, bEscStatus, bTimers, bTimersDue,
		bOutbox, bOutboxDue, bOutboxClaimed, bOutboxPatient, bOnce, bOnceAt,
		bCodes, bCodesAt, bMeta,
	}

	kSchema      = []byte("schema")
	kOutboxDepth = []byte("outbox_depth")
	kCodesNow    = []byte("codes_now")
)

const schemaVersion = "1"

// pruneBatch is how many expired dedupe or Once keys a write removes on its
// way: more than it adds, so the backlog shrinks, and few enough to keep the
// write short.
const pruneBatch = 8

// ErrInvalid is store.ErrInvalid: a commit or call that no backend could
// apply (store.Commit.Validate), or an empty single-use code.
var ErrInvalid = store.ErrInvalid

// Open opens the store in the bbolt file at path, creating it if needed.
// It waits up to a second for another process to release the file.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoSync:         opts.NoSync,
		NoFreelistSync: true, // rebuilt at open: fewer pages written per commit
		FreelistType:   bolt.FreelistMapType,
	})
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
		meta := tx.Bucket(bMeta)
		switch v := meta.Get(kSchema); {
		case v == nil:
			return meta.Put(kSchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("schema version %q, want %q", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s := &Store{
		db:        db,
		retention: cmp.Or(opts.DedupeRetention, 7*24*time.Hour),
		now:       opts.Now,
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

// Load implements store.Store.
func (s *Store) Load(ctx context.Context, patientID string) (store.Patient, store.Session, error) {
	var (
		p    store.Patient
		sess store.Session
	)
	if err := ctx.Err(); err != nil {
		return p, sess, err
	}
	pid := []byte(patientID)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bPatients).Get(pid)
		if v == nil {
			return store.ErrNotFound
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("embedded: patient %s: %w", patientID, err)
		}
		if sv := tx.Bucket(bSessions).Get(pid); len(sv) >= 8 {
			sess.Version = binary.BigEndian.Uint64(sv)
			sess.Data = bytes.Clone(sv[8:])
		}
		return nil
	})
	return p, sess, err
}

// PatientByPhone implements store.Store.
func (s *Store) PatientByPhone(ctx context.Context, phone string) (store.Patient, error) {
	var p store.Patient
	if err := ctx.Err(); err != nil {
		return p, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bPhones).Get([]byte(phone))
		if id == nil {
			return store.ErrNotFound
		}
		v := tx.Bucket(bPatients).Get(id)
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &p)
	})
	return p, err
}

// PatientByTelegram implements store.Store.
func (s *Store) PatientByTelegram(ctx context.Context, chat string) (store.Patient, error) {
	var p store.Patient
	if err := ctx.Err(); err != nil {
		return p, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bTelegrams).Get([]byte(chat))
		if id == nil {
			return store.ErrNotFound
		}
		v := tx.Bucket(bPatients).Get(id)
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &p)
	})
	return p, err
}

// Commit implements store.Store. The checks run in this order, so that a
// provider's retry of a committed turn is ErrDuplicate whatever else
// changed: dedupe key, enrollment, version, phone, Telegram chat. Timers are deleted before
// they are set, so a name in both ends up set. A commit's outbox entries
// without PatientID get the commit's, and so do its escalations.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := prepare(c, s.now())
	if err != nil {
		return err
	}
	var result error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this more than once: after a rollback caused by
		// another commit of the batch, or alone. Start clean each time.
		result = nil
		var err error
		result, err = p.apply(tx, p.now.Add(-s.retention))
		return err
	})
	if err != nil {
		return fmt.Errorf("embedded: commit: %w", err)
	}
	return result
}

// prepared is a validated commit with its records encoded, so that the
// transaction, which holds bbolt's single writer lock, only moves bytes.
type prepared struct {
	c       store.Commit
	pid     []byte
	patient []byte
	events  [][]byte
	outbox  []preparedEntry
	escs    []preparedEscalation
	now     time.Time
}

type preparedEntry struct {
	id, patient []byte
	notBefore   time.Time
	data        []byte
}

type preparedEscalation struct {
	e    store.Escalation
	data []byte
}

// prepare encodes a commit that c.Validate accepted, giving the patient,
// its outbox entries and its escalations the commit's patient ID.
func prepare(c store.Commit, now time.Time) (*prepared, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &prepared{c: c, now: now, pid: []byte(c.PatientID)}
	if c.Patient != nil {
		pt := *c.Patient
		pt.ID = c.PatientID
		p.c.Patient = &pt
		var err error
		if p.patient, err = json.Marshal(&pt); err != nil {
			return nil, err
		}
	}
	p.events = make([][]byte, len(c.Events))
	for i := range c.Events {
		b, err := json.Marshal(&c.Events[i])
		if err != nil {
			return nil, err
		}
		p.events[i] = b
	}
	p.outbox = make([]preparedEntry, len(c.Outbox))
	for i, e := range c.Outbox {
		if e.PatientID == "" {
			e.PatientID = c.PatientID
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		p.outbox[i] = preparedEntry{id: []byte(e.ID), patient: []byte(e.PatientID), notBefore: e.NotBefore, data: b}
	}
	p.escs = make([]preparedEscalation, len(c.Escalations))
	for i, e := range c.Escalations {
		if e.PatientID == "" {
			e.PatientID = c.PatientID
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return nil, err
		}
		p.escs[i] = preparedEscalation{e: e, data: b}
	}
	return p, nil
}

// apply checks the commit against tx and writes it. It returns the store
// error that refused the commit, having written nothing, or a bbolt error
// that must roll the transaction back.
func (p *prepared) apply(tx *bolt.Tx, dedupeCutoff time.Time) (refused, err error) {
	c := &p.c
	dedupe := tx.Bucket(bDedupe)
	if c.DedupeKey != "" && dedupe.Get([]byte(c.DedupeKey)) != nil {
		return store.ErrDuplicate, nil
	}
	if c.PatientID != "" {
		if refused, err := p.applyPatient(tx); refused != nil || err != nil {
			return refused, err
		}
	}
	if len(p.outbox) > 0 {
		if err := p.applyOutbox(tx); err != nil {
			return nil, err
		}
	}
	if c.DedupeKey != "" {
		k := []byte(c.DedupeKey)
		at := timeKey(p.now)
		if err := dedupe.Put(k, at); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bDedupeAt).Put(concat(at, k), nil); err != nil {
			return nil, err
		}
		if err := pruneDedupe(tx, dedupeCutoff, pruneBatch); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// applyPatient checks and writes everything of a commit that belongs to its
// patient: all checks come before the first write.
func (p *prepared) applyPatient(tx *bolt.Tx) (refused, err error) {
	c, pid := &p.c, p.pid
	patients, sessions, phones := tx.Bucket(bPatients), tx.Bucket(bSessions), tx.Bucket(bPhones)
	var chats *bolt.Bucket
	if c.Patient != nil {
		chats = tx.Bucket(bTelegrams)
	}
	old := patients.Get(pid)
	if old == nil && c.Patient == nil {
		return store.ErrNotFound, nil
	}
	var version uint64
	if sv := sessions.Get(pid); len(sv) >= 8 {
		version = binary.BigEndian.Uint64(sv)
	}
	if version != c.Version {
		return store.ErrConflict, nil
	}
	if c.Patient != nil && c.Patient.Phone != "" {
		if owner := phones.Get([]byte(c.Patient.Phone)); owner != nil && !bytes.Equal(owner, pid) {
			return store.ErrPhoneTaken, nil
		}
	}
	if c.Patient != nil && c.Patient.Telegram != "" {
		if owner := chats.Get([]byte(c.Patient.Telegram)); owner != nil && !bytes.Equal(owner, pid) {
			return store.ErrChatTaken, nil
		}
	}

	if c.Patient != nil {
		if old != nil {
			was, err := indexedOf(old)
			if err != nil {
				return nil, err
			}
			if err := unindex(phones, was.Phone, c.Patient.Phone, pid); err != nil {
				return nil, err
			}
			if err := unindex(chats, was.Telegram, c.Patient.Telegram, pid); err != nil {
				return nil, err
			}
		}
		if err := patients.Put(pid, p.patient); err != nil {
			return nil, err
		}
		if c.Patient.Phone != "" {
			if err := phones.Put([]byte(c.Patient.Phone), pid); err != nil {
				return nil, err
			}
		}
		if c.Patient.Telegram != "" {
			if err := chats.Put([]byte(c.Patient.Telegram), pid); err != nil {
				return nil, err
			}
		}
	}
	if c.Session != nil {
		v := make([]byte, 8+len(c.Session))
		binary.BigEndian.PutUint64(v, version+1)
		copy(v[8:], c.Session)
		if err := sessions.Put(pid, v); err != nil {
			return nil, err
		}
	}
	if len(p.events) > 0 {
		if err := p.applyEvents(tx); err != nil {
			return nil, err
		}
	}
	if len(c.DeleteTimers) > 0 || len(c.SetTimers) > 0 {
		timers, due := tx.Bucket(bTimers), tx.Bucket(bTimersDue)
		for _, name := range c.DeleteTimers {
			if err := deleteTimer(timers, due, prefixed(pid, name)); err != nil {
				return nil, err
			}
		}
		for _, tm := range c.SetTimers {
			k := prefixed(pid, tm.Name)
			if err := deleteTimer(timers, due, k); err != nil {
				return nil, err
			}
			at := timeKey(tm.Due)
			if err := timers.Put(k, at); err != nil {
				return nil, err
			}
			if err := due.Put(concat(at, k), nil); err != nil {
				return nil, err
			}
		}
	}
	if len(p.escs) > 0 {
		if err := p.applyEscalations(tx); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (p *prepared) applyEvents(tx *bolt.Tx) error {
	events, ids := tx.Bucket(bEvents), tx.Bucket(bEventIDs)
	prefix := prefixed(p.pid, "")
	seq := lastSeq(events, prefix)
	for i, e := range p.c.Events {
		seq++
		var sk [8]byte
		binary.BigEndian.PutUint64(sk[:], seq)
		if err := events.Put(concat(prefix, sk[:]), p.events[i]); err != nil {
			return err
		}
		if e.ID != "" {
			if err := ids.Put(prefixed(p.pid, e.ID), sk[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// lastSeq returns the sequence number of the last key prefix‖seq in b, or 0.
func lastSeq(b *bolt.Bucket, prefix []byte) uint64 {
	end := concat(prefix, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	cur := b.Cursor()
	k, _ := cur.Seek(end)
	switch {
	case k == nil:
		k, _ = cur.Last()
	case !bytes.Equal(k, end):
		k, _ = cur.Prev()
	}
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(prefix):])
}

func (p *prepared) applyEscalations(tx *bolt.Tx) error {
	escs, byAt, byStatus := tx.Bucket(bEscalations), tx.Bucket(bEscAt), tx.Bucket(bEscStatus)
	for _, pe := range p.escs {
		id := []byte(pe.e.ID)
		if old := escs.Get(id); old != nil {
			var o store.Escalation
			if err := json.Unmarshal(old, &o); err != nil {
				return err
			}
			at := timeKey(o.OpenedAt)
			if err := byAt.Delete(concat(at, id)); err != nil {
				return err
			}
			if err := byStatus.Delete(concat(prefixed([]byte(o.Status), ""), at, id)); err != nil {
				return err
			}
		}
		at := timeKey(pe.e.OpenedAt)
		if err := escs.Put(id, pe.data); err != nil {
			return err
		}
		if err := byAt.Put(concat(at, id), nil); err != nil {
			return err
		}
		if err := byStatus.Put(concat(prefixed([]byte(pe.e.Status), ""), at, id), nil); err != nil {
			return err
		}
	}
	return nil
}

func (p *prepared) applyOutbox(tx *bolt.Tx) error {
	o := outboxBuckets(tx)
	added := 0
	for _, e := range p.outbox {
		if old := o.entries.Get(e.id); old != nil {
			// The same ID again replaces the entry; the depth stays.
			if err := o.remove(e.id, old); err != nil {
				return err
			}
		} else {
			added++
		}
		if err := o.entries.Put(e.id, e.data); err != nil {
			return err
		}
		if err := o.due.Put(concat(timeKey(e.notBefore), e.id), nil); err != nil {
			return err
		}
		if len(e.patient) > 0 {
			if err := o.byPatient.Put(prefixed(e.patient, string(e.id)), nil); err != nil {
				return err
			}
		}
	}
	return addDepth(tx, added)
}

// outbox groups the outbox buckets of one transaction.
type outbox struct {
	entries, due, claimed, byPatient *bolt.Bucket
}

func outboxBuckets(tx *bolt.Tx) outbox {
	return outbox{
		entries:   tx.Bucket(bOutbox),
		due:       tx.Bucket(bOutboxDue),
		claimed:   tx.Bucket(bOutboxClaimed),
		byPatient: tx.Bucket(bOutboxPatient),
	}
}

// remove deletes entry id, whose stored record is data, from every outbox
// bucket. It leaves the depth to the caller.
func (o outbox) remove(id, data []byte) error {
	var e store.OutboxEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	id = bytes.Clone(id)
	if err := o.entries.Delete(id); err != nil {
		return err
	}
	if err := o.due.Delete(concat(timeKey(e.NotBefore), id)); err != nil {
		return err
	}
	if err := o.claimed.Delete(id); err != nil {
		return err
	}
	if e.PatientID != "" {
		return o.byPatient.Delete(prefixed([]byte(e.PatientID), string(id)))
	}
	return nil
}

func addDepth(tx *bolt.Tx, n int) error {
	if n == 0 {
		return nil
	}
	meta := tx.Bucket(bMeta)
	var d int64
	if v := meta.Get(kOutboxDepth); len(v) == 8 {
		d = int64(binary.BigEndian.Uint64(v))
	}
	d = max(d+int64(n), 0)
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(d))
	return meta.Put(kOutboxDepth, v[:])
}

func deleteTimer(timers, due *bolt.Bucket, k []byte) error {
	at := timers.Get(k)
	if at == nil {
		return nil
	}
	dk := concat(at, k)
	if err := timers.Delete(k); err != nil {
		return err
	}
	return due.Delete(dk)
}

// indexed is what the phone and Telegram indexes hold of a patient.
type indexed struct {
	Phone    string `json:"phone"`
	Telegram string `json:"telegram"`
}

func indexedOf(patient []byte) (indexed, error) {
	var p indexed
	err := json.Unmarshal(patient, &p)
	return p, err
}

// unindex removes old from an index (phones or telegrams) when it still
// points at pid and the patient no longer has it (its value is now new).
func unindex(index *bolt.Bucket, old, new string, pid []byte) error {
	if old == "" || old == new {
		return nil
	}
	k := []byte(old)
	if owner := index.Get(k); bytes.Equal(owner, pid) {
		return index.Delete(k)
	}
	return nil
}

// pruneDedupe forgets up to limit dedupe keys committed before cutoff
// (limit < 0: all of them).
func pruneDedupe(tx *bolt.Tx, cutoff time.Time, limit int) error {
	_, err := pruneBefore(tx.Bucket(bDedupeAt), tx.Bucket(bDedupe), timeKey(cutoff), false, limit)
	return err
}

// pruneBefore deletes up to limit index keys T‖key whose T is before end
// (or at end, with inclusive), and key from b, whose value starts with T.
// It returns how many it deleted.
func pruneBefore(index, b *bolt.Bucket, end []byte, inclusive bool, limit int) (int, error) {
	var old [][]byte
	cur := index.Cursor()
	for k, _ := cur.First(); k != nil && (limit < 0 || len(old) < limit); k, _ = cur.Next() {
		c := bytes.Compare(k[:8], end)
		if c > 0 || (c == 0 && !inclusive) {
			break
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := index.Delete(k); err != nil {
			return 0, err
		}
		// Only when b still holds this time for the key: a key set again
		// later has a newer index entry of its own.
		if v := b.Get(k[8:]); len(v) >= 8 && bytes.Equal(v[:8], k[:8]) {
			if err := b.Delete(k[8:]); err != nil {
				return 0, err
			}
		}
	}
	return len(old), nil
}

// DeletePatient implements store.Store. Claimed outbox entries stay until
// they are finished.
func (s *Store) DeletePatient(ctx context.Context, patientID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pid := []byte(patientID)
	return s.db.Update(func(tx *bolt.Tx) error {
		patients := tx.Bucket(bPatients)
		old := patients.Get(pid)
		if old == nil {
			return store.ErrNotFound
		}
		was, err := indexedOf(old)
		if err != nil {
			return err
		}
		if err := unindex(tx.Bucket(bPhones), was.Phone, "", pid); err != nil {
			return err
		}
		if err := unindex(tx.Bucket(bTelegrams), was.Telegram, "", pid); err != nil {
			return err
		}
		if err := patients.Delete(pid); err != nil {
			return err
		}
		if err := tx.Bucket(bSessions).Delete(pid); err != nil {
			return err
		}

		prefix := prefixed(pid, "")
		timers, due := tx.Bucket(bTimers), tx.Bucket(bTimersDue)
		for _, k := range keysWithPrefix(timers, prefix) {
			if err := deleteTimer(timers, due, k); err != nil {
				return err
			}
		}

		o := outboxBuckets(tx)
		removed := 0
		for _, k := range keysWithPrefix(o.byPatient, prefix) {
			id := k[len(prefix):]
			if o.claimed.Get(id) != nil {
				continue
			}
			if data := o.entries.Get(id); data != nil {
				if err := o.remove(id, data); err != nil {
					return err
				}
				removed++
			} else if err := o.byPatient.Delete(k); err != nil {
				return err
			}
		}
		return addDepth(tx, -removed)
	})
}

// keysWithPrefix returns copies of the keys of b that start with prefix.
func keysWithPrefix(b *bolt.Bucket, prefix []byte) [][]byte {
	var keys [][]byte
	cur := b.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}

// listBatch is how many patient ids PatientIDs reads per transaction.
const listBatch = 1000

// PatientIDs implements store.PatientLister, in id order. It reads the ids
// in short read transactions of listBatch ids and calls fn between them,
// never inside one: fn may then commit (a write transaction opened while
// the same goroutine holds a read one can deadlock when bbolt grows its
// memory map), and a long job does not keep a read transaction open that
// stops bbolt from reusing freed pages.
func (s *Store) PatientIDs(ctx context.Context, fn func(id string) error) error {
	var after []byte // the last id of the previous batch
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids := make([]string, 0, listBatch)
		err := s.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bPatients).Cursor()
			k, _ := cur.First()
			if after != nil {
				// Seek finds the next id even when after was unenrolled.
				if k, _ = cur.Seek(after); bytes.Equal(k, after) {
					k, _ = cur.Next()
				}
			}
			for ; k != nil && len(ids) < listBatch; k, _ = cur.Next() {
				ids = append(ids, string(k))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("embedded: list patients: %w", err)
		}
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		if len(ids) < listBatch {
			return nil
		}
		after = []byte(ids[len(ids)-1])
	}
}

// Timeline implements store.Store; an unknown patient has an empty timeline.
func (s *Store) Timeline(ctx context.Context, patientID string) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var evs []store.Event
	prefix := prefixed([]byte(patientID), "")
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bEvents).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var e store.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("embedded: event of %s: %w", patientID, err)
			}
			evs = append(evs, e)
		}
		return nil
	})
	return evs, err
}

// UpdateEvent implements store.Store. fn runs inside the write transaction:
// it must be quick and must not call the store.
func (s *Store) UpdateEvent(ctx context.Context, patientID, eventID string, fn func(*store.Event) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		found, err := updateEvent(tx, patientID, eventID, fn)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		return err
	})
}

// updateEvent applies fn to a stored event, writing it back when fn
// returns true. It reports whether the event exists.
func updateEvent(tx *bolt.Tx, patientID, eventID string, fn func(*store.Event) bool) (bool, error) {
	if patientID == "" || eventID == "" {
		return false, nil
	}
	pid := []byte(patientID)
	seq := tx.Bucket(bEventIDs).Get(prefixed(pid, eventID))
	if len(seq) != 8 {
		return false, nil
	}
	events := tx.Bucket(bEvents)
	k := concat(prefixed(pid, ""), seq)
	v := events.Get(k)
	if v == nil {
		return false, nil
	}
	var e store.Event
	if err := json.Unmarshal(v, &e); err != nil {
		return false, err
	}
	if !fn(&e) {
		return true, nil
	}
	e.ID = eventID // the index depends on it
	b, err := json.Marshal(&e)
	if err != nil {
		return false, err
	}
	return true, events.Put(k, b)
}

// Escalations implements store.Store, reading only the index of the
// requested status.
func (s *Store) Escalations(ctx context.Context, status string) ([]store.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Escalation
	err := s.db.View(func(tx *bolt.Tx) error {
		index, prefix := tx.Bucket(bEscAt), []byte(nil)
		if status != "" {
			index, prefix = tx.Bucket(bEscStatus), prefixed([]byte(status), "")
		}
		escs := tx.Bucket(bEscalations)
		cur := index.Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			v := escs.Get(k[len(prefix)+8:])
			if v == nil {
				continue
			}
			var e store.Escalation
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Timers implements store.Store, in name order.
func (s *Store) Timers(ctx context.Context, patientID string) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Timer
	prefix := prefixed([]byte(patientID), "")
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bTimers).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			out = append(out, store.Timer{PatientID: patientID, Name: string(k[len(prefix):]), Due: keyTime(v)})
		}
		return nil
	})
	return out, err
}

// DueTimers implements store.Store; a limit of 0 or less means no limit.
// A Due outside the years 1678 to 2262 is stored clamped to that range.
func (s *Store) DueTimers(ctx context.Context, now time.Time, limit int) ([]store.Timer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Timer
	end := timeKey(now)
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bTimersDue).Cursor()
		for k, _ := cur.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
			if bytes.Compare(k[:8], end) > 0 {
				break
			}
			pid, name, ok := bytes.Cut(k[8:], []byte{0})
			if !ok {
				return fmt.Errorf("embedded: bad timer key %x", k)
			}
			out = append(out, store.Timer{PatientID: string(pid), Name: string(name), Due: keyTime(k[:8])})
		}
		return nil
	})
	return out, err
}

// ClaimOutbox implements store.Store; a limit of 0 or less means no limit.
// Entries come in NotBefore order, then by ID.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.OutboxEntry
	end := timeKey(now)
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		o := outboxBuckets(tx)
		var keys [][]byte
		cur := o.due.Cursor()
		for k, _ := cur.First(); k != nil && (limit <= 0 || len(keys) < limit); k, _ = cur.Next() {
			if bytes.Compare(k[:8], end) > 0 {
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			id := k[8:]
			if err := o.due.Delete(k); err != nil {
				return err
			}
			v := o.entries.Get(id)
			if v == nil {
				continue // a stale index entry
			}
			var e store.OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if err := o.claimed.Put(id, nil); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Claimed implements store.Store, in NotBefore order, then by ID.
func (s *Store) Claimed(ctx context.Context) ([]store.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		o := outboxBuckets(tx)
		return o.claimed.ForEach(func(id, _ []byte) error {
			v := o.entries.Get(id)
			if v == nil {
				return nil
			}
			var e store.OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b store.OutboxEntry) int {
		return cmp.Or(a.NotBefore.Compare(b.NotBefore), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Finish implements store.Store. It fails with an error wrapping
// store.ErrNotFound when entry is not claimed. Delivery.Status and ErrorCode
// are written to the message.out event only when Status is set, so a hold
// for quiet hours does not erase the last outcome; Delivery.Channel
// whenever it is set, to the entry (when it goes back to pending) and to
// the event.
func (s *Store) Finish(ctx context.Context, entry store.OutboxEntry, d store.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := []byte(entry.ID)
	var result error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		result = nil
		o := outboxBuckets(tx)
		data := o.entries.Get(id)
		if data == nil || o.claimed.Get(id) == nil {
			result = fmt.Errorf("embedded: outbox entry %s is not claimed: %w", entry.ID, store.ErrNotFound)
			return nil
		}
		var e store.OutboxEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		if d.Done {
			if err := o.remove(id, data); err != nil {
				return err
			}
			if err := addDepth(tx, -1); err != nil {
				return err
			}
		} else {
			e.NotBefore = d.NotBefore
			if d.Attempted {
				e.Attempts++
			}
			if d.Channel != "" {
				e.Channel = d.Channel
			}
			b, err := json.Marshal(&e)
			if err != nil {
				return err
			}
			if err := o.entries.Put(id, b); err != nil {
				return err
			}
			if err := o.claimed.Delete(id); err != nil {
				return err
			}
			if err := o.due.Put(concat(timeKey(e.NotBefore), id), nil); err != nil {
				return err
			}
		}
		if (d.Status == "" && d.Channel == "") || e.PatientID == "" {
			return nil
		}
		_, err := updateEvent(tx, e.PatientID, e.ID, func(ev *store.Event) bool {
			if d.Channel != "" {
				ev.Channel = d.Channel
			}
			if d.Status == "" {
				return true
			}
			if d.ProviderID != "" {
				ev.ProviderID = d.ProviderID
			}
			if store.StatusAdvances(ev.Status, d.Status) {
				ev.Status, ev.ErrorCode = d.Status, d.ErrorCode
			}
			return true
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("embedded: finish: %w", err)
	}
	return result
}

// OutboxDepth implements store.Store from a counter, without a scan.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kOutboxDepth); len(v) == 8 {
			n = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
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

// Prune forgets every dedupe key committed more than DedupeRetention
// before now and every Once key and single-use code expired at now, and
// reports how many keys it forgot. Writes prune a few keys each on their own; Prune is for
// catching up after a quiet period or before a backup.
func (s *Store) Prune(ctx context.Context, now time.Time) (int, error) {
	const chunk = 1000 // keys per transaction, to keep each one short
	total := 0
	for _, p := range []struct {
		index, b  []byte
		end       []byte
		inclusive bool
	}{
		{bDedupeAt, bDedupe, timeKey(now.Add(-s.retention)), false},
		{bOnceAt, bOnce, timeKey(now), true},
		{bCodesAt, bCodes, timeKey(now), true},
	} {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			var n int
			err := s.db.Update(func(tx *bolt.Tx) error {
				var err error
				n, err = pruneBefore(tx.Bucket(p.index), tx.Bucket(p.b), p.end, p.inclusive, chunk)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("embedded: prune: %w", err)
			}
			total += n
			if n < chunk {
				break
			}
		}
	}
	return total, nil
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeKey encodes t as 8 bytes that sort like the times: Unix nanoseconds
// with the sign bit flipped, clamped to the range an int64 can hold.
func timeKey(t time.Time) []byte {
	var n int64
	switch {
	case t.Before(minTime):
		n = math.MinInt64
	case t.After(maxTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(n)^(1<<63))
	return b
}

func keyTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

// prefixed returns id‖0x00‖rest.
func prefixed(id []byte, rest string) []byte {
	k := make([]byte, 0, len(id)+1+len(rest))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, rest...)
}

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}
