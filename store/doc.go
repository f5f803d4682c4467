// Package store defines what Tend persists and the contract every backend
// keeps: the embedded bbolt store (store/embedded, the default) and Redis
// (store/redis, for several replicas); store/seal wraps either and seals
// PHI at rest. Only the Runner (conversations/runner) and the dispatcher's
// outbox work change what is stored; channels and the API use the value
// types (TestOnlyTheRunnerWrites).
//
// The contract is built around one idea from DESIGN.md: a conversation turn is
// one atomic Commit. The session, the outgoing messages (the transactional
// outbox), the timeline events, the timers and the provider's dedupe key are
// written together or not at all, so a crash never loses an acknowledged
// message and a provider retry never runs a turn twice.
//
// Store is made of roles (Sessions, Timeline, Tickets, Timers, Outbox,
// Codes), so that a consumer names only the part it uses. What every
// backend must refuse (Commit.Validate) and the order of message statuses
// (StatusRank) live here, once, rather than in each backend.
//
// A patient is found by phone number (PatientByPhone) or, on a channel
// that does not go by phone, by address (PatientByAddress: the linked chat
// for "telegram"). Each is a unique index among enrolled patients, per
// channel for addresses, kept by the backend in the same commit as the
// enrollment.
//
// A provider's status report names an outgoing message by its outbox
// entry id alone: the URLs Tend gives a provider carry no patient id.
// Outbox.OutboxPatient finds the message's patient by that id: the commit
// that queues an entry writes a small key (entry id → patient id) beside
// it, which outlives the entry for the dedupe retention (7 days by
// default: Redis TTL, the embedded store's prune) so that a "delivered" or
// "read" hours after the send still reaches the timeline, and which
// ErasePatient removes. Adding it needed no migration: an entry queued
// before it existed is found through the old URL's patient id.
//
// # Schema versions and migrations
//
// Each backend records the version of its layout and migrates an older
// one when it opens, once (embedded/migrate.go, redis/migrate.go). Version
// 2 replaced the Telegram-only "telegram" field and chat index of version
// 1 with Patient.Addresses and one address index. The migration lives in
// the backends, for sealed stores too: store/seal seals field values,
// never the patient record, so the backend can read "telegram" in the
// JSON and move its value as it is, and seal opens Addresses["telegram"]
// under the field, "patient.telegram", that it sealed "telegram" under.
// MoveTelegramChat is the one copy of the record's rewrite; the fixtures
// in embedded/testdata and redis/testdata were written by version 1
// (store/testdata/genv1), and the backends' TestMigrateV1 open them.
//
// The conformance suite in store/storetest states the contract as tests; a
// backend is done when it passes the suite unchanged.
package store
