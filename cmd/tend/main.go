// Command tend is Tend's one binary: the server, the content linter, the
// simulator for content authors and the encryption key tools.
//
//	tend [serve] [flags]          run the service
//	tend content lint [DIR]       check a content pack (the bundled one without DIR)
//	tend simulate [--lang es]     chat with the engine in the terminal
//	tend keys generate ID         print a new line for the encryption key file
//	tend keys rotate [flags]      re-seal stored PHI under the active key (serve's flags)
//	tend staff add|list [flags]   manage the accounts of the console's staff
//	tend audit verify [flags]     check that no audit record was edited or removed
//	tend outbox list|resend ID|cancel ID   dead letters: messages not sent within their retry window
package main

import (
	"fmt"
	"os"

	_ "time/tzdata" // time zones even on machines without zoneinfo
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 0 || args[0] == "serve" || (len(args[0]) > 0 && args[0][0] == '-'):
		if len(args) > 0 && args[0] == "serve" {
			args = args[1:]
		}
		err = serve(args)
	case args[0] == "content" && len(args) > 1 && args[1] == "lint":
		err = lintCmd(args[2:])
	case args[0] == "simulate":
		err = simulate(args[1:], os.Stdin, os.Stdout)
	case args[0] == "keys":
		err = keysCmd(args[1:], os.Stdout, os.Stderr)
	case args[0] == "staff":
		err = staffCmd(args[1:], os.Stdin, os.Stdout)
	case args[0] == "audit":
		err = auditCmd(args[1:], os.Stdout)
	case args[0] == "outbox":
		err = outboxCmd(args[1:], os.Stdout)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Println("usage: tend [serve] [flags] | tend content lint [DIR] | tend simulate [--lang LANG] [--program ID] |\n" +
			"       tend keys generate ID | tend keys rotate [serve flags] | tend staff add|list [flags] | tend audit verify")
		return
	default:
		err = fmt.Errorf("unknown command %q (try: serve, content lint, simulate, keys, staff, audit)", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tend:", err)
		os.Exit(1)
	}
}
