// Package channels is where Tend meets the networks patients use. It holds
// the contract an adapter implements (Sender), the outbox Dispatcher that
// applies consent, quiet hours, pacing and retries before any adapter sees
// a message, and helpers every adapter needs, such as phone normalization.
// Each adapter lives in a sub-package (sms, whatsapp, telegram, voice, and
// sandbox for trying Tend without a provider); channels/twilio holds what
// the Twilio adapters share. Adapters change no conversation themselves:
// they call the Runner through narrow interfaces they declare.
package channels
