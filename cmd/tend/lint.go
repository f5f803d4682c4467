package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"

	"github.com/tendcare/tend/content"
)

// lintCmd checks a pack (the bundled one without a directory) and prints
// every problem as file:line; it fails when any is an error.
func lintCmd(args []string, stdout io.Writer) error {
	fsys, name := content.Default(), "bundled pack"
	if len(args) > 0 {
		if err := packFolder(args[0]); err != nil {
			return fmt.Errorf("content lint: %w", err)
		}
		fsys, name = content.Dir(args[0]), args[0]
	}
	pack, problems, err := content.Load(fsys)
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	if pack != nil {
		printLanguages(stdout, pack)
	}
	errs, warns := 0, 0
	for _, p := range problems {
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	fmt.Fprintf(stdout, "%s: %d error(s), %d warning(s)\n", name, errs, warns)
	if err != nil {
		return fmt.Errorf("%s failed lint", name)
	}
	return nil
}

// packFolder says plainly when dir is not a folder that could hold a
// pack: the loader would report every file of the pack missing instead.
func packFolder(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such folder", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is a file: give the pack's folder (it holds programs/, flows/ and locales/)", dir)
	}
	return nil
}

// printLanguages tells a clinic, before it enrolls patients, how far each
// language has been checked, how many messages it has and its longest SMS.
func printLanguages(w io.Writer, p *content.Pack) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "language\tname\tmessages\tlongest SMS\treview\tby\tdate")
	for _, st := range content.Languages(p) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d segments\t%s\t%s\t%s\n", st.Lang, st.Autonym, st.Messages, st.MaxSegments,
			cmp.Or(st.Review.Status, "none"), st.Review.By, st.Review.Date)
	}
	tw.Flush()
}
