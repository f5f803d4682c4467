package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
)

const exportAbout = `The data-subject export: one JSON line per patient with the enrollment, every timeline
event and every ticket, DECRYPTED (message text, phone numbers, medicines, reasons, answers).
The output is PHI in the clear: write it with -o to a file only you can read (it is created
with mode 0600), hand it over by a secure channel, and delete it after. Audited as "cli"
(export_patients). ` + storeFlags + `
Redis works alongside a running server; the embedded store has one owner, so stop tend serve
first (or read GET /api/v1/patients and /api/v1/patients/ID/timeline).`

// exportPage is how many enrollments an export reads at a time.
const exportPage = 500

// exportRecord is one line of an export: everything the store keeps of
// one patient but the audit log. Patient is null for a patient who was
// unenrolled and whose timeline or tickets remain.
type exportRecord struct {
	ID      string             `json:"id"`
	Patient *store.Patient     `json:"patient"`
	Events  []store.Event      `json:"events"`
	Tickets []store.Escalation `json:"tickets"`
}

// exportFlags are tend export's flags, for parsing and for --help.
func exportFlags(c *config) (fs *flag.FlagSet, patient, out *string) {
	fs = flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	patient = fs.String("patient", "", "export this patient only (default: every enrolled patient)")
	out = fs.String("o", "", "write to this file, created with mode 0600 (default: standard output)")
	fs.StringVar(&c.Store, "store", c.Store, "store backend: embedded or redis")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis:// URL")
	return fs, patient, out
}

// exportCmd runs tend export: it opens the store as tend outbox does and
// writes the records as NDJSON, in patient id order.
func exportCmd(args []string, stdout, stderr io.Writer) error {
	c, err := parseConfig("export", nil) // the store settings from the environment
	if err != nil {
		return err
	}
	fs, patient, outFile := exportFlags(&c)
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("export: unexpected %q (one patient: --patient ID)", fs.Arg(0))
	}
	st, err := openOffline(c, "export", "stop it first, or read the API (GET /api/v1/patients, /api/v1/patients/ID/timeline)")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	w := stdout
	if *outFile != "" {
		f, err := os.OpenFile(*outFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer f.Close()
		w = f
	}
	rn := &runner.Runner{Store: st, Clock: time.Now, Log: slog.New(slog.DiscardHandler)}
	host, _ := os.Hostname()
	if err := rn.Audit(ctx, audit.Record{Staff: "cli", From: host, Action: audit.ExportPatients, Patient: *patient}); err != nil {
		return fmt.Errorf("export: audit record not written, nothing exported: %w", err)
	}
	n, err := exportPatients(ctx, st, *patient, w)
	if err != nil {
		return fmt.Errorf("export: %w (after %d patient(s))", err, n)
	}
	if f, ok := w.(*os.File); ok && *outFile != "" {
		if err := f.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(stderr, "tend: exported %d patient(s) to %s: it holds PHI in the clear, keep it safe and delete it when done\n", n, *outFile)
	}
	return nil
}

// exportPatients writes the record of patient id, or of every enrolled
// patient when id is "", to w and returns how many it wrote.
func exportPatients(ctx context.Context, st store.Store, id string, w io.Writer) (int, error) {
	tickets, err := st.Escalations(ctx, "")
	if err != nil {
		return 0, err
	}
	byPatient := map[string][]store.Escalation{}
	for _, t := range tickets {
		byPatient[t.PatientID] = append(byPatient[t.PatientID], t)
	}
	enc := json.NewEncoder(w)
	write := func(id string, p *store.Patient) error {
		evs, err := st.Timeline(ctx, id)
		if err != nil {
			return err
		}
		rec := exportRecord{ID: id, Patient: p, Events: evs, Tickets: byPatient[id]}
		if rec.Events == nil {
			rec.Events = []store.Event{}
		}
		if rec.Tickets == nil {
			rec.Tickets = []store.Escalation{}
		}
		if p == nil && len(evs) == 0 && len(rec.Tickets) == 0 {
			return fmt.Errorf("no patient %s: %w", id, store.ErrNotFound)
		}
		return enc.Encode(rec)
	}
	if id != "" {
		p, _, err := st.Load(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return 0, write(id, nil) // unenrolled: what remains
		case err != nil:
			return 0, err
		}
		if err := write(id, &p); err != nil {
			return 0, err
		}
		return 1, nil
	}
	pager, ok := st.(store.PatientPager)
	if !ok {
		return 0, fmt.Errorf("the store cannot list patients: %w", errors.ErrUnsupported)
	}
	n := 0
	for after := ""; ; {
		page, err := pager.ListPatients(ctx, after, exportPage)
		if err != nil {
			return n, err
		}
		for i := range page {
			if err := write(page[i].ID, &page[i]); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < exportPage {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}
