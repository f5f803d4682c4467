// Package twilio holds what Tend's Twilio adapters (SMS, WhatsApp, voice)
// share about Twilio itself, so that each adapter keeps only what differs:
// the REST client (NewClient, pointed at a fake in tests), the webhook
// signature (Verify, Signature, ValidSignature: computed the way Twilio
// computes it, with every value of a repeated field and the URL forms
// Twilio may have signed), a context for the SDK's context-less requests
// (Do, Create), and the classification of its errors for the dispatcher
// (Classify, and the error codes the adapters act on).
//
// Status callbacks are the adapters': each maps Twilio's words to a
// runner.Receipt or a call's progress, and the Runner decides what they
// mean.
package twilio
