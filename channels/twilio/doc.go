// Package twilio holds what Tend's Twilio adapters (SMS, WhatsApp, voice)
// share about Twilio itself, so that each adapter keeps only what differs:
// the REST client (NewClient, pointed at a fake in tests), the webhook
// signature (Signed, Signature, ValidSignature: computed the way Twilio
// computes it, with every value of a repeated field and the URL forms
// Twilio may have signed), a context for the SDK's context-less requests
// (Do, Create), and the classification of its errors for the dispatcher
// (Classify, and the error codes the adapters act on).
//
// Every webhook sits behind one middleware (Signed). The status callback
// of the Messages API is one handler (StatusHandler) that the messaging
// adapters configure with a table (Fallback: which reports send a message
// on the next channel); it hands a runner.Receipt to the Runner, which
// decides what the report means. Calls report progress their own way, so
// voice keeps its status handler.
package twilio
