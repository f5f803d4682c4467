// Package audit is the record of what people did with patients' data, as
// HIPAA's audit controls (45 CFR 164.312(b)) ask: who, what, which
// patient, when and from where, for every view of a patient's data, every
// message a person sends, every claim, release, resolve and note, and
// every change to staff accounts.
//
// The log is append-only and tamper-evident: each record carries the hash
// of the one before it (a chain from Genesis), so editing, removing or
// reordering a stored record breaks every hash after it, and Verify finds
// the first break. It is kept apart from timelines and never trimmed with
// them (six years by default, as 164.316(b)(2) asks of documentation).
//
// Records name a patient by id and never hold message text or readings.
package audit
