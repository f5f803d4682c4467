// Package twilio holds what Tend's Twilio adapters (SMS, WhatsApp, voice)
// share about Twilio itself. For now that is the webhook signature:
// X-Twilio-Signature, computed the way Twilio computes it, including the
// cases the SDK's validator gets wrong for Tend (a form field sent more than
// once, a query string with characters Twilio leaves unescaped).
package twilio
