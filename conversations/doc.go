// Package conversations is Tend's conversation engine: flows compiled from
// content into looplab/fsm event tables, the per-patient Session, and the
// turn that takes an input (a reply, a timer, a flow start) to a new session
// and a list of effects.
//
// The Engine is pure: it reads no clock, touches no network or disk, and so
// serves every channel, the simulator and table tests alike. A turn checks the
// global keywords (emergency phrases, opt-out, help, a request for a human, a
// language name) in every bundled language before any flow logic.
//
// Runner wraps the engine with the store: it loads a session, runs a turn,
// renders messages and writes everything as one store.Commit. Scheduling of
// reminders (medication times in the patient's time zone, refills,
// appointments, lessons) and quiet hours live here too, with the clock
// injected.
package conversations
