package embedded

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The buckets; doc.go lays out what each one holds.
var (
	bPatients      = []byte("patients")
	bPhones        = []byte("phones")
	bAddresses     = []byte("addresses")
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
	bOutboxDead    = []byte("outbox_dead")
	bOutboxOwner   = []byte("outbox_owner")
	bOutboxOwnerAt = []byte("outbox_owner_at")
	bOnce          = []byte("once")
	bOnceAt        = []byte("once_at")
	bCodes         = []byte("codes")
	bCodesAt       = []byte("codes_at")
	bMeta          = []byte("meta")
	bStaff         = []byte("staff")
	bAudit         = []byte("audit")
	bLogins        = []byte("logins")
	bJobs          = []byte("jobs")

	allBuckets = [][]byte{
		bPatients, bPhones, bAddresses, bSessions, bDedupe, bDedupeAt, bEvents,
		bEventIDs, bEscalations, bEscAt, bEscStatus, bTimers, bTimersDue,
		bOutbox, bOutboxDue, bOutboxClaimed, bOutboxPatient, bOutboxDead, bOutboxOwner, bOutboxOwnerAt,
		bOnce, bOnceAt,
		bCodes, bCodesAt, bMeta, bStaff, bAudit, bLogins, bJobs,
	}

	kSchema      = []byte("schema")
	kOutboxDepth = []byte("outbox_depth")
	kCodesNow    = []byte("codes_now")
)

// schemaVersion is the layout this code reads and writes. Open migrates
// a file of an older one (migrate.go) and refuses a newer one.
const schemaVersion = "2"

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

// addressKey is the addresses index key of addr on channel:
// channel‖0x00‖addr (a channel name has no NUL: store.ValidChannel).
func addressKey(channel, addr string) []byte { return prefixed([]byte(channel), addr) }

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

// keysWithPrefix returns copies of the keys of b that start with prefix.
func keysWithPrefix(b *bolt.Bucket, prefix []byte) [][]byte {
	var keys [][]byte
	cur := b.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}
