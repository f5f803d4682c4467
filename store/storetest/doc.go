// Package storetest is the conformance suite that every store backend must
// pass, so that the embedded store and Redis keep the same contract.
//
// The suite states the contract of store.Store as subtests, one behaviour
// each: a backend's own test calls Run with a function that opens a fresh,
// empty store, and the backend is done when the suite passes unchanged.
// Where store.go leaves a detail open, the suite is where it is decided;
// the decisions are listed in the comment on Run.
//
// All times are derived from a fixed base time; the suite never reads the
// wall clock for anything the contract decides.
package storetest
