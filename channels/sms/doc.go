// Package sms is Tend's SMS channel on Twilio: the signed inbound-message and
// delivery-status webhooks, and a Sender that sends outbox entries through
// twilio-go's REST client.
//
// Webhooks are trusted only when X-Twilio-Signature matches the configured
// public URL; a forged or unsigned request gets 403 and changes nothing. An
// inbound message is acknowledged only after its turn is committed, with the
// MessageSid as dedupe key in that same commit, so Twilio's retries never run
// a turn twice.
package sms
