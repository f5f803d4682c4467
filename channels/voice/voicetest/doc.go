// Package voicetest stands in for Twilio's voice side in tests: a fake Calls
// API that the real twilio-go client talks to (redirected with
// twilio.NewClient), and a Caller that plays the telephone network and the
// patient, following Tend's TwiML the way Twilio does.
//
// The fake only records the calls Tend places; the test decides what
// happens to each (busy, unanswered, a machine, a person) and the fake
// posts the signed status callbacks and, for an answered call, hands the
// test a Caller. A Caller posts signed webhooks, parses each TwiML answer
// as XML (attribute order is not stable, so nothing compares strings),
// collects what is said, and waits at each <Gather> or <Dial> for the test
// to press a key, stay silent, or decide how the transfer went.
//
// Nothing runs on its own: every request happens inside a test's call, so
// tests need no sleeps.
package voicetest
