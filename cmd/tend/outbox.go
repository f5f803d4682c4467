package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

const outboxUsage = `usage: tend outbox list [--after ID] [--limit N] [flags]
       tend outbox resend ID [flags]
       tend outbox cancel ID [flags]
Dead letters: messages still not sent when their retry window (TEND_RETRY_WINDOW, 24h) ended.
list prints them oldest first, without text or number (read the text on the patient's
timeline); resend queues one again with a fresh window; cancel drops it for good. Each is
audited as "cli". The store is the one tend serve uses (TEND_STORE, TEND_DATA_DIR,
TEND_REDIS_URL, or --store, --data-dir, --redis-url): Redis works alongside a running
server; the embedded store has one owner, so stop tend serve first or use the API
(GET /api/v1/outbox, POST /api/v1/outbox/ID/resend or /cancel)`

// outboxCmd lists, resends and cancels dead letters with the Runner's
// methods, the ones the API uses, so that both audit them alike.
func outboxCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(outboxUsage)
	}
	c, err := parseConfig("outbox", nil) // the store settings from the environment
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("outbox "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	after := fs.String("after", "", "list the dead letters after this id (the next page)")
	limit := fs.Int("limit", 100, "how many to list")
	fs.StringVar(&c.Store, "store", c.Store, "store backend: embedded or redis")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis:// URL")
	// Flags may come before or after the id.
	err = fs.Parse(args[1:])
	var id string
	if err == nil && fs.NArg() > 0 {
		id = fs.Arg(0)
		err = fs.Parse(fs.Args()[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, outboxUsage)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%v\n%s", err, outboxUsage)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("outbox %s: unexpected %q\n%s", args[0], fs.Arg(0), outboxUsage)
	case args[0] == "list" && id != "":
		return fmt.Errorf("outbox list takes no id (--after ID pages)\n%s", outboxUsage)
	case (args[0] == "resend" || args[0] == "cancel") && id == "":
		return fmt.Errorf("outbox %s: which message? (tend outbox list shows their ids)\n%s", args[0], outboxUsage)
	case args[0] != "list" && args[0] != "resend" && args[0] != "cancel":
		return errors.New(outboxUsage)
	case *limit < 1:
		return errors.New("outbox list: --limit must be at least 1")
	}
	st, err := openOffline(c, "outbox", "stop it first, or use the API (GET /api/v1/outbox, POST /api/v1/outbox/ID/resend)")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rn := &runner.Runner{Store: st, Clock: time.Now, Log: slog.New(slog.DiscardHandler)}
	host, _ := os.Hostname()
	by := runner.Actor{Staff: "cli", From: host}
	switch args[0] {
	case "list":
		return listDeadLetters(ctx, rn, by, *after, *limit, stdout)
	case "resend":
		e, err := rn.ResendDeadLetter(ctx, by, id)
		if err = outboxErr("resend", id, err); err != nil && !errors.Is(err, runner.ErrNotAudited) {
			return err
		}
		fmt.Fprintf(stdout, "queued %s again (patient %s, %s): tend serve sends it\n", e.ID, e.PatientID, e.Channel)
		return err
	default:
		e, err := rn.CancelDeadLetter(ctx, by, id)
		if err = outboxErr("cancel", id, err); err != nil && !errors.Is(err, runner.ErrNotAudited) {
			return err
		}
		fmt.Fprintf(stdout, "cancelled %s (patient %s, %s)\n", e.ID, e.PatientID, e.Channel)
		return err
	}
}

// outboxErr says what a refused resend or cancel means.
func outboxErr(what, id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("outbox %s: no message %s (sent, cancelled, or its patient unenrolled)", what, id)
	case errors.Is(err, store.ErrNotDead):
		return fmt.Errorf("outbox %s: message %s is not failed: it is queued or being sent", what, id)
	case err != nil:
		return fmt.Errorf("outbox %s: %w", what, err)
	}
	return nil
}

// listDeadLetters prints one page of dead letters, and how to ask for the
// next when it is full.
func listDeadLetters(ctx context.Context, rn *runner.Runner, by runner.Actor, after string, limit int, stdout io.Writer) error {
	list, err := rn.DeadLetters(ctx, by, after, limit)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPATIENT\tCHANNEL\tMESSAGE\tCREATED\tFAILED\tLAST ERROR\tCODE\tATTEMPTS")
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", e.ID, e.PatientID, e.Channel, e.MessageID,
			e.CreatedAt.UTC().Format(time.RFC3339), e.FailedAt.UTC().Format(time.RFC3339), e.LastError, e.ErrorCode, e.Attempts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == limit {
		fmt.Fprintf(stdout, "more: tend outbox list --after %s\n", list[len(list)-1].ID)
	}
	return nil
}

// openOffline opens the store for a command that works beside the server
// (cmd): Redis is shared, but the embedded store is locked by a running
// tend serve, and then the error says so and what to do instead (hint).
func openOffline(c config, cmd, hint string) (store.Store, error) {
	st, err := openStore(c)
	if errors.Is(err, embedded.ErrLocked) {
		return nil, fmt.Errorf("%s: the embedded store in %s is locked by a running tend serve: %s", cmd, c.DataDir, hint)
	}
	return st, err
}
