// Package conversations is Tend's conversation engine: flows compiled from
// content into looplab/fsm event tables, the per-patient Session, and the
// turn that takes an input (a reply, a timer, a flow start) to a new session
// and a list of effects.
//
// The Engine is pure: it reads no clock, touches no network or disk, and so
// serves every channel, the simulator and table tests alike. A turn checks
// the safety net (emergency detection, opt-out, help, a request for a
// human, a language name) in every bundled language before any flow logic.
// Rendering (Renderer), how a patient can be reached (Contact) and the
// scheduling math (time zones, quiet hours, which timers an enrollment
// wants) and the cap decision (DecideCap: may Tend start one more
// conversation today?) live here too, as pure functions of their arguments.
//
// The package imports neither the store nor net/http (TestPure enforces
// it): package conversations/runner drives the engine against the store.
package conversations
