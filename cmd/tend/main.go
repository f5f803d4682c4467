// Command tend is Tend's one binary: the server, the content linter, the
// simulator for content authors, and the tools for keys, staff accounts,
// the audit log and webhooks. tend help lists the commands (cli.go):
//
//	tend [serve] [flags]               run the service
//	tend content lint [DIR]            check a content pack (the bundled one without DIR)
//	tend content audio LANG [DIR]      the recordings a language without a voice needs
//	tend simulate [--lang es]          chat with the engine in the terminal
//	tend keys generate ID              print a new line for the encryption key file
//	tend keys rotate [flags]           re-seal stored PHI under the active key (serve's flags)
//	tend staff add|list|... [flags]    manage the accounts of the console's staff
//	tend audit verify [flags]          check that no audit record was edited or removed
//	tend sms send --to N --text T      post a signed inbound SMS webhook to a running server
//	tend outbox list|resend|cancel     dead letters: messages not sent within their retry window
//
// Every command answers --help and -h on standard output with exit code
// 0; a command line it does not understand exits 2, a command that fails 1.
package main

import (
	"os"

	_ "time/tzdata" // time zones even on machines without zoneinfo
)

func main() {
	os.Exit(run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}
