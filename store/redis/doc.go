// Package redis keeps Tend's state in Redis, so that several replicas can
// share it: a store.Store on a go-redis UniversalClient (one server,
// Sentinel or Cluster) that passes the conformance suite in store/storetest
// with the embedded store's semantics.
//
// The code is split by what it keeps, each file with the Lua scripts it
// runs: redis.go connects and pipelines, commit.go writes a turn,
// indexes.go keeps the phone and address indexes, migrate.go upgrades an
// older layout, and patients.go,
// timeline.go, escalations.go, timers.go, outbox.go and codes.go hold the
// rest of the contract; keys.go names the keys below and encodes times.
//
// # Keys
//
// Keys spread over Shards (16) hash tags {s:<n>}. A patient's keys and the
// cross-patient indexes of its shard, n = crc32(patient id) % 16, share the
// tag, so one Lua script commits a turn in one hash slot, as Redis Cluster
// requires. With T = "{s:<n>}:" followed by Options.KeyPrefix and ":" when
// one is set:
//
//	T:pat:<id>     string   enrollment (patient JSON)
//	T:ses:<id>     string   session, "<version>:<data>"; absent at version 0
//	T:tl:<id>      list     timeline, event JSON in commit order
//	T:tli:<id>     hash     event id → position in the list (UpdateEvent, Finish);
//	                        field "" counts the events the cap trimmed
//	T:tm:<id>      hash     timer name → "<sub6><due ms>"
//	T:due          zset     "<sub6><id>\0<name>" scored by due ms
//	T:ob           hash     outbox entry id → "<sub6><entry JSON>" (pending, claimed, dead)
//	T:obdue        zset     pending: "<sub6><entry id>" scored by NotBefore ms
//	T:obclaim      zset     claimed: entry id scored by its lease's expiry ms
//	T:obdead       zset     dead letters: entry id, all scored 0 (ZRANGEBYLEX pages by id)
//	T:obp:<id>     set      a patient's unfinished entry ids (DeletePatient)
//	T:obo:<entry>  string   outbox entry id → its patient id, PX dedupe retention
//	                        (OutboxPatient: outlives the entry; read from all shards)
//	T:esc          hash     escalation id → JSON
//	T:escst:<st>   set      escalation ids by status
//	T:dd:<key>     string   dedupe key → committing patient id, PX retention
//
// and in the shard of their own key (crc32(key) % 16):
//
//	T:ph:<phone>   string   "<claimed at ms>:<patient id>"
//	T:ad:<ch>:<a>  string   address a on channel ch (a Telegram chat), as ph:
//	T:dd:<key>     string   dedupe key (see below)
//	T:once:<key>   string   end of the Once window, PX ttl
//	T:code:<code>  string   single-use code, "<expiry hex time>:<value>", PX
//	                        until an hour after the expiry
//
// and in shard 0, T:schema, the version of this layout (2). Version 1, no
// such key, kept a patient's Telegram chat as "telegram" in its JSON with
// an index T:tg:<chat>; Open migrates it (migrate.go): each index key
// moves to T:ad:telegram:<chat> in the same shard, each patient's
// "telegram" to Addresses["telegram"] by compare-and-set, then the version
// is set. Every step can run again, so a crash or two replicas starting
// together do no harm; replicas of the older release must be stopped
// first, since they would go on writing the old layout. The migration
// SCANs the keyspace for the two kinds of keys once per store.
//
// sub6 is the six-digit nanosecond part of a time within its millisecond:
// scores are whole milliseconds (exact in a float64) and members of equal
// score sort by the rest of the time, so the indexes keep the embedded
// store's nanosecond order and cut-offs. Times outside the years 1678 to
// 2262 are indexed clamped, as in the embedded store. Redis deletes a hash,
// set or sorted set with its last member, so a patient whose messages went
// out keeps only pat, ses, tm, tl and tli.
//
// The timeline is capped (Options.TimelineMax, DefaultTimelineMax events):
// a commit that makes it longer drops the oldest events in the same script.
//
// # Round trips
//
// A turn is two: Load is one MGET, Commit one EVALSHA. Outside that:
//
//   - A commit that gives a patient a new phone number or address claims
//     it in its own shard first and releases the old one after; the commit
//     script asks for the claims (NEED) only when the number or an address
//     changes, so re-enrolling with the same ones costs nothing more.
//   - Dedupe keys are global. On one server or Sentinel the commit script
//     checks the key in its own shard (Redis checks slots only in a
//     cluster). On a cluster, when the key's shard is not the patient's,
//     Commit first takes the key in its shard for the patient (one small
//     script) and the commit keeps a copy in the patient's shard, which
//     decides a retry of the same turn atomically: three round trips for
//     15 turns in 16 with a dedupe key.
//   - ErasePatient and ListPatients are maintenance calls: erasure reads
//     every ticket and SCANs the dedupe and code keys for the patient's
//     (there is no index by patient), and each page of ListPatients SCANs
//     every enrollment key, since there is no ordered index of ids.
//   - PatientByPhone and PatientByAddress are two (the index, then the
//     patient). PutCode and TakeCode are one, in the code's shard. DueTimers,
//     OutboxDepth, Escalations and Claimed are one pipeline over the 16
//     shards; ClaimOutbox is two (read what is due, then claim the oldest
//     limit with one script per shard). Finish is one script, in every
//     shard for an entry without patient.
//
// # Leases
//
// ClaimOutbox gives each claim a lease (Options.Lease, 2 minutes by
// default). Claimed lists only claims whose lease has expired: with
// several replicas, a live replica's claims are being sent and are not
// "claimed and never finished"; a dead replica's appear once their lease
// runs out, and the dispatcher's recovery settles them without resending.
// An expired lease never makes an entry claimable again. A negative Lease
// makes every claim expire at once, which is the embedded store's (and the
// conformance suite's) behavior on a single replica.
//
// # Differences from the embedded store
//
//   - An outbox entry or escalation must belong to the commit's patient
//     (or have no PatientID): it is kept in that patient's shard, where
//     DeletePatient, Finish and a replacing commit find it. Other commits
//     fail with ErrInvalid. Outbox entry ids are unique per shard, not
//     globally.
//   - UpdateEvent is an optimistic transaction: fn may run more than once.
//   - Once and dedupe keys expire by Redis TTL in real time; a clock that
//     runs slower than real time (a simulation) may see a Once key fire
//     early. A single-use code is removed by its TTL an hour after its
//     expiry by the store's clock; until then TakeCode's now decides.
//   - A crash between the steps of an enrollment leaves a phone or address
//     index record that PatientByPhone (PatientByAddress) ignores (its
//     patient does not have the number) and that the next claim of the
//     number takes over once it is older than a minute.
package redis
