package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/staff"
)

const staffUsage = `usage: tend staff add --email E --role coach|nurse|admin --team T[,T...] [--name N] [--password-stdin]
       tend staff list
       tend staff disable|enable|reset|totp-off --email E
         (reset: a new one-time password, and the account's sessions end; totp-off: sign-in
         without the authenticator code, for a lost phone)
The store is the one tend serve uses (TEND_STORE, TEND_DATA_DIR, TEND_REDIS_URL, or the flags
--store, --data-dir, --redis-url); with the embedded store, stop tend serve first`

// staffCmd manages staff accounts with the Runner's methods, the ones the
// console's admin page uses, so both keep the same rules and audit every
// change (as "cli", from this host): `staff add` creates one with a
// one-time password (printed once, to be changed at the first sign-in) or
// one read from standard input; `staff list` prints them, without hashes
// or secrets; disable, enable, reset and totp-off change one.
func staffCmd(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(staffUsage)
	}
	c, err := parseConfig("staff", nil) // the store settings from the environment
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("staff "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the staff member's email, their sign-in")
	role := fs.String("role", "", "coach, nurse or admin")
	teams := fs.String("team", "", "the teams whose patients they work, comma-separated (an admin sees every team)")
	name := fs.String("name", "", "the name shown to colleagues")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of printing a one-time one")
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rn := &runner.Runner{Store: st, Clock: time.Now}
	host, _ := os.Hostname()
	by := runner.Actor{Staff: "cli", From: host}
	// oneTime prints a one-time password, also when the audit record failed
	// (the change was made: without it the account would be locked).
	oneTime := func(password string, err error) error {
		if password != "" {
			fmt.Fprintf(stdout, "one-time password (shown once; to be changed at the next sign-in): %s\n", password)
		}
		return err
	}
	switch args[0] {
	case "add":
		a := staff.Account{Email: *email, Name: *name, Role: *role, Teams: staff.SplitTeams(*teams)}
		if err := a.Validate(); err != nil {
			return err
		}
		password := ""
		if *fromStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if password = strings.TrimRight(line, "\r\n"); password == "" {
				return errors.New("staff add: --password-stdin read no password")
			}
		}
		pw, err := rn.AddStaff(ctx, by, a, password)
		if errors.Is(err, staff.ErrExists) {
			return fmt.Errorf("staff add: %s has an account already", a.Email)
		} else if err != nil && !errors.Is(err, runner.ErrNotAudited) {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s; teams %s)\n", a.Email, a.Role, strings.Join(a.Teams, ", "))
		return oneTime(pw, err)
	case "disable", "enable", "reset", "totp-off":
		var pw string
		switch args[0] {
		case "disable":
			err = rn.DisableStaff(ctx, by, *email) // signed-in sessions end at their next request
		case "enable":
			err = rn.EnableStaff(ctx, by, *email)
		case "reset":
			pw, err = rn.ResetStaffPassword(ctx, by, *email)
		case "totp-off":
			err = rn.ClearTOTP(ctx, by, *email)
		}
		if err != nil && !errors.Is(err, runner.ErrNotAudited) {
			return fmt.Errorf("staff %s: %s: %w", args[0], *email, err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", args[0], strings.ToLower(strings.TrimSpace(*email)))
		return oneTime(pw, err)
	case "list":
		all, err := rn.StaffAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range all {
			var state []string
			if a.Disabled {
				state = append(state, "disabled")
			}
			if a.MustChange {
				state = append(state, "one-time password")
			}
			if a.TOTPSecret != "" {
				state = append(state, "TOTP")
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", a.Email, a.Role, strings.Join(a.Teams, ","), strings.Join(state, ", "))
		}
		return nil
	}
	return errors.New(staffUsage)
}
