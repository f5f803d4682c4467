// Package devphone is the dev phone: on a first run with no provider
// configured (`make run` without Twilio), the texts Tend sends go to it
// instead of failing, and a page at /dev/phone shows each conversation and
// lets the operator answer as the patient, so that a newcomer sees Tend
// work end to end on their own machine.
//
// The page's answers go in through the SMS adapter's Receive, the steps a
// real text takes once its signature checked out: keywords, the safety net
// and the patient's flow all run on them. Phone is the channels.Sender of
// every text channel that has no provider; it reports each message
// delivered at once, the way a provider's status callback would.
//
// It is a development tool: the page has no sign-in, so it answers only
// requests from this machine, and cmd/tend refuses to run it when
// TEND_PUBLIC_URL names another host.
package devphone
