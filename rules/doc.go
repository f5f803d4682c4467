// Package rules classifies home readings against the rule files of the
// content pack (content/default/rules/*.yaml), and keeps the per-patient
// state the rules need: the recent readings (personal baselines, repeated
// patterns, duplicate ids) and the episodes, thresholds and snoozes.
//
// It is pure: no I/O and no clock (the time is passed in), so the engine
// classifies inside a turn and tests walk through days with a manual clock.
//
// The rule files' YAML types live in package content (content/rules.go),
// not here: a rule's outcome runs content actions (say, escalate, tally,
// lesson), the same content.Action list flows use, and content loads and
// lints every file of a pack in one pass (strict: an unknown field names
// its file and line). This package compiles those types into an index by
// reading kind and evaluates them.
//
// The state is kept in two session sections (conversations.Session):
// "readings" (History) and "episodes" (State), each in a compact binary
// encoding of its own, because they are read and written on every reading
// turn.
package rules
