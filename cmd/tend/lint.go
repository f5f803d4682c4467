package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
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

// audioCmd lists the recordings a language needs, one a line: file name,
// whether the pack's audio folder has it, and the words to record. A
// translator records from it; a clinic checks what is left.
func audioCmd(args []string, stdout io.Writer) error {
	lang := args[0]
	fsys := content.Default()
	if len(args) > 1 {
		if err := packFolder(args[1]); err != nil {
			return fmt.Errorf("content audio: %w", err)
		}
		fsys = content.Dir(args[1])
	}
	pack, _, err := content.Load(fsys)
	if err != nil {
		return fmt.Errorf("content audio: the pack does not load: run tend content lint: %w", err)
	}
	if !pack.HasLanguage(lang) {
		return fmt.Errorf("content audio: no language %q in the pack (languages: %s)", lang, strings.Join(pack.Languages, ", "))
	}
	a := pack.Audio[lang]
	if a == nil {
		// Not set up yet: list what to record all the same, for the
		// folder channels.yaml will name.
		a = content.NewAudio(pack, lang, "audio/"+lang, fsys)
	}
	missing := map[string]bool{}
	for _, m := range a.Missing() {
		missing[m] = true
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "file\tstatus\twords")
	for _, r := range a.Recordings() {
		status := "recorded"
		switch {
		case !a.Folder:
			status = "at " + a.Base
		case missing[r.Name]:
			status = "missing"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, status, strings.ReplaceAll(r.Text, "\n", " / "))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%s: %d recordings, %d missing\n", lang, len(a.Recordings()), len(missing))
	return nil
}
