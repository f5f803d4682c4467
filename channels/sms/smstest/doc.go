// Package smstest is a fake Twilio for tests of the SMS channel: a loopback
// httptest server that speaks the part of Twilio's REST API Tend uses, so
// that tests drive the real twilio-go client (through twilio.NewClient) instead
// of mocking the Sender.
//
// The fake implements POST /2010-04-01/Accounts/{AccountSid}/Messages.json
// with HTTP basic auth, answers like Twilio (201 with a message resource, or
// Twilio's error JSON), and records every message it accepts. A test can make
// the next requests, or every request to one number, fail the ways Twilio
// fails: rate limiting (429, error 20429), a server error (500), a recipient
// who opted out (400, error 21610), an invalid number (400, error 21211), or
// a connection dropped without an answer.
//
// It also plays Twilio's side of the webhooks: Callback posts a signed
// delivery-status callback to a message's StatusCallback URL, and
// PostInbound posts a signed inbound SMS to a Tend server. Sign computes
// X-Twilio-Signature the way Twilio does.
//
// For the WhatsApp channel it takes "whatsapp:" addresses and contents
// (ContentSid with ContentVariables instead of Body), and plays WhatsApp's
// 24-hour window: PostWhatsApp posts a signed inbound WhatsApp message and
// opens the sender's window; a message to a number outside its window that
// is not an approved template (ApproveTemplates) is accepted and fails with
// 63016, which Report posts in the status callback as Twilio would. The
// OutsideWindow and InvalidRecipient faults refuse a send outright with
// 63016 and 63024.
package smstest
