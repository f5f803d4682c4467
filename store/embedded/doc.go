// Package embedded is the default Tend store: a single bbolt file, for a
// clinic that runs one replica and wants no database server.
//
// Every write is a bbolt transaction that is fsynced before it returns, so
// a commit that returned nil survives a crash or a power cut. Commits go
// through bbolt's Batch: the turns of concurrent conversations that arrive
// within Options.MaxBatchDelay share one transaction and one fsync (group
// commit), which is what lets a disk that can do a few hundred fsyncs a
// second serve thousands of turns a second. Each commit in a batch is still
// checked and applied on its own: a commit that fails with a store error
// writes nothing and does not disturb the others.
//
// The code is split by what it keeps: embedded.go opens the file,
// commit.go checks and applies a Commit, migrate.go upgrades an older
// layout, and patients.go, timeline.go,
// escalations.go, timers.go, outbox.go and codes.go hold the reads and
// writes of each part of the contract; keys.go has the buckets and key
// encodings below, prune.go the forgetting of old keys.
//
// # Layout
//
// Top-level buckets, with "\x00" separating a patient ID from what follows
// (patient IDs may not contain it) and T an 8-byte big-endian time in Unix
// nanoseconds with the sign bit flipped, so that times sort as bytes:
//
//	patients        patientID                  → Patient (JSON)
//	phones          phone                      → patientID
//	addresses       channel\x00address         → patientID
//	sessions        patientID                  → 8-byte version ‖ session data
//	dedupe          dedupe key                 → T committed ‖ patientID (none in older files)
//	dedupe_at       T committed ‖ dedupe key   → ""            (retention order)
//	events          patientID\x00 8-byte seq   → Event (JSON)  (append order)
//	event_ids       patientID\x00 eventID      → 8-byte seq
//	escalations     escalationID               → Escalation (JSON)
//	escalations_at  T opened ‖ escalationID    → ""
//	escalations_st  status\x00 T opened ‖ ID   → ""
//	timers          patientID\x00 name         → T due
//	timers_due      T due ‖ patientID\x00 name → ""
//	outbox          entryID                    → OutboxEntry (JSON)
//	outbox_due      T NotBefore ‖ entryID      → ""            (pending only)
//	outbox_claimed  entryID                    → ""
//	outbox_patient  patientID\x00 entryID      → ""
//	outbox_dead     entryID                    → ""            (dead letters)
//	outbox_owner    entryID                    → T queued ‖ patientID (OutboxPatient;
//	                                             kept for DedupeRetention, after the entry)
//	outbox_owner_at T queued ‖ entryID         → ""            (retention order)
//	once            key                        → T expires
//	once_at         T expires ‖ key            → ""
//	codes           code                       → T expires ‖ value
//	codes_at        T expires ‖ code           → ""
//	meta            "schema", "outbox_depth"   → schema version ("2"), 8-byte count
//	                "codes_now"                → T latest now of TakeCode
//	jobs            jobID                      → Job (JSON); Prune drops
//	                                             those past JobRetention
//
// Schema version 1 (releases before addresses) kept a patient's Telegram
// chat as "telegram" in its JSON, indexed in a bucket telegrams (chat →
// patientID). Open migrates such a file in one transaction (migrate.go):
// the index moves to addresses under "telegram", each "telegram" to
// Addresses["telegram"], and the version becomes "2".
//
// Every read is a prefix or range scan over one of these, or a point get;
// no operation scans a bucket it does not need, but ErasePatient, which
// reads the escalations, dedupe and codes buckets whole (they have no
// index by patient). Options.TimelineMax caps a timeline in the commit
// that goes over it, and SweepTimelines drops events older than a
// cut-off (TEND_TIMELINE_RETENTION), as on Redis. Dedupe keys older than
// Options.DedupeRetention, expired Once keys and expired single-use codes
// are pruned a few at a time by the writes that add new ones (codes also
// by TakeCode), and all at once by Prune.
package embedded
