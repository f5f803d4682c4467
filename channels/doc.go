// Package channels is where Tend meets the networks patients use. It holds
// the contract an adapter implements (Sender), the outbox Dispatcher that
// applies consent, quiet hours and retries before any adapter sees a message,
// and helpers every adapter needs, such as phone normalization. Each adapter
// lives in a sub-package: sms today; whatsapp, telegram and voice next.
package channels
