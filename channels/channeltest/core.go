package channeltest

import (
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/sms"
	"github.com/tendcare/tend/channels/telegram"
	"github.com/tendcare/tend/channels/voice"
	"github.com/tendcare/tend/channels/whatsapp"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
)

// T0 is when channel tests start: Monday 2 March 2026, 10:00 in Chicago
// (where test patients live), inside the default sending and calling
// windows.
var T0 = time.Date(2026, time.March, 2, 16, 0, 0, 0, time.UTC)

// Channels are the specs of the bundled channels, as cmd/tend passes them.
var Channels = channels.Specs{sms.Spec, whatsapp.Spec, telegram.Spec, voice.Spec}

// HelpContact is the clinic contact the test runners render into messages.
const HelpContact = "555-0100"

// loadPack loads the bundled pack once per test binary: loading it is the
// slowest part of a test's set-up, and the engine and renderers only read
// it.
var loadPack = sync.OnceValues(func() (*content.Pack, error) {
	pack, _, err := content.Load(content.Default())
	return pack, err
})

// Pack returns the bundled content pack (content.Default()), shared by
// every caller in the test binary; a test that changes a pack loads its own
// copy with content.Load.
func Pack(tb testing.TB) *content.Pack {
	tb.Helper()
	pack, err := loadPack()
	if err != nil {
		tb.Fatal(err)
	}
	return pack
}

// Store opens an embedded store in a fresh temp dir, without fsync (a test
// never outlives a crash), and closes it when tb ends.
func Store(tb testing.TB) *embedded.Store {
	return open(tb, "tend.db", embedded.Options{NoSync: true})
}

// DurableStore opens an embedded store in a fresh temp dir as production
// runs it, each commit fsync'd (in groups), and closes it when tb ends:
// benchmarks measure that.
func DurableStore(tb testing.TB) *embedded.Store {
	return open(tb, "bench.db", embedded.Options{})
}

func open(tb testing.TB, name string, opts embedded.Options) *embedded.Store {
	tb.Helper()
	st, err := embedded.Open(filepath.Join(tb.TempDir(), name), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// Core is what a channel's test environment stands on: the real runner and
// engine on an embedded store, driven by a manual clock.
type Core struct {
	Pack   *content.Pack
	Store  *embedded.Store
	Runner *runner.Runner
	Clock  *conversations.ManualClock
	// Quiet is the sending window the runner keeps (08:00-21:00); give it
	// to the dispatcher too.
	Quiet conversations.QuietHours
	// Log is the runner's logger; give it to the webhooks and dispatcher
	// too.
	Log *slog.Logger

	tb testing.TB
}

// Options change what New builds; the zero value builds the default.
type Options struct {
	// Pack replaces the bundled pack.
	Pack *content.Pack
	// Log receives the logs, which are discarded otherwise.
	Log *slog.Logger
}

// New builds a Core: the pack, an engine, an embedded store (Store), a
// manual clock at T0, and a runner on them that keeps the 08:00-21:00
// window and renders HelpContact.
func New(tb testing.TB, opts Options) *Core {
	tb.Helper()
	pack := opts.Pack
	if pack == nil {
		pack = Pack(tb)
	}
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		tb.Fatal(err)
	}
	quiet, err := conversations.ParseQuietHours("08:00-21:00")
	if err != nil {
		tb.Fatal(err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Core{Pack: pack, Store: Store(tb), Clock: conversations.NewManualClock(T0), Quiet: quiet, Log: log, tb: tb}
	c.Runner = &runner.Runner{Store: c.Store, Engine: engine, Clock: c.Clock.Now, Quiet: quiet, Log: log, Channels: Channels,
		Render: &conversations.Renderer{Pack: pack, HelpContact: HelpContact}}
	return c
}

// Timeline returns a patient's timeline, failing the test on an error.
func (c *Core) Timeline(patientID string) []store.Event {
	c.tb.Helper()
	evs, err := c.Store.Timeline(c.tb.Context(), patientID)
	if err != nil {
		c.tb.Fatal(err)
	}
	return evs
}

// Depth returns how many entries the outbox holds, failing the test on an
// error.
func (c *Core) Depth() int {
	c.tb.Helper()
	n, err := c.Store.OutboxDepth(c.tb.Context())
	if err != nil {
		c.tb.Fatal(err)
	}
	return n
}

// Of returns the events of a type, in order.
func Of(evs []store.Event, typ string) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// Count returns how many events are of a type.
func Count(evs []store.Event, typ string) int { return len(Of(evs, typ)) }

// Event returns the event with an id, and whether there is one.
func Event(evs []store.Event, id string) (store.Event, bool) {
	for _, ev := range evs {
		if ev.ID == id {
			return ev, true
		}
	}
	return store.Event{}, false
}
