// Package seal encrypts PHI at rest for every store backend: Wrap puts a
// store.Store behind a decorator that seals patient contact details,
// programs, medicines, appointments, refill dates, message bodies, ticket
// reasons and answers with AES-256-GCM on the way in and opens them on the
// way out, and hashes dedupe and Once keys with a key, so the embedded and
// Redis stores need no change and a dump of either holds none of that in
// the clear (what exactly: "What is sealed" below).
//
// # Key file
//
// TEND_ENCRYPTION_KEY_FILE names a text file with one key per line:
//
//	# Tend encryption keys (these two are examples: never reuse them).
//	# The first key seals new values; the others stay readable.
//	# New line: printf '%s %s\n' k3 "$(openssl rand -base64 32)"
//	k2 q3Jc0l9Z7d0uXy5mC1m0Jt0t1yM9bqWmP7S6Zr8Vx3A=
//	k1 0n9ZbJ7hWm6f2oXkQ8Lr4Ys1Tu5Vw3Aa7Cc9Ee1Gg2I=
//
// The rules:
//   - a line is "<key id> <key>", separated by spaces or tabs;
//   - a key id is 1 to 16 characters of a-z, 0-9 and '-'; keep it short,
//     since every sealed value carries it;
//   - a key is 32 random bytes in standard base64 (44 characters, with the
//     '=' padding, as `openssl rand -base64 32` prints it);
//   - blank lines and lines starting with '#' are ignored;
//   - the FIRST key is the active one: it seals every new value. Every key
//     in the file opens values sealed under it.
//
// LoadKeyring refuses a file that group or others may access (any of the
// 0o077 permission bits: chmod 600; on Kubernetes mount the secret with
// defaultMode 0400), a file without keys, a duplicate key id, and reports
// every other mistake as "file:line: what is wrong", never echoing a key.
//
// # Rotation
//
// With one replica: add the new key on top of the file and restart. New
// values are sealed under it, old ones stay readable under the old key,
// and lookups (phone numbers, addresses, timer names) try every key,
// so nothing is lost. With several replicas, rotate in two steps so that no replica meets
// a value sealed under a key it does not know: first add the new key BELOW
// the active one on every replica (readable, not used), then move it to the
// top. A key can leave the file only once no stored value uses it any more:
// Reseal (tend keys rotate) rewrites every enrolled patient's enrollment,
// session, timers, timeline and tickets under the active key, and is safe
// while the service runs. It leaves pending outbox entries, which are sent within a
// day, dead letters (resend or cancel them first), and the timelines of
// unenrolled patients, which keep the old key.
//
// # Sealed value format
//
// A sealed string is
//
//	seal:<key id>:<base64url without padding of nonce ‖ ciphertext ‖ tag>
//
// AES-256-GCM with a 12-byte nonce and a 16-byte tag, under a key derived
// from the file's key with HKDF-SHA256. The additional authenticated data
// is "<key id>\x00<field>", where field names what the value is
// ("patient.phone", "event.text", ...; "timer.name\x00<patient id>" for
// timer names and "session\x00<patient id>" for sessions), so a sealed
// value cannot be moved to another field, to another patient's timer or
// session, or relabelled with another key id.
//
// Sealed session bytes use the same header followed by the raw nonce,
// ciphertext and tag (no base64): a session grows by 28 bytes plus the
// header, 36 bytes in all with a two-character key id.
//
// A value without the "seal:" prefix is returned as it is, so that data
// written before encryption was enabled stays readable (and a plaintext
// starting with "seal:" written before then does not). Opening a value
// under a key id the ring does not have fails with ErrUnknownKey, and a
// value that was altered fails with ErrAuth; both errors name the field and
// the key id, never the value.
//
// # Random and deterministic sealing
//
// Most values get a random nonce: sealing one text twice gives two
// different values. Values the backend uses as lookup keys must seal
// equally every time: the phone number and the addresses (the indexes
// behind PatientByPhone and PatientByAddress) and timer names (a
// backend keys timers by name, and SetTimers and DeleteTimers act by
// name). Those get a synthetic nonce, the
// first 12 bytes of HMAC-SHA256(nonce key, len(field) ‖ field ‖ plaintext)
// with a second key derived by HKDF, so equal plaintexts of one field seal
// equally under one key (and only that equality shows). Timer names are
// sealed with the patient ID in the field, so two patients with the same
// reminder ("med|med-reminder|lisinopril|08:00") do not get the same
// sealed name.
//
// Because a deterministic value depends on the key, lookups look under
// every key of the ring, active first: PatientByPhone and
// PatientByAddress try each; a commit that sets a timer also deletes its
// name as sealed under every other key, and one that deletes a timer
// deletes it under every key, so a timer set before a rotation is moved or
// deleted rather than duplicated; and a commit that enrolls a phone number
// or an address first checks that no other patient holds it under another key
// (that check is not atomic with the commit: it only matters while two
// keys coexist). With a single key none of this
// costs anything. WithClearLookups extends the lookups to values stored in
// the clear, for a store that held data before encryption was enabled.
//
// # What is sealed
//
//	Patient.Phone, Patient.Addresses[]  deterministic (the address of
//	                                    channel ch as field "patient.<ch>":
//	                                    a Telegram chat as "patient.telegram",
//	                                    as before addresses were generic)
//	Patient.Programs[]                  random (a program names a diagnosis)
//	Patient.Medications[].ID, .Display  random
//	Patient.Refills[].Medication, .Date random
//	Patient.Appointments[].ID, .At      random
//	Session data                        random (it carries flow parameters
//	                                    and the answers of a flow under way)
//	Event.Text, .Medication, .Reason,   random (a reason says why a ticket
//	.Flow, .Quiz, .Question             opened; flow and quiz ids can name
//	                                    a condition)
//	Event.Status of an adherence event  random (taken, not_taken, not_yet,
//	                                    no_answer, undelivered; missed)
//	Event.Correct of a quiz event       random, stored as a sealed Status
//	                                    ("correct" or "incorrect") with
//	                                    Correct left out
//	Escalation.Reason                   random
//	OutboxEntry.To, .Text, .Labels[],   random (labels and template
//	.Vars[]                             variables can name a medicine)
//	Timer.Name                          deterministic, per patient
//	staff.Account.TOTPSecret            random, bound to the account's
//	                                    email (not PHI, but a secret that
//	                                    signs in as the staff member)
//	Commit.DedupeKey, Once keys         keyed hash (below)
//
// Ids, single-use codes (hashes) and their values (patient ids),
// statuses other than the answers above (the backend advances a message's
// delivery status), the reasons a delivery failed or was cancelled (a
// fixed set the backend writes), times of events, tickets, timers and
// outbox entries, channels, languages, teams, priorities, message ids,
// template ids (ContentSids), choice ids and steps stay in the clear:
// backends index or compare them, or they say nothing about a patient's
// health. The number of events, tickets and appointments shows too.
//
// # Dedupe and Once keys
//
// A dedupe key or a Once key can embed patient data: the Once key of the
// reply to an unknown number carries a hash of that number, which anyone
// can find again by hashing every phone number. The inner store gets
// "h:<key id>:" and the first 16 bytes of HMAC-SHA256 of the key, in
// base64url, under a third key derived from the active key by HKDF
// ("tend/seal/v1 lookup-hash"): equal keys still meet, and nothing else
// shows. Key-rotation caveat: the hash depends on the active key, so once
// a new key is on top, a dedupe or Once key recorded under the old one is
// not recognized. A provider's retry of a message that arrived before the
// switch is then taken as new (it is answered twice), and a Once window
// (one reply a day to an unknown number) starts again. Rotate at a quiet
// time; the old hashes expire with their retention (a week for dedupe
// keys) and Reseal does not rewrite them.
//
// # Clear data and Reseal
//
// Reseal (tend keys rotate) also seals what was stored in the clear: an
// older release's enrollments, sessions, timers, timelines and tickets
// (programs, appointments, reasons and answers included) are rewritten
// sealed, and a clear timer name or phone index is removed. The embedded
// store's file (bbolt) does not zero the pages it frees, so bytes of the
// clear values can stay in the file until bbolt reuses those pages; to be
// rid of them at once, stop tend serve, copy the file with
// `bbolt compact -o tend.db.new tend.db` (go.etcd.io/bbolt/cmd/bbolt)
// after the rotation and move the copy in its place.
//
// Finish hands the inner store the entry exactly as the inner store's
// ClaimOutbox or Claimed gave it (sealed), and re-seals the caller's entry
// when it no longer has that copy. ClaimOutbox puts an entry it cannot
// open (a key missing from this replica's ring) back to pending a minute
// later rather than leaving it claimed, since a claimed entry's send counts
// as of unknown outcome and is never retried.
package seal
