package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tendcare/tend/api"
	"github.com/tendcare/tend/channels"
	"github.com/tendcare/tend/channels/twilio"
	"github.com/tendcare/tend/console"
	"github.com/tendcare/tend/content"
	"github.com/tendcare/tend/conversations"
	"github.com/tendcare/tend/conversations/runner"
	"github.com/tendcare/tend/escalation"
	"github.com/tendcare/tend/fhir"
	"github.com/tendcare/tend/live"
	"github.com/tendcare/tend/locales"
	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	redisstore "github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/seal"
)

// config is every setting, each an environment variable read by an
// envReader (config.go) and, unless it is a secret, a flag.
type config struct {
	Addr, DataDir, Store, PublicURL, APIToken  string
	TwilioSID, TwilioToken, SMSFrom, TwilioAPI string
	ContentDir, QuietHours, HelpContact        string
	EmergencyNumber, CrisisLine                string
	VoiceSpeech                                bool
	KeyFile                                    string
	AllowPlaintext                             bool
	OnCall, PageEvery, Deadlines, TeamsFile    string
	RequireTOTP                                string
	teams                                      escalation.Teams
	ReopenWithin                               string
	reopenWithin                               time.Duration
	DevPhone                                   string
	// autoKeys: KeyFile is the data dir's own, made by tend on first
	// start; the store may still hold values from before, in the clear.
	autoKeys                                   bool
	RedisURL, RedisAddrs, RedisSentinelMaster  string
	RedisCluster                               bool
	TimelineMax                                int
	TimelineRetention                          string
	WhatsAppFrom, VoiceFrom, NurseLine         string
	CallbackNumber                             string
	VoiceMaxCalls                              int
	MaxBulk                                    int
	TelegramToken, TelegramSecret, TelegramAPI string
	TelegramBot                                string
	SMSRate, TelegramRate, TelegramChatRate    float64
	RetryWindow                                string
	retryWindow                                time.Duration
	MaxMedications, MaxTimes                   int
	serving                                    servingConfig
}

// parseConfig reads the flags and environment of command name: serve, and
// keys rotate, which opens the same store with the same key file.
func parseConfig(name string, args []string) (config, error) {
	var c config
	r := &envReader{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; tend serve --help lists the flags (cli.go)
	fs.StringVar(&c.Addr, "addr", env("TEND_ADDR", ""), "listen address; none: 127.0.0.1:8080 while the public URL is localhost, else :8080 (TEND_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("TEND_DATA_DIR", "./data"), "data directory (TEND_DATA_DIR)")
	fs.StringVar(&c.Store, "store", env("TEND_STORE", "embedded"), "store backend: embedded or redis (TEND_STORE)")
	fs.StringVar(&c.RedisURL, "redis-url", r.secret("TEND_REDIS_URL", "redis://127.0.0.1:6379/0"), "redis:// or rediss:// URL with user, password, DB and pool/timeout options (TEND_REDIS_URL)")
	fs.StringVar(&c.RedisAddrs, "redis-addrs", env("TEND_REDIS_ADDRS", ""), "comma-separated cluster seeds or Sentinel addresses; overrides the URL's host (TEND_REDIS_ADDRS)")
	fs.Var(r.int(&c.TimelineMax, "TEND_TIMELINE_MAX", redisstore.DefaultTimelineMax, -1), "timeline-max", "events kept per patient timeline; -1 keeps all (TEND_TIMELINE_MAX)")
	fs.StringVar(&c.TimelineRetention, "timeline-retention", env("TEND_TIMELINE_RETENTION", "365d"), "age after which timeline events are dropped, e.g. 365d; 0 keeps them (TEND_TIMELINE_RETENTION)")
	fs.Var(r.bool(&c.RedisCluster, "TEND_REDIS_CLUSTER", false), "redis-cluster", "use Redis Cluster (TEND_REDIS_CLUSTER=true)")
	fs.StringVar(&c.RedisSentinelMaster, "redis-sentinel-master", env("TEND_REDIS_SENTINEL_MASTER", ""), "Sentinel master name; TEND_REDIS_ADDRS are then the Sentinels (TEND_REDIS_SENTINEL_MASTER)")
	fs.StringVar(&c.PublicURL, "public-url", env("TEND_PUBLIC_URL", "http://localhost:8080"), "base URL providers call (TEND_PUBLIC_URL)")
	c.APIToken = r.secret("TEND_API_TOKEN", "") // no flag: secretSettings
	fs.StringVar(&c.TwilioSID, "twilio-account-sid", env("TWILIO_ACCOUNT_SID", ""), "Twilio account SID (TWILIO_ACCOUNT_SID)")
	c.TwilioToken = r.secret("TWILIO_AUTH_TOKEN", "") // no flag: secretSettings
	fs.StringVar(&c.SMSFrom, "sms-from", env("TEND_SMS_FROM", ""), "SMS sender number or messaging service SID (TEND_SMS_FROM)")
	fs.StringVar(&c.TwilioAPI, "twilio-api-url", env("TEND_TWILIO_API_URL", twilio.DefaultAPIURL), "Twilio REST base URL (TEND_TWILIO_API_URL)")
	fs.StringVar(&c.ContentDir, "content-dir", env("TEND_CONTENT_DIR", ""), "content pack directory; bundled pack if empty (TEND_CONTENT_DIR)")
	fs.StringVar(&c.QuietHours, "quiet-hours", env("TEND_QUIET_HOURS", "08:00-21:00"), "local sending window, or off (TEND_QUIET_HOURS)")
	fs.StringVar(&c.KeyFile, "encryption-key-file", env("TEND_ENCRYPTION_KEY_FILE", ""), "key file sealing PHI at rest; none: on the embedded store, DATA_DIR/encryption-keys, made on first start (TEND_ENCRYPTION_KEY_FILE)")
	fs.Var(r.bool(&c.AllowPlaintext, "TEND_ALLOW_PLAINTEXT", false), "allow-plaintext", "let the Redis store keep PHI in the clear when no key file is set (TEND_ALLOW_PLAINTEXT=true)")
	fs.StringVar(&c.HelpContact, "help-contact", env("TEND_HELP_CONTACT", "your clinic"), "phone or URL the HELP reply gives (TEND_HELP_CONTACT)")
	fs.StringVar(&c.EmergencyNumber, "emergency-number", env("TEND_EMERGENCY_NUMBER", ""), "number the safety reply tells patients to call; none: by the country of each patient's phone, else 112 (TEND_EMERGENCY_NUMBER)")
	fs.StringVar(&c.CrisisLine, "crisis-line", env("TEND_CRISIS_LINE", ""), "suicide and crisis line the safety reply gives; none: by the country of each patient's phone (988 for +1) (TEND_CRISIS_LINE)")
	fs.StringVar(&c.WhatsAppFrom, "whatsapp-from", env("TEND_WHATSAPP_FROM", ""), "WhatsApp sender number on Twilio, E.164 (TEND_WHATSAPP_FROM)")
	fs.StringVar(&c.VoiceFrom, "voice-from", env("TEND_VOICE_FROM", ""), "number reminder calls come from (TEND_VOICE_FROM)")
	fs.StringVar(&c.NurseLine, "nurse-line", env("TEND_NURSE_LINE", ""), "on-call number a caller pressing 0 is connected to; none: a callback escalation (TEND_NURSE_LINE)")
	fs.StringVar(&c.CallbackNumber, "callback-number", env("TEND_CALLBACK_NUMBER", ""), "number voicemails ask patients to call back; default the help contact (TEND_CALLBACK_NUMBER)")
	fs.Var(r.bool(&c.VoiceSpeech, "TEND_VOICE_SPEECH", true), "voice-speech", "callers may speak as well as press keys; speech goes through the emergency detector (TEND_VOICE_SPEECH)")
	fs.StringVar(&c.OnCall, "oncall", env("TEND_ONCALL", ""), "on-call numbers (E.164, comma-separated, first first) paged while a ticket nobody claimed nears its deadline; none: no paging (TEND_ONCALL)")
	fs.StringVar(&c.PageEvery, "page-every", env("TEND_PAGE_EVERY", "10m"), "time between two pages of one ticket (TEND_PAGE_EVERY)")
	fs.StringVar(&c.RequireTOTP, "require-totp", env("TEND_REQUIRE_TOTP", console.RequireTOTPNone), "who must turn on two-step sign-in (TOTP) in the console before anything else: admin, all or none (TEND_REQUIRE_TOTP)")
	fs.StringVar(&c.Deadlines, "deadlines", env("TEND_DEADLINES", escalation.Deadlines{}.String()), "response times per priority, such as acute=15m,high=1h,medium=4h,low=24h; a priority left out keeps its default (TEND_DEADLINES)")
	fs.StringVar(&c.TeamsFile, "teams", env("TEND_TEAMS", ""), "YAML file of each team's deadlines, oncall ladder and page_every; what a team leaves out, and every team it does not name, follows TEND_DEADLINES, TEND_ONCALL and TEND_PAGE_EVERY (TEND_TEAMS)")
	fs.StringVar(&c.ReopenWithin, "reopen-within", env("TEND_REOPEN_WITHIN", "24h"), "a patient's message this soon after their ticket was resolved reopens it instead of opening another; 0: never (TEND_REOPEN_WITHIN)")
	fs.StringVar(&c.DevPhone, "dev-phone", env("TEND_DEV_PHONE", "auto"), "dev phone at /dev/phone for texts with no provider: auto (on when no provider is configured), on or off; localhost only (TEND_DEV_PHONE)")
	fs.Var(r.int(&c.MaxBulk, "TEND_MAX_BULK", api.DefaultMaxBulk, 1), "max-bulk", "most patients one API request may name: a flow start, a batch of enrollments (TEND_MAX_BULK)")
	fs.Var(r.int(&c.VoiceMaxCalls, "TEND_VOICE_MAX_CALLS", 4, 1), "voice-max-calls", "concurrent reminder calls per voice number (TEND_VOICE_MAX_CALLS)")
	c.TelegramToken = r.secret("TELEGRAM_BOT_TOKEN", "")            // no flag: secretSettings
	c.TelegramSecret = r.secret("TEND_TELEGRAM_WEBHOOK_SECRET", "") // no flag: secretSettings
	fs.StringVar(&c.TelegramAPI, "telegram-api-url", env("TEND_TELEGRAM_API_URL", "https://api.telegram.org"), "Telegram Bot API base URL (TEND_TELEGRAM_API_URL)")
	fs.StringVar(&c.TelegramBot, "telegram-bot-username", env("TEND_TELEGRAM_BOT_USERNAME", ""), "bot username for t.me links; asked from Telegram (getMe) if empty (TEND_TELEGRAM_BOT_USERNAME)")
	fs.Var(r.rate(&c.SMSRate, "TEND_SMS_RATE", 1), "sms-rate", "SMS segments per second from the sender; 1 for a long code, more for toll-free, short codes and 10DLC (TEND_SMS_RATE)")
	fs.Var(r.rate(&c.TelegramRate, "TEND_TELEGRAM_RATE", 30), "telegram-rate", "Telegram messages per second overall (TEND_TELEGRAM_RATE)")
	fs.Var(r.rate(&c.TelegramChatRate, "TEND_TELEGRAM_CHAT_RATE", 1), "telegram-chat-rate", "Telegram messages per second per chat (TEND_TELEGRAM_CHAT_RATE)")
	fs.StringVar(&c.RetryWindow, "retry-window", env("TEND_RETRY_WINDOW", "24h"), "how long a message that fails for a passing reason (network, 5xx, 429) is retried before it becomes a dead letter (tend outbox), e.g. 24h or 2d (TEND_RETRY_WINDOW)")
	fs.Var(r.int(&c.MaxMedications, "TEND_MAX_MEDICATIONS", api.DefaultMaxMedications, 1), "max-medications", "medications one enrollment may hold; more is a 400 (TEND_MAX_MEDICATIONS)")
	fs.Var(r.int(&c.MaxTimes, "TEND_MAX_TIMES", api.DefaultMaxTimes, 1), "max-times", "times a day one medication may hold; more is a 400 (TEND_MAX_TIMES)")
	servingFlags(fs, r, &c.serving)
	if err := refuseSecretFlags(args); err != nil {
		return c, flagError(fs, err)
	}
	if err := fs.Parse(args); err != nil {
		return c, flagError(fs, err)
	}
	fs.Visit(func(f *flag.Flag) {
		if u, err := url.Parse(c.RedisURL); f.Name == "redis-url" && err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				r.failf("--redis-url", "carries a password, which the command line shows to anyone (ps): set TEND_REDIS_URL or TEND_REDIS_URL_FILE instead")
			}
		}
	})
	checkCredentials(r, &c)
	if c.Addr == "" {
		c.Addr = defaultAddr(c.PublicURL)
	}
	r.check(c.serving.check())
	if c.CallbackNumber == "" {
		c.CallbackNumber = c.HelpContact
	}
	window, err := content.ParseDuration(c.RetryWindow)
	if err != nil || window < time.Second || window > maxRetryWindow {
		r.bad("TEND_RETRY_WINDOW", c.RetryWindow, "not a duration from 1s to 30d (such as 24h or 2d)")
	}
	c.retryWindow = window
	if c.TimelineMax == 0 { // each store once read 0 its own way
		r.bad("TEND_TIMELINE_MAX", "0", "keeps no event: -1 keeps all, else a number of events of 1 or more")
	}
	for _, n := range []struct{ name, value string }{{"TEND_EMERGENCY_NUMBER", c.EmergencyNumber}, {"TEND_CRISIS_LINE", c.CrisisLine}} {
		if n.value != "" && !locales.ValidServiceNumber(n.value) {
			r.bad(n.name, n.value, "not a number to call (2 to 15 digits, spaces between groups allowed)")
		}
	}
	switch c.RequireTOTP {
	case console.RequireTOTPNone, console.RequireTOTPAdmin, console.RequireTOTPAll:
	default:
		r.bad("TEND_REQUIRE_TOTP", c.RequireTOTP, "not admin, all or none")
	}
	reopen, err := time.ParseDuration(c.ReopenWithin)
	if err != nil || reopen < 0 {
		r.bad("TEND_REOPEN_WITHIN", c.ReopenWithin, "not a duration of 0 or more (such as 24h; 0 never reopens)")
	}
	c.reopenWithin = reopen
	if _, err := conversations.ParseQuietHours(c.QuietHours); err != nil {
		r.check(fmt.Errorf("TEND_QUIET_HOURS: %w", err))
	}
	if d, err := content.ParseDuration(c.TimelineRetention); err != nil || d < 0 {
		r.bad("TEND_TIMELINE_RETENTION", c.TimelineRetention, "not a duration of 0 or more (such as 365d; 0 keeps all)")
	}
	if c.Store != "embedded" && c.Store != "redis" && c.Store != "" {
		r.bad("TEND_STORE", c.Store, "not embedded or redis")
	}
	switch strings.ToLower(strings.TrimSpace(c.DevPhone)) {
	case "", "auto", "on", "off":
	default:
		r.bad("TEND_DEV_PHONE", c.DevPhone, "not auto, on or off")
	}
	c.teams, err = parseTeams(c)
	r.check(err)
	return c, r.err()
}

// parseTeams reads the teams' response times and re-page ladders: the
// environment's for every team (TEND_DEADLINES, TEND_ONCALL,
// TEND_PAGE_EVERY), and a teams file's for the teams it names. A bad value
// stops start-up naming the setting, and the file's line.
func parseTeams(c config) (escalation.Teams, error) {
	var ts escalation.Teams
	d, err := escalation.ParseDeadlines(c.Deadlines, escalation.Deadlines{})
	if err != nil {
		return ts, fmt.Errorf("TEND_DEADLINES: %w", err)
	}
	every, err := time.ParseDuration(c.PageEvery)
	if err != nil || every < time.Minute {
		return ts, fmt.Errorf("TEND_PAGE_EVERY: %q is not a duration of a minute or more (such as 10m)", c.PageEvery)
	}
	ts.Default = escalation.Team{Deadlines: d, PageEvery: every}
	for _, n := range strings.Split(c.OnCall, ",") {
		if strings.TrimSpace(n) == "" {
			continue
		}
		phone, err := channels.E164(n)
		if err != nil {
			return ts, fmt.Errorf("TEND_ONCALL: %q: %v", n, err)
		}
		ts.Default.OnCall = append(ts.Default.OnCall, phone)
	}
	if c.TeamsFile == "" {
		return ts, nil
	}
	data, err := os.ReadFile(c.TeamsFile)
	if err != nil {
		return ts, fmt.Errorf("TEND_TEAMS: %w", err)
	}
	if ts.Named, err = escalation.ParseTeams(c.TeamsFile, data, ts.Default, channels.E164); err != nil {
		return ts, fmt.Errorf("TEND_TEAMS: %w", err)
	}
	return ts, nil
}

// maxRetryWindow bounds TEND_RETRY_WINDOW: a message older than a month
// is no use to a patient, and a dead letter says so to a person.
const maxRetryWindow = 30 * 24 * time.Hour

// limits are the provider rates (docs/architecture.md#messaging-rules) the dispatcher paces sends to.
func (c config) limits() *channels.Limits {
	burst := func(r float64) int { return max(1, int(r)) }
	return &channels.Limits{
		Channel: map[string]channels.Rate{
			conversations.SMS:      {PerSecond: c.SMSRate, Burst: burst(c.SMSRate)},
			conversations.Telegram: {PerSecond: c.TelegramRate, Burst: burst(c.TelegramRate)},
		},
		Recipient: map[string]channels.Rate{
			conversations.Telegram: {PerSecond: c.TelegramChatRate, Burst: 1},
		},
	}
}

// loadPack loads and lints the configured pack; a broken pack stops
// start-up with every problem's file and line.
func loadPack(dir string) (*content.Pack, error) {
	fsys := content.Default()
	if dir != "" {
		if err := packFolder(dir); err != nil {
			return nil, fmt.Errorf("content pack: %w", err)
		}
		fsys = content.Dir(dir)
	}
	pack, _, err := content.Load(fsys)
	if err != nil {
		if dir != "" {
			return nil, fmt.Errorf("content pack %s: %w", dir, err)
		}
		return nil, err
	}
	return pack, nil
}

// keysName is the key file tend keeps in the data dir of an embedded store
// when none is configured.
const keysName = "encryption-keys"

// defaultKeys points c at the data dir's key file when none is configured
// and the store is embedded and the file exists.
func defaultKeys(c *config) {
	if c.KeyFile != "" || (c.Store != "embedded" && c.Store != "") {
		return
	}
	path := filepath.Join(c.DataDir, keysName)
	if _, err := os.Stat(path); err == nil {
		c.KeyFile, c.autoKeys = path, true
	}
}

// ensureKeys makes PHI sealed at rest by default. On the embedded store
// without a key file it uses the data dir's, generating it (mode 0600,
// its path printed once, never the key) on first start, so a clinic that follows the README seals
// from its first write; values an older release stored in the clear stay
// readable and found until tend keys rotate seals them. On Redis it
// refuses to start without a key file unless plaintext is allowed.
func ensureKeys(c *config, log *slog.Logger) error {
	if c.KeyFile != "" {
		return nil
	}
	if c.Store == "redis" {
		if c.AllowPlaintext {
			log.Warn("PHI is stored in the clear on Redis (TEND_ALLOW_PLAINTEXT=true)")
			return nil
		}
		return errors.New("the Redis store needs TEND_ENCRYPTION_KEY_FILE to seal PHI at rest (tend keys generate k1 > keys; chmod 600 keys); set TEND_ALLOW_PLAINTEXT=true to store it in the clear")
	}
	defaultKeys(c)
	if c.KeyFile != "" {
		return nil
	}
	line, err := seal.GenerateKeyLine("k1")
	if err != nil {
		return err
	}
	path := filepath.Join(c.DataDir, keysName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the key file: %w", err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "tend: generated the key that seals PHI at rest in %s: back it up apart from the data; without it the data cannot be read\n", path)
	log.Info("generated the encryption key file", "file", path)
	c.KeyFile, c.autoKeys = path, true
	return nil
}

// apiToken returns the configured token, or the one kept in the data dir,
// generating it on first start. Only the file's path is printed and
// logged: a token on a terminal or in a log collector is a token anyone
// with access to either can use.
func apiToken(c config, w io.Writer, log *slog.Logger) (string, error) {
	if c.APIToken != "" {
		return c.APIToken, nil
	}
	path := filepath.Join(c.DataDir, "api-token")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var b [24]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	fmt.Fprintf(w, "tend: generated an API token into %s (read it from there: Authorization: Bearer $(cat %s))\n", path, path)
	log.Info("generated API token", "file", path)
	return tok, nil
}

// openStore opens the configured backend, sealing PHI when a key file is set.
func openStore(c config) (store.Store, error) {
	defaultKeys(&c)
	var keys *seal.Keyring
	if c.KeyFile != "" {
		var err error
		if keys, err = seal.LoadKeyring(c.KeyFile); err != nil {
			return nil, err
		}
	}
	var st store.Store
	switch c.Store {
	case "embedded", "":
		e, err := embedded.Open(filepath.Join(c.DataDir, "tend.db"), embedded.Options{TimelineMax: c.TimelineMax})
		if err != nil {
			return nil, err
		}
		st = e
	case "redis":
		opts := redisstore.Options{URL: c.RedisURL, Cluster: c.RedisCluster, SentinelMaster: c.RedisSentinelMaster, TimelineMax: c.TimelineMax}
		for _, a := range strings.Split(c.RedisAddrs, ",") {
			if a = strings.TrimSpace(a); a != "" {
				opts.Addrs = append(opts.Addrs, a)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := redisstore.Open(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		st = r
	default:
		return nil, fmt.Errorf("store %q is not supported (embedded, redis)", c.Store)
	}
	if keys != nil {
		var opts []seal.Option
		if c.autoKeys {
			opts = append(opts, seal.WithClearLookups()) // an older release's clear data
		}
		st = seal.Wrap(st, keys, opts...)
	}
	return st, nil
}

func serve(args []string) error {
	c, err := parseConfig("serve", args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(log)
	dev, err := devPhoneOn(c)
	if err != nil {
		return err
	}
	devQuiet := dev && devQuietHours(&c, args)
	quiet, err := conversations.ParseQuietHours(c.QuietHours)
	if err != nil {
		return err
	}
	retention, err := content.ParseDuration(c.TimelineRetention)
	if err != nil {
		return fmt.Errorf("TEND_TIMELINE_RETENTION: %w", err)
	}
	pack, err := loadPack(c.ContentDir)
	if err != nil {
		return err
	}
	engine, err := conversations.NewEngine(pack)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return err
	}
	token, err := apiToken(c, os.Stderr, log)
	if err != nil {
		return err
	}
	if err := ensureKeys(&c, log); err != nil {
		return err
	}
	st, err := openStore(c)
	if err != nil {
		return err
	}
	defer st.Close()

	m := newMetrics(st)
	clock := time.Now
	disp := &channels.Dispatcher{Outbox: st, Clock: clock, Quiet: quiet, Log: log, Observe: m.sent, Limits: c.limits(),
		Senders: map[string]channels.Sender{}, RetryWindow: c.retryWindow, DeadLetter: m.deadLetter, PauseChanged: m.pausedChanged}
	runner := &runner.Runner{Store: st, Engine: engine, Clock: clock, Quiet: quiet, Log: log, Notify: disp.Kick, Observe: m.turn, TooLong: m.tooLong, Capped: m.cappedStart,
		Render: &conversations.Renderer{Pack: pack, HelpContact: c.HelpContact, Emergency: c.EmergencyNumber, Crisis: c.CrisisLine},
		Teams:  c.teams, ReopenWithin: c.reopenWithin, ConsoleURL: strings.TrimSuffix(c.PublicURL, "/") + "/console/"}
	disp.Consent = runner
	r := chi.NewRouter()
	a := &api.API{Runner: runner, Tickets: runner, Audit: runner, Outbox: runner, Jobs: runner, Patients: runner, Adherence: runner, MaxBulk: c.MaxBulk,
		Engine: engine, Token: token, Log: log, Clock: clock, MaxMedications: c.MaxMedications, MaxTimes: c.MaxTimes}
	// Home readings in (the API's readings route and /fhir/Observation):
	// served once the runner records readings.
	if rd, ok := any(runner).(api.Readings); ok {
		a.Readings = rd
		// Compile the FHIR schema now rather than on the first
		// Observation (about a second).
		go func() {
			if err := fhir.Prepare(); err != nil {
				log.Error("FHIR schema", "err", err)
			}
		}()
	}
	if err := mountChannels(c, r, a, disp, runner, st, pack, m, log); err != nil {
		return err
	}
	if dev {
		mountDevPhone(c, r, disp, runner, m, log)
	}
	if c.Store == "redis" {
		// Replicas share the outbox: claims of a replica that died expire
		// and are settled by the others. Checking often (one cheap
		// pipeline) settles them soon after their lease (2 minutes) ends,
		// not up to a minute later.
		disp.RecoverEvery = 10 * time.Second
	}
	if err := disp.Recover(context.Background()); err != nil {
		return fmt.Errorf("recovering the outbox: %w", err)
	}

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	r.Get("/readyz", readyz(st, disp))
	r.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	r.Mount("/api/v1", a.Routes())
	r.Mount("/fhir", a.FHIR())
	hub := &live.Hub{}
	con := &console.Console{Backend: runner, Clock: clock, Log: log, Secure: strings.HasPrefix(c.PublicURL, "https://"),
		Flows: slices.Sorted(maps.Keys(pack.Flows)), Live: hub, RequireTOTP: c.RequireTOTP}
	r.Handle("/console/*", con.Handler())
	r.Get("/console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})

	sv, err := listen(c.Addr, c.serving, m.reg)
	if err != nil {
		return err
	}
	srv := sv.srv
	srv.Handler = sv.guardRoutes(c.serving, r)
	srv.RegisterOnShutdown(con.Stop)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	runner.Changed = func(ticket, team string) { hub.Publish(live.Change{Ticket: ticket, Team: team}) }
	if rs, ok := unwrapStore(st).(*redisstore.Store); ok {
		// Replicas tell each other's console pages of changes.
		client, channel := rs.PubSub()
		bus := live.NewBus(client, channel, hub, log)
		runner.Changed = func(ticket, team string) { bus.Publish(live.Change{Ticket: ticket, Team: team}) }
		wg.Add(1)
		go func() { defer wg.Done(); bus.Run(work) }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); runner.RunScheduler(work, time.Second) }()
	go func() { defer wg.Done(); disp.Run(work, time.Second) }()

	if sweeper, ok := unwrapStore(st).(timelineSweeper); ok && retention > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); sweepTimelines(work, sweeper, clock, retention, log) }()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(sv.ln) }()
	log.Info("tend serving", "addr", c.Addr, "store", c.Store, "languages", pack.Languages)
	if dev {
		announceDevPhone(c, log, devQuiet)
	} else if !smsProvider(c) {
		// Messages queue and are retried for TEND_RETRY_WINDOW, then wait
		// as dead letters (tend outbox resend); nothing reaches a phone
		// and webhooks get 403 until this is fixed.
		log.Warn("Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TEND_SMS_FROM")
	}
	log.Info("channels", "enabled", a.Channels)
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight turns")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// readyz answers the load balancer: 503 while the store does not answer.
// A channel paused because the provider refused our credentials is named
// in the body but keeps the answer 200: the instance still serves the
// console and every other channel, and another instance has the same
// credentials.
func readyz(st store.Store, disp *channels.Dispatcher) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ready(ctx); err != nil {
			http.Error(w, "store not ready", http.StatusServiceUnavailable)
			return
		}
		if p := disp.Paused(); len(p) > 0 {
			fmt.Fprintf(w, "ready; paused, the provider refused our credentials: %s\n", strings.Join(p, ", "))
			return
		}
		w.Write([]byte("ready\n"))
	}
}

// metrics are the Prometheus series an on-call engineer watches.
type metrics struct {
	reg         *prometheus.Registry
	received    *prometheus.CounterVec
	sentTotal   *prometheus.CounterVec
	statuses    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	turns       *prometheus.HistogramVec
	escalations *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	tooLongs    *prometheus.CounterVec
	capped      *prometheus.CounterVec
	paused      *prometheus.GaugeVec
}

func newMetrics(st store.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_messages_in_total",
		Help: "Inbound messages by channel and outcome."}, []string{"channel", "status"})
	m.sentTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_messages_out_total",
		Help: "Outbound send outcomes by channel and status."}, []string{"channel", "status"})
	m.statuses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_message_status_total",
		Help: "Statuses providers reported after sending (delivered, read, failed, answered, no-answer...), by channel."}, []string{"channel", "status"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_provider_errors_total",
		Help: "Provider error codes on sends and status reports, by channel."}, []string{"channel", "code"})
	m.turns = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tend_turn_duration_seconds",
		Help: "Time to load, run and commit one turn.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"kind"})
	m.escalations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_escalations_total",
		Help: "Escalations opened by priority."}, []string{"priority"})
	m.deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_dead_letters_total",
		Help: "Messages given up when their retry window ended (resend or cancel them: tend outbox), by channel and reason."}, []string{"channel", "reason"})
	m.tooLongs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_messages_too_long_total",
		Help: "Messages not sent because they were over their channel's budget even without the medicine's name (timeline: cancelled, too_long), by channel."}, []string{"channel"})
	m.capped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tend_capped_starts_total",
		Help: "Conversation starts over a patient's caps, by outcome (deferred, dropped) and rule (per_day, fcc_day, fcc_week)."}, []string{"outcome", "rule"})
	for _, o := range conversations.CapOutcomes() {
		for _, r := range conversations.CapRules() {
			m.capped.WithLabelValues(o, r) // every series from the start, at 0
		}
	}
	m.paused = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tend_channel_paused",
		Help: "1 while a channel's sending is paused because the provider refused our credentials (its messages wait)."}, []string{"channel"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tend_outbox_depth",
		Help: "Messages waiting in the outbox (pending or being sent)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.OutboxDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.reg.MustRegister(m.received, m.sentTotal, m.statuses, m.errors, m.turns, m.escalations, m.deadLetters, m.tooLongs, m.capped, m.paused, depth,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) turn(kind string, took time.Duration, out *conversations.Output) {
	m.turns.WithLabelValues(kind).Observe(took.Seconds())
	for i := range out.Effects {
		if out.Effects[i].Kind == conversations.Escalate {
			m.escalations.WithLabelValues(out.Effects[i].Priority).Inc()
		}
	}
}

func (m *metrics) sent(channel, status string, code int) {
	m.sentTotal.WithLabelValues(channel, statusLabel(status)).Inc()
	if code != 0 {
		m.errors.WithLabelValues(channel, codeLabel(code)).Inc()
	}
}

// pausedChanged sets tend_channel_paused of channel.
func (m *metrics) pausedChanged(channel string, paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	m.paused.WithLabelValues(channel).Set(v)
}

// deadLetter counts a dead letter; its reason is one of a fixed set.
func (m *metrics) deadLetter(channel, reason string) {
	if !slices.Contains(channels.DeadLetterReasons, reason) {
		reason = "other"
	}
	m.deadLetters.WithLabelValues(channel, reason).Inc()
}

// tooLong counts a message the Runner did not send for its length.
func (m *metrics) tooLong(channel string) { m.tooLongs.WithLabelValues(channel).Inc() }

// cappedStart counts a start a cap refused; its labels come from fixed sets.
func (m *metrics) cappedStart(outcome, rule string) {
	if !slices.Contains(conversations.CapOutcomes(), outcome) {
		outcome = "other"
	}
	if !slices.Contains(conversations.CapRules(), rule) {
		rule = "other"
	}
	m.capped.WithLabelValues(outcome, rule).Inc()
}

// status counts what providers report after a send: delivered, read,
// failed, answered, no-answer, ...
func (m *metrics) status(channel, status string, code int) {
	m.statuses.WithLabelValues(channel, statusLabel(status)).Inc()
	if code != 0 {
		m.errors.WithLabelValues(channel, codeLabel(code)).Inc()
	}
}

// timelineSweeper is a store that drops old timeline events (both
// backends).
type timelineSweeper interface {
	SweepTimelines(ctx context.Context, before time.Time) (int, error)
}

// unwrapStore reaches the backend behind the sealing wrapper.
func unwrapStore(st store.Store) store.Store {
	if u, ok := st.(interface{ Unwrap() store.Store }); ok {
		return u.Unwrap()
	}
	return st
}

// sweepTimelines applies the timeline retention every six hours. Every
// replica may run it: a sweep that finds a timeline trimmed meanwhile
// leaves it alone.
func sweepTimelines(ctx context.Context, s timelineSweeper, now func() time.Time, retention time.Duration, log *slog.Logger) {
	tick := time.NewTicker(6 * time.Hour)
	defer tick.Stop()
	for {
		n, err := s.SweepTimelines(ctx, now().Add(-retention))
		if err != nil && ctx.Err() == nil {
			log.Error("timeline retention sweep", "err", err)
		} else if n > 0 {
			log.Info("timeline retention sweep", "dropped_events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
