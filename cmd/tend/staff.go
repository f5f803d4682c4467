package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tendcare/tend/audit"
	"github.com/tendcare/tend/staff"
)

const staffUsage = `usage: tend staff add --email E --role coach|nurse|admin --team T[,T...] [--name N] [--password-stdin]
       tend staff list
       tend staff disable|enable|reset --email E   (reset: a new one-time password)
The store is the one tend serve uses (TEND_STORE, TEND_DATA_DIR, TEND_REDIS_URL, or the flags
--store, --data-dir, --redis-url); with the embedded store, stop tend serve first`

// staffCmd manages staff accounts: `staff add` creates one with a
// one-time password (printed once, to be changed at the first sign-in) or
// one read from standard input; `staff list` prints them, without hashes.
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
		return fmt.Errorf("%v\n%s", err, staffUsage)
	}
	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch args[0] {
	case "add":
		a := staff.Account{Email: *email, Name: *name, Role: *role, Teams: strings.Split(*teams, ","), CreatedAt: time.Now().UTC()}
		if err := a.Validate(); err != nil {
			return err
		}
		password, oneTime := staff.NewPassword(), true
		if *fromStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			password, oneTime = strings.TrimRight(line, "\r\n"), false
			if err := staff.CheckStrength(password); err != nil {
				return err
			}
		}
		a.PasswordHash, a.MustChange = staff.Hash(password, staff.DefaultParams), oneTime
		if err := st.PutStaff(ctx, a, true); errors.Is(err, staff.ErrExists) {
			return fmt.Errorf("staff add: %s has an account already", a.Email)
		} else if err != nil {
			return err
		}
		rec := audit.Record{At: time.Now(), Staff: "cli", Action: audit.StaffAdd, Detail: a.Email + " " + a.Role}
		if _, err := st.AppendAudit(ctx, rec); err != nil {
			return fmt.Errorf("staff add: the account was added but not audited: %w", err)
		}
		fmt.Fprintf(stdout, "added %s (%s; teams %s)\n", a.Email, a.Role, strings.Join(a.Teams, ", "))
		if oneTime {
			fmt.Fprintf(stdout, "one-time password (shown once; to be changed at the first sign-in): %s\n", password)
		}
		return nil
	case "disable", "enable", "reset":
		addr, err := staff.NormalizeEmail(*email)
		if err != nil {
			return err
		}
		a, err := st.StaffAccount(ctx, addr)
		if err != nil {
			return fmt.Errorf("staff %s: %s: %w", args[0], addr, err)
		}
		password := ""
		switch args[0] {
		case "disable":
			a.Disabled = true // signed-in sessions end at their next request
		case "enable":
			a.Disabled = false
		case "reset":
			password = staff.NewPassword()
			a.PasswordHash, a.MustChange = staff.Hash(password, staff.DefaultParams), true
		}
		if err := st.PutStaff(ctx, a, false); err != nil {
			return err
		}
		if _, err := st.AppendAudit(ctx, audit.Record{At: time.Now(), Staff: "cli", Action: "staff_" + args[0], Detail: addr}); err != nil {
			return fmt.Errorf("staff %s: done but not audited: %w", args[0], err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", args[0], addr)
		if password != "" {
			fmt.Fprintf(stdout, "one-time password (shown once; to be changed at the next sign-in): %s\n", password)
		}
		return nil
	case "list":
		all, err := st.StaffAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range all {
			state := ""
			if a.Disabled {
				state = " (disabled)"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s%s\n", a.Email, a.Role, strings.Join(a.Teams, ","), state)
		}
		return nil
	}
	return errors.New(staffUsage)
}
