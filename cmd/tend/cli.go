package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// stdio is where a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one of tend's commands: the words that name it, what it
// takes, what it does, and how it runs. --help is answered before run is
// called, so no command ever takes it for an argument.
type command struct {
	name    string // the words after tend: "content lint"
	args    string // after the name in the synopsis: "[DIR]"
	summary string // one line for tend help
	about   string // more for tend NAME --help; may be ""
	// flags, when set, returns the command's flags for --help (secrets'
	// values hidden).
	flags func() *flag.FlagSet
	run   func(s stdio, args []string) error
}

// storeFlags is what the commands that open the store say of it.
const storeFlags = `The store is the one tend serve uses (TEND_STORE, TEND_DATA_DIR, TEND_REDIS_URL, or the
flags --store, --data-dir, --redis-url); with the embedded store, stop tend serve first.`

// commands are tend's commands, in the order tend help lists them.
var commands = []command{
	{name: "serve", args: "[flags]", summary: "run the service (the command when none is given)",
		about: "Every flag has an environment variable, named at its end; the README's Configuration\n" +
			"section says more. Secrets are no flags: set TEND_API_TOKEN, TWILIO_AUTH_TOKEN, TELEGRAM_BOT_TOKEN\n" +
			"and TEND_TELEGRAM_WEBHOOK_SECRET, or NAME_FILE to a file holding one. With no provider\n" +
			"configured it runs the dev phone at /dev/phone.",
		flags: func() *flag.FlagSet { return configFlagSet("serve") },
		run:   func(_ stdio, args []string) error { return serve(args) }},
	{name: "content lint", args: "[DIR]", summary: "check a content pack (the bundled one without DIR)",
		about: "Prints each problem as file:line and fails when one is an error. DIR is the pack's folder\n" +
			"(programs/, flows/, locales/).",
		run: func(s stdio, args []string) error {
			if len(args) > 1 {
				return usageErrorf("one folder at most, got %d arguments", len(args))
			}
			return lintCmd(args, s.out)
		}},
	{name: "content audio", args: "LANG [DIR]", summary: "list the recordings a language without a voice needs, and which are missing",
		about: "One line a file: its name, recorded or missing in the pack's audio folder, and the words to\n" +
			"record. Put the files in DIR/audio/LANG and set voice.LANG.audio in channels.yaml (docs/content.md,\n" +
			"\"Recorded audio\").",
		run: func(s stdio, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf("a language, and a pack folder at most")
			}
			return audioCmd(args, s.out)
		}},
	{name: "simulate", args: "[flags]", summary: "chat with the engine in the terminal (no network)",
		about: simHelp,
		flags: func() *flag.FlagSet { return helpFlags(simulate([]string{"-h"}, nil, io.Discard)) },
		run:   func(s stdio, args []string) error { return simulate(args, s.in, s.out) }},
	{name: "keys generate", args: "ID", summary: "print a new line for the encryption key file",
		about: "ID names the key (letters, digits, '-', '_'); put the line on top of the key file to seal\n" +
			"new data with it. See the README's PHI at rest section.",
		run: func(s stdio, args []string) error {
			if len(args) != 1 {
				return usageErrorf("the new key's ID is required, and only it")
			}
			return keysCmd([]string{"generate", args[0]}, s.out, s.err)
		}},
	{name: "keys rotate", args: "[serve flags]", summary: "re-seal stored PHI under the key file's active key",
		about: "Takes the same settings as tend serve (environment or flags). Safe while Redis replicas\n" +
			"serve; stop tend serve first on the embedded store. Interrupted, run it again.",
		flags: func() *flag.FlagSet { return configFlagSet("keys rotate") },
		run: func(s stdio, args []string) error {
			return keysCmd(append([]string{"rotate"}, args...), s.out, s.err)
		}},
	staffCommand("add", "--email E --role coach|nurse|admin [--team T[,T...]] [--name N] [--password-stdin]",
		"add a staff account (a one-time password is printed once)",
		"--password-stdin reads the password from standard input instead. An admin sees every team."),
	staffCommand("list", "", "list the staff accounts: role, teams, disabled, one-time password, TOTP", ""),
	staffCommand("disable", "--email E", "disable an account: its sessions end at their next request", ""),
	staffCommand("enable", "--email E", "enable a disabled account again", ""),
	staffCommand("reset", "--email E", "give an account a new one-time password and end its sessions", "TOTP stays on."),
	staffCommand("totp-off", "--email E", "turn two-step sign-in off for an account (a lost phone)", ""),
	{name: "audit verify", args: "[--store S --data-dir D --redis-url U]", summary: "check that no audit record was edited, removed or reordered",
		about: "Each record carries the hash of the one before it.\n" + storeFlags,
		run: func(s stdio, args []string) error {
			return auditCmd(append([]string{"verify"}, args...), s.out)
		}},
	{name: "sms send", args: "--to NUMBER --text TEXT [--url http://localhost:8080]",
		summary: "post a signed inbound SMS webhook to a running server, as Twilio would",
		about:   smsSendAbout,
		flags:   func() *flag.FlagSet { fs, _, _, _, _ := smsSendFlags(); return fs },
		run:     func(s stdio, args []string) error { return smsSend(args, s.out) }},
	{name: "import patients", args: "FILE [--url http://localhost:8080] [--key K]",
		summary: "enroll an NDJSON file of patients through a running server, with a progress bar",
		about:   importAbout,
		flags:   func() *flag.FlagSet { fs, _, _, _, _ := importFlags(); return fs },
		run:     func(s stdio, args []string) error { return importPatients(args, s.out, s.err) }},
	{name: "export", args: "[--patient ID] [-o FILE]", summary: "write patients' records (enrollment, timeline, tickets) as NDJSON, decrypted: PHI",
		about: exportAbout,
		flags: func() *flag.FlagSet { fs, _, _ := exportFlags(&config{}); return fs },
		run:   func(s stdio, args []string) error { return exportCmd(args, s.out, s.err) }},
	outboxCommand("list", "[--after ID] [--limit N]", "list the dead letters: messages not sent within their retry window"),
	outboxCommand("resend", "ID", "queue a dead letter again, with a fresh retry window"),
	outboxCommand("cancel", "ID", "drop a dead letter for good"),
	{name: "help", args: "[COMMAND]", summary: "tend's commands, or one command's usage",
		run: func(s stdio, args []string) error { return nil }}, // answered by run
}

// staffCommand is one of tend staff's subcommands, all run by staffCmd.
func staffCommand(sub, args, summary, about string) command {
	return command{name: "staff " + sub, args: args, summary: summary, about: strings.TrimSpace(about + "\n" + storeFlags),
		run: func(s stdio, rest []string) error { return staffCmd(append([]string{sub}, rest...), s.in, s.out) }}
}

// outboxCommand is one of tend outbox's subcommands, all run by outboxCmd.
func outboxCommand(sub, args, summary string) command {
	return command{name: "outbox " + sub, args: args, summary: summary,
		about: "Each is audited as \"cli\"; no text or number is printed (read the text on the patient's timeline).\n" + storeFlags,
		run:   func(s stdio, rest []string) error { return outboxCmd(append([]string{sub}, rest...), s.out) }}
}

// usageError is a command line that does not say what to do: tend exits
// 2 with the command's usage.
type usageError struct {
	err   error
	flags *flag.FlagSet // the command's flags, when they failed to parse
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// flagError is what a command returns when its flags did not parse: a
// usageError carrying them. A command's flag set writes nothing itself
// (SetOutput(io.Discard)): tend reports the error, and --help lists them.
func flagError(fs *flag.FlagSet, err error) error {
	return &usageError{err: err, flags: fs}
}

// helpFlags digs the flag set out of the error a command returned for -h.
func helpFlags(err error) *flag.FlagSet {
	var ue *usageError
	if errors.As(err, &ue) {
		return ue.flags
	}
	return nil
}

// configFlagSet is serve's flags (keys rotate's too).
func configFlagSet(name string) *flag.FlagSet {
	_, err := parseConfig(name, []string{"-h"})
	return helpFlags(err)
}

// wantsHelp reports whether args ask for help: -h, -help or --help before
// a "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// find returns the command args name and the arguments after its name.
// group is the first word when it names a group of commands (staff,
// keys, ...) but no command of it.
func find(args []string) (cmd *command, rest []string, group string) {
	for n := min(2, len(args)); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		for i := range commands {
			if commands[i].name == name {
				return &commands[i], args[n:], ""
			}
		}
	}
	if len(args) > 0 && len(groupOf(args[0])) > 0 {
		return nil, nil, args[0]
	}
	return nil, nil, ""
}

// groupOf returns the commands whose first word is word, when it is not
// a command by itself.
func groupOf(word string) []command {
	var out []command
	for _, c := range commands {
		if first, _, ok := strings.Cut(c.name, " "); ok && first == word {
			out = append(out, c)
		}
	}
	return out
}

// run runs tend with its arguments and returns the exit code: 0, 1 when
// the command failed, 2 when the command line was not understood.
func run(args []string, s stdio) int {
	switch {
	case len(args) == 0:
		args = []string{"serve"}
	case wantsHelp(args[:1]):
		printUsage(s.out)
		return 0
	case strings.HasPrefix(args[0], "-"):
		args = append([]string{"serve"}, args...) // tend --addr :9090
	case args[0] == "help":
		return help(args[1:], s)
	}
	cmd, rest, group := find(args)
	switch {
	case cmd == nil && group != "" && len(args) > 1 && !wantsHelp(args[1:2]):
		fmt.Fprintf(s.err, "tend: unknown command %q\n\n", strings.Join(args[:2], " "))
		printGroup(s.err, group)
		return 2
	case cmd == nil && group != "" && len(args) > 1:
		printGroup(s.out, group)
		return 0
	case cmd == nil && group != "":
		fmt.Fprintf(s.err, "tend %s: which one?\n\n", group)
		printGroup(s.err, group)
		return 2
	case cmd == nil:
		fmt.Fprintf(s.err, "tend: unknown command %q\n\n", args[0])
		printUsage(s.err)
		return 2
	case wantsHelp(rest):
		printCommand(s.out, cmd)
		return 0
	}
	err := cmd.run(s, rest)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(s.err, "tend %s: %v\nusage: tend %s %s\n(tend %s --help says more)\n", cmd.name, ue.err, cmd.name, cmd.args, cmd.name)
		return 2
	default:
		fmt.Fprintln(s.err, "tend:", err)
		return 1
	}
}

// help answers tend help [COMMAND].
func help(args []string, s stdio) int {
	if len(args) == 0 {
		printUsage(s.out)
		return 0
	}
	if wantsHelp(args) {
		args = []string{"help"}
	}
	cmd, rest, group := find(args)
	switch {
	case cmd != nil && len(rest) == 0:
		printCommand(s.out, cmd)
		return 0
	case cmd == nil && group != "" && len(args) == 1:
		printGroup(s.out, group)
		return 0
	}
	fmt.Fprintf(s.err, "tend help: no command %q\n\n", strings.Join(args, " "))
	printUsage(s.err)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "Tend: conversational care by SMS, WhatsApp, Telegram and voice calls.\n\nusage: tend COMMAND [arguments]\n\ncommands:\n")
	listCommands(w, commands)
	fmt.Fprint(w, "\ntend COMMAND --help (or -h) prints a command's usage and flags.\n")
}

func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: tend %s COMMAND\n\ncommands:\n", group)
	listCommands(w, groupOf(group))
	fmt.Fprintf(w, "\ntend %s COMMAND --help prints a command's usage.\n", group)
}

func listCommands(w io.Writer, cmds []command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
}

// printCommand prints a command's usage, what it does and its flags.
func printCommand(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: tend %s %s\n\n%s.\n", c.name, c.args, upperFirst(c.summary))
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	if c.flags == nil {
		return
	}
	fs := c.flags()
	if fs == nil {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		if secretFlag(f.Name) {
			f.DefValue = "" // the default would print the secret from the environment
		}
	})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// secretFlag reports whether a flag's value is a secret, whose default
// (read from the environment) --help must not print. A Redis URL may
// carry a password.
func secretFlag(name string) bool {
	return slices.ContainsFunc([]string{"token", "secret", "password", "redis-url"}, func(s string) bool { return strings.Contains(name, s) })
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
