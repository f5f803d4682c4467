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
// The conformance suite in store/storetest states the contract as tests; a
// backend is done when it passes the suite unchanged.
package store
