package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/sandbox"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

const simHelp = `commands:
  /start FLOW [key=value ...]   start a flow now (e.g. /start med-reminder)
  /advance DURATION             move the clock (30m, 2h, 1d), firing timers on the way
  /timeline                     show the patient's timeline
  /help, /quit
anything else is a message from the patient`

// simulate chats with the engine in the terminal: a real runner, store and
// dispatcher on a temporary embedded store, a sandbox channel and a clock
// that moves only on /advance. No network.
func simulate(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // tend simulate --help lists the flags (cli.go)
	lang := fs.String("lang", "en", "patient language")
	program := fs.String("program", "heart-failure", "program to enroll in")
	tz := fs.String("tz", "America/Chicago", "patient time zone")
	start := fs.String("at", "2026-03-02T09:00", "local start time")
	phi := fs.Bool("phi-ok", false, "patient allows the medicine's name in messages")
	dir := fs.String("content", env("TEND_CONTENT_DIR", ""), "content pack directory (bundled if empty)")
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	pack, err := loadPack(*dir)
	if err != nil {
		return err
	}
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("--tz: %w", err)
	}
	t0, err := time.ParseInLocation("2006-01-02T15:04", *start, loc)
	if err != nil {
		return fmt.Errorf("--at: %w", err)
	}
	tmp, err := os.MkdirTemp("", "tend-simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	clock := conversations.NewManualClock(t0)
	st, err := embedded.Open(filepath.Join(tmp, "sim.db"), embedded.Options{NoSync: true, MaxBatchDelay: time.Microsecond, Now: clock.Now})
	if err != nil {
		return err
	}
	defer st.Close()
	sim := &simulator{clock: clock, st: st, out: out}
	sim.disp = &channels.Dispatcher{Outbox: st, Clock: clock.Now, Quiet: conversations.DefaultQuietHours(),
		Senders: map[string]channels.Sender{sandbox.Channel: &sandbox.Sender{W: out, Clock: clock.Now}}, Specs: channels.Specs{sandbox.Spec}}
	sim.runner = &runner.Runner{Store: st, Engine: engine, Clock: clock.Now, Quiet: conversations.DefaultQuietHours(), Channels: sim.disp.Specs,
		Render: &conversations.Renderer{Pack: pack, HelpContact: "+1 555 010 0100"}}
	sim.disp.Consent = sim.runner
	ctx := context.Background()
	p := store.Patient{ID: "sim", Phone: "+15550100000", Language: *lang, Timezone: *tz, Channel: sandbox.Channel,
		Programs: []string{*program}, PHIOK: *phi,
		Medications: []store.Medication{{ID: "med-1", Display: "metoprolol 25 mg", Times: []string{"08:00", "20:00"}}}}
	if _, err := sim.runner.Enroll(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(out, "Simulating a patient (%s, %s, program %s) at %s. /help for commands.\n", *lang, *tz, *program, t0.Format("Mon 2 Jan 15:04"))
	sim.settle(ctx)
	sc := bufio.NewScanner(in)
	for {
		fmt.Fprint(out, "you> ")
		if !sc.Scan() {
			fmt.Fprintln(out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if quit, err := sim.command(ctx, line); quit || err != nil {
			return err
		}
	}
}

type simulator struct {
	clock  *conversations.ManualClock
	st     store.Store
	runner *runner.Runner
	disp   *channels.Dispatcher
	out    io.Writer
	n      int
}

// command runs one line of input; quit reports /quit.
func (s *simulator) command(ctx context.Context, line string) (quit bool, err error) {
	fields := strings.Fields(line)
	switch {
	case line == "":
	case line == "/quit" || line == "/exit":
		return true, nil
	case line == "/help":
		fmt.Fprintln(s.out, simHelp)
	case fields[0] == "/start" && len(fields) > 1:
		var params []conversations.Param
		for _, kv := range fields[2:] {
			k, v, _ := strings.Cut(kv, "=")
			params = append(params, conversations.Param{Key: k, Value: v})
		}
		if fields[1] == "med-reminder" && len(params) == 0 {
			params = []conversations.Param{{Key: "medication", Value: "med-1"}}
		}
		if err := s.runner.StartFlow(ctx, "sim", fields[1], params); err != nil {
			fmt.Fprintln(s.out, "!", err)
		}
		s.settle(ctx)
	case fields[0] == "/advance" && len(fields) == 2:
		d, err := content.ParseDuration(fields[1])
		if err != nil {
			fmt.Fprintln(s.out, "!", err)
			return false, nil
		}
		s.advance(ctx, d)
	case line == "/timeline":
		events, err := s.st.Timeline(ctx, "sim")
		if err != nil {
			return false, err
		}
		for _, e := range events {
			var fields []string
			for _, f := range []string{e.Status, e.Priority, e.Medication, e.Question, e.Reason} {
				if f != "" {
					fields = append(fields, f)
				}
			}
			fmt.Fprintf(s.out, "  %s %-12s %s\n", e.At.Format("Mon 15:04"), e.Type, strings.Join(fields, " "))
		}
	case strings.HasPrefix(line, "/"):
		fmt.Fprintln(s.out, "! unknown command;", simHelp)
	default:
		s.n++
		if err := s.runner.Inbound(ctx, "sim", sandbox.Channel, line, fmt.Sprintf("sim-%d", s.n)); err != nil {
			return false, err
		}
		s.settle(ctx)
	}
	return false, nil
}

// settle fires what is due and sends what may be sent at the current time.
func (s *simulator) settle(ctx context.Context) {
	for s.runner.FireDue(ctx, 1)+s.disp.Step(ctx) > 0 {
	}
}

// advance moves the clock a minute at a time, so that timers and held
// messages come out at the minute they are due.
func (s *simulator) advance(ctx context.Context, d time.Duration) {
	end := s.clock.Now().Add(d)
	for t := s.clock.Now(); t.Before(end); {
		t = t.Add(time.Minute)
		if t.After(end) {
			t = end
		}
		s.clock.Set(t)
		s.settle(ctx)
	}
}
