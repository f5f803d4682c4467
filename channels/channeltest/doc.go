// Package channeltest is the set-up that the tests and benchmarks of Tend's
// channel adapters (channels/sms, whatsapp, telegram and voice) share. It
// is for tests only: nothing outside _test.go files imports it.
//
// Every channel is tested on real parts: the bundled content pack, the
// engine and runner.Runner on an embedded store in a temp dir, with
// only the provider faked at its HTTP boundary. New builds that core the
// same way for every channel (a manual clock at T0, the 08:00-21:00 sending
// window, logs discarded), so that a channel's test environment holds only
// what is its own: the provider fake, the webhooks, the Sender and the
// dispatcher.
//
// The benchmark half is the harness of the inbound benchmarks: patients
// enrolled with a question waiting (EnrollWaiting), a closed loop of
// concurrent webhooks over loopback HTTP (Load), and the same metrics for
// every channel (ReportLatency: turns/s, p50-ms, p99-ms), so that numbers
// compare across channels and across commits.
package channeltest
