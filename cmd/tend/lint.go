package main

import (
	"fmt"
	"os"

	"github.com/tendcare/tend/content"
)

// lintCmd checks a pack (the bundled one without a directory) and prints
// every problem as file:line; it fails when any is an error.
func lintCmd(args []string) error {
	fsys, name := content.Default(), "bundled pack"
	if len(args) > 0 {
		fsys, name = content.Dir(args[0]), args[0]
	}
	_, problems, err := content.Load(fsys)
	for _, p := range problems {
		fmt.Fprintln(os.Stdout, p.String())
	}
	errs, warns := 0, 0
	for _, p := range problems {
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	fmt.Fprintf(os.Stdout, "%s: %d error(s), %d warning(s)\n", name, errs, warns)
	if err != nil {
		return fmt.Errorf("%s failed lint", name)
	}
	return nil
}
