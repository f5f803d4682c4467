package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/tendcare/tend/store/seal"
)

const keysUsage = "usage: tend keys generate ID | tend keys rotate [serve flags]"

// keysCmd runs `tend keys generate ID`, which prints a new key file line,
// and `tend keys rotate [serve flags]`, which re-seals the stored data
// under the key file's active key.
func keysCmd(args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 2 && args[0] == "generate":
		line, err := seal.GenerateKeyLine(args[1])
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, line)
		return err
	case len(args) > 0 && args[0] == "rotate":
		c, err := parseConfig("keys rotate", args[1:])
		if err != nil {
			return err
		}
		// Interrupted, it stops between patients; running it again
		// finishes the job.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		n, active, err := rotateKeys(ctx, c, stderr)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "re-sealed %d patient(s) under key %s\n", n, active)
		return err
	}
	return errors.New(keysUsage)
}

// rotateProgressEvery is how many patients `keys rotate` re-seals between
// two progress lines.
const rotateProgressEvery = 1000

// rotateKeys re-seals every enrolled patient of the configured store under
// the active key of the configured key file (seal.Reseal), printing
// progress to progress. It returns how many patients it re-sealed and the
// active key's id. It is safe while replicas serve from the same Redis;
// the embedded store's file has a single owner, so tend serve must be
// stopped for it.
func rotateKeys(ctx context.Context, c config, progress io.Writer) (int, string, error) {
	defaultKeys(&c) // the data dir's key, which tend serve made on its first start
	if c.KeyFile == "" {
		return 0, "", errors.New("keys rotate: TEND_ENCRYPTION_KEY_FILE (--encryption-key-file) is not set and the data dir has no key file (tend serve makes one on the embedded store): there is no key to re-seal with")
	}
	// openStore reads the key file too; reading it here first names the
	// key the data ends up under, and a bad file fails before the store
	// is opened.
	keys, err := seal.LoadKeyring(c.KeyFile)
	if err != nil {
		return 0, "", err
	}
	st, err := openStore(c)
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, "", fmt.Errorf("keys rotate: %w (the embedded store's file has one owner: stop tend serve first)", err)
	}
	if err != nil {
		return 0, "", err
	}
	defer st.Close()
	fmt.Fprintf(progress, "tend: re-sealing under key %s (keys: %v)\n", keys.Active(), keys.IDs())
	n, err := seal.Reseal(ctx, st, func(done int) {
		if done%rotateProgressEvery == 0 {
			fmt.Fprintf(progress, "tend: re-sealed %d patient(s)\n", done)
		}
	})
	if err != nil {
		return n, "", fmt.Errorf("keys rotate: after %d patients: %w", n, err)
	}
	return n, keys.Active(), nil
}
