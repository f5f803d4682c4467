package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tendcare/tend/audit"
)

const auditUsage = `usage: tend audit verify [--store S --data-dir D --redis-url U]
Checks that no record of the audit log was edited, removed or reordered
(each record carries the hash of the one before it)`

// auditCmd checks the audit log's chain from the first record to the last.
func auditCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New(auditUsage)
	}
	c, err := parseConfig("audit", nil)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Store, "store", c.Store, "store backend: embedded or redis")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis:// URL")
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(fs, err)
	}
	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var v audit.Verifier
	if err := st.AuditRecords(ctx, v.Next); err != nil {
		return fmt.Errorf("audit verify: %w (%d records before it are intact)", err, v.Count())
	}
	_, err = fmt.Fprintf(stdout, "audit log intact: %d records\n", v.Count())
	return err
}
