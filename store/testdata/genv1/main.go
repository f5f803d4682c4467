// Command genv1 writes the fixtures of the address migration: stores as
// the release before generic addresses (commit 603a9a0) wrote them, with
// a patient linked to a Telegram chat, one without a chat and one
// unenrolled, in the clear and sealed. It must run in a checkout of that
// release, where store.Patient still has Telegram:
//
//	git worktree add /tmp/wt-old 603a9a0
//	mkdir -p /tmp/wt-old/store/testdata/genv1
//	cp store/testdata/genv1/main.go /tmp/wt-old/store/testdata/genv1/
//	redis-server --port 6390 --save '' --appendonly no &
//	(cd /tmp/wt-old && go run ./store/testdata/genv1 \
//	    -keys $PWD/store/testdata/keys.txt -embedded $PWD/store/embedded/testdata \
//	    -redis 127.0.0.1:6390 -redis-out $PWD/store/redis/testdata/v1.json)
//
// It writes v1-clear.db and v1-sealed.db to -embedded, and the keys of the
// prefixes v1clear and v1sealed of the Redis at -redis, as JSON, to
// -redis-out.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tendcare/tend/store"
	"github.com/tendcare/tend/store/embedded"
	"github.com/tendcare/tend/store/redis"
	"github.com/tendcare/tend/store/seal"
)

var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func main() {
	keysPath := flag.String("keys", "", "key file of the sealed fixtures")
	embDir := flag.String("embedded", "", "directory for the embedded fixtures")
	addr := flag.String("redis", "", "address of an empty Redis")
	redisOut := flag.String("redis-out", "", "file for the Redis fixture")
	flag.Parse()
	ctx := context.Background()
	f, err := os.Open(*keysPath)
	must(err)
	keys, err := seal.ParseKeyring(*keysPath, f)
	must(err)
	f.Close()

	for _, sealed := range []bool{false, true} {
		name := "v1-clear.db"
		if sealed {
			name = "v1-sealed.db"
		}
		path := filepath.Join(*embDir, name)
		os.Remove(path)
		e, err := embedded.Open(path, embedded.Options{Now: func() time.Time { return t0 }})
		must(err)
		var s store.Store = e
		if sealed {
			s = seal.Wrap(e, keys)
		}
		fill(ctx, s)
		must(s.Close())
	}

	for _, prefix := range []string{"v1clear", "v1sealed"} {
		r, err := redis.Open(ctx, redis.Options{Addrs: []string{*addr}, KeyPrefix: prefix})
		must(err)
		var s store.Store = r
		if prefix == "v1sealed" {
			s = seal.Wrap(r, keys)
		}
		fill(ctx, s)
		must(s.Close())
	}
	must(dump(ctx, *addr, *redisOut))
}

// fill enrolls p1 (linked to chat 1001, with a session, an event, a timer
// and a pending message), p2 (no chat) and p3 (chat 1003, then
// unenrolled).
func fill(ctx context.Context, s store.Store) {
	p1 := store.Patient{ID: "p1", Phone: "+15551230001", Language: "en", Timezone: "America/Chicago",
		Channel: "telegram", Channels: []string{"telegram", "sms"}, Telegram: "1001",
		Programs: []string{"hypertension"}, PHIOK: true,
		Medications: []store.Medication{{ID: "lisinopril", Display: "Lisinopril 10 mg", Times: []string{"08:00"}}},
		EnrolledAt:  t0}
	must(s.Commit(ctx, store.Commit{PatientID: "p1", Patient: &p1, Session: []byte("session-1"), DedupeKey: "v1:p1",
		Events:    []store.Event{{ID: "e1", Type: "channel", At: t0, Channel: "telegram", Status: "linked"}},
		SetTimers: []store.Timer{{PatientID: "p1", Name: "med|lisinopril|08:00", Due: t0.Add(23 * time.Hour)}},
		Outbox:    []store.OutboxEntry{{ID: "o1", Channel: "telegram", To: "1001", Text: "Welcome", NotBefore: t0, CreatedAt: t0}},
	}))
	p2 := store.Patient{ID: "p2", Phone: "+15551230002", Language: "es", Timezone: "America/Chicago",
		Channel: "sms", Programs: []string{"hypertension"}, EnrolledAt: t0}
	must(s.Commit(ctx, store.Commit{PatientID: "p2", Patient: &p2, Session: []byte("session-2")}))
	p3 := store.Patient{ID: "p3", Phone: "+15551230003", Language: "en", Timezone: "America/Chicago",
		Channel: "telegram", Telegram: "1003", Programs: []string{"hypertension"}, EnrolledAt: t0}
	must(s.Commit(ctx, store.Commit{PatientID: "p3", Patient: &p3, Session: []byte("session-3")}))
	must(s.DeletePatient(ctx, "p3"))
}

// key is one Redis key as the fixture keeps it. Value is a string, a list
// (list), field → value (hash), members (set) or member → score (zset); a
// string that is not UTF-8 (a sealed session) is in Base64 instead.
type key struct {
	Key    string `json:"key"`
	Type   string `json:"type"`
	Value  any    `json:"value,omitempty"`
	Base64 string `json:"base64,omitempty"`
	PTTL   int64  `json:"pttl_ms,omitempty"`
}

func dump(ctx context.Context, addr, out string) error {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	var names []string
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	slices.Sort(names)
	var keys []key
	for _, n := range names {
		typ, err := rdb.Type(ctx, n).Result()
		if err != nil {
			return err
		}
		k := key{Key: n, Type: typ}
		switch typ {
		case "string":
			var v string
			v, err = rdb.Get(ctx, n).Result()
			if utf8.ValidString(v) {
				k.Value = v
			} else {
				k.Base64 = base64.StdEncoding.EncodeToString([]byte(v))
			}
		case "list":
			k.Value, err = rdb.LRange(ctx, n, 0, -1).Result()
		case "hash":
			k.Value, err = rdb.HGetAll(ctx, n).Result()
		case "set":
			var m []string
			m, err = rdb.SMembers(ctx, n).Result()
			slices.Sort(m)
			k.Value = m
		case "zset":
			var zs []goredis.Z
			zs, err = rdb.ZRangeWithScores(ctx, n, 0, -1).Result()
			m := map[string]float64{}
			for _, z := range zs {
				m[z.Member.(string)] = z.Score
			}
			k.Value = m
		}
		if err != nil {
			return err
		}
		if b, _ := json.Marshal(k.Value); !utf8.Valid(b) || strings.Contains(string(b), `\ufffd`) {
			return fmt.Errorf("%s: not UTF-8", n)
		}
		if ttl, err := rdb.PTTL(ctx, n).Result(); err == nil && ttl > 0 {
			k.PTTL = ttl.Milliseconds()
		}
		keys = append(keys, k)
	}
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
