// Package console is the care team's web console under /console/: staff
// sign in, see the tickets of their teams soonest deadline first, open a
// ticket's conversation (the patient's timeline, language, time zone and
// channels), claim it, reply through the outbox, add private notes and
// hand the conversation back to the automation with an optional follow-up
// flow.
//
// Pages are html/template, embedded in the binary, and plain HTML forms:
// they need no JavaScript. Every state change is a Runner method (the
// Backend interface), so the console enforces nothing the engine does not:
// one owner per conversation, replies through the outbox under the same
// consent rules as any message.
//
// Security: sessions live in the store (they survive restarts and replicas
// share them) under a hash of a random cookie that is HttpOnly, SameSite=Lax
// and Secure behind https; they end after Idle without a request and after
// Lifetime in any case. Cross-origin form posts are refused by the standard
// library's http.CrossOriginProtection. Sign-in failures are throttled per
// account and per address, and an unknown email costs the same hash as a
// wrong password. A staff member sees only the patients of their teams (an
// admin sees all): another team's ticket is a 404, and the attempt is
// audited like every page that shows a patient.
//
// Admins also manage staff accounts and search the audit log under
// /console/admin/ (admin.go; the Runner's staff methods, which tend staff
// uses too), and every staff member may turn on two-step sign-in with an
// authenticator app (totp.go).
package console
