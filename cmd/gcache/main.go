// Gcache operates the caches of gcache services through their Redis: it
// lists the keys of an entity, invalidates entities, flushes a prefix,
// reads and changes the runtime config (ramps to 0 are the kill switch),
// and watches invalidations as they happen.
//
// Usage:
//
//	gcache [-redis URL] [-prefix P] <command> [arguments]
//
// Commands:
//
//	keys <key_type> <id>                     the keys of one entity, with their TTLs
//	invalidate [-buffer 5s] <key_type> <id>  make every tracked entry of the entity stale
//	flush -yes                               remove every entry under the prefix (never FLUSHALL)
//	config get [use_case]                    one use case's config, or all of them
//	config set <use_case> <json>             write a config ({"ttl_sec": {...}, "ramp": {...}})
//	config ramp <use_case> [local=N] [remote=N]
//	                                         change ramps; 0 turns a layer off at once, fleet-wide
//	config delete <use_case>                 back to the use case's default
//	watch                                    print invalidations and config changes until interrupted
//
// The Redis URL is -redis, else $GCACHE_REDIS_URL, else
// redis://127.0.0.1:6379: redis://[user:password@]host:port[/db], or
// rediss:// for TLS. Passwords are never printed.
//
// Exit status: 0 on success, 1 when the command failed, 2 on usage errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcache-go/gcache/config"
	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: gcache [-redis URL] [-prefix P] <command> [arguments]

commands:
  keys <key_type> <id>                     the keys of one entity, with their TTLs
  invalidate [-buffer 5s] <key_type> <id>  make every tracked entry of the entity stale
  flush -yes                               remove every entry under the prefix
  config get [use_case]                    one use case's config, or all of them
  config set <use_case> <json>             write a config
  config ramp <use_case> [local=N] [remote=N]
                                           change ramps; 0 turns a layer off, fleet-wide
  config delete <use_case>                 back to the use case's default
  watch                                    print invalidations and config changes

The Redis URL is -redis, else $GCACHE_REDIS_URL, else redis://127.0.0.1:6379.
`

// errUsage is a usage mistake: exit status 2.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usageError(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

// run runs one command and returns its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gcache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	redisURL := fs.String("redis", "", "Redis URL")
	prefix := fs.String("prefix", gcache.DefaultKeyPrefix, "key prefix of the caches")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "gcache: %v\n%s", err, usage)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *redisURL == "" {
		*redisURL = getenv("GCACHE_REDIS_URL")
	}
	if *redisURL == "" {
		*redisURL = "redis://127.0.0.1:6379"
	}
	t := &tool{prefix: *prefix, out: stdout}
	err := t.connect(*redisURL)
	if err == nil {
		defer t.client.Close()
		err = t.command(ctx, fs.Arg(0), fs.Args()[1:])
	}
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "gcache: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "gcache: %v\n", err)
		return 1
	}
}

type tool struct {
	prefix string
	out    io.Writer
	client *redis.Client
}

// connect makes the Redis client of rawURL. Its errors never show the
// URL, which may hold a password.
func (t *tool) connect(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return usageError("invalid Redis URL: %v", err)
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		msg := err.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return usageError("invalid Redis URL %s: %s", u.Redacted(), msg)
	}
	opts.DialTimeout = 2 * time.Second
	t.client = redis.NewClient(opts)
	return nil
}

func (t *tool) command(ctx context.Context, name string, args []string) error {
	switch name {
	case "keys":
		return t.keys(ctx, args)
	case "invalidate":
		return t.invalidate(ctx, args)
	case "flush":
		return t.flush(ctx, args)
	case "config":
		return t.config(ctx, args)
	case "watch":
		return t.watch(ctx, args)
	case "help":
		fmt.Fprint(t.out, usage)
		return nil
	}
	return usageError("unknown command %q", name)
}

// cache returns a Cache on the tool's Redis, for the operations the
// runtime owns.
func (t *tool) cache() (*gcache.Cache, error) {
	return gcache.New(gcache.Config{
		KeyPrefix:   t.prefix,
		RedisClient: t.client,
		Registerer:  prometheus.NewRegistry(),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func (t *tool) keys(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return usageError("keys takes <key_type> <id>")
	}
	entity := t.prefix + ":" + args[0] + ":" + gcache.EscapeID(args[1])
	var keys []string
	for _, pattern := range []string{globEscape(entity) + "[?#]*", "{" + globEscape(entity) + "}*"} {
		iter := t.client.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ttl, err := t.client.PTTL(ctx, k).Result()
		if err != nil {
			return err
		}
		fmt.Fprintf(t.out, "%s\tttl=%s\n", k, ttl.Round(time.Second))
	}
	if len(keys) == 0 {
		fmt.Fprintf(t.out, "no keys for %s %s\n", args[0], args[1])
	}
	return nil
}

// globEscape escapes the characters SCAN MATCH reads as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (t *tool) invalidate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invalidate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	buffer := fs.Duration("buffer", 0, "set the watermark this far ahead")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		return usageError("invalidate takes [-buffer 5s] <key_type> <id>")
	}
	c, err := t.cache()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Invalidate(ctx, fs.Arg(0), fs.Arg(1), gcache.WithFutureBuffer(*buffer)); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "invalidated %s %s\n", fs.Arg(0), fs.Arg(1))
	return nil
}

func (t *tool) flush(ctx context.Context, args []string) error {
	if len(args) != 1 || args[0] != "-yes" {
		return usageError("flush removes every entry under %q; confirm with: flush -yes", t.prefix)
	}
	c, err := t.cache()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "flushed %s\n", t.prefix)
	return nil
}

func (t *tool) config(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("config takes get, set, ramp or delete")
	}
	h := config.Hash{Client: t.client, Prefix: t.prefix}
	switch sub, args := args[0], args[1:]; sub {
	case "get":
		if len(args) > 1 {
			return usageError("config get takes [use_case]")
		}
		all, err := h.All(ctx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(all))
		for name := range all {
			if len(args) == 0 || name == args[0] {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			if len(args) == 1 {
				return fmt.Errorf("no config for %s; it runs on its default", args[0])
			}
			fmt.Fprintln(t.out, "no configs")
			return nil
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(t.out, "%s\t%s\n", name, all[name])
		}
		return nil
	case "set":
		if len(args) != 2 {
			return usageError(`config set takes <use_case> '{"ttl_sec": {...}, "ramp": {...}}'`)
		}
		var cfg gcache.KeyConfig
		if err := json.Unmarshal([]byte(args[1]), &cfg); err != nil {
			return usageError("config set %s: %v", args[0], err)
		}
		return t.write(ctx, h, args[0], cfg)
	case "ramp":
		if len(args) < 2 {
			return usageError("config ramp takes <use_case> [local=N] [remote=N]")
		}
		ramps := map[string]int{}
		for _, a := range args[1:] {
			layer, value, _ := strings.Cut(a, "=")
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 100 || (layer != "local" && layer != "remote") {
				return usageError("ramp %q: want local=N or remote=N, N from 0 to 100", a)
			}
			ramps[layer] = n
		}
		cfg, ok, err := h.Get(ctx, args[0])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no config for %s to ramp; write one with config set", args[0])
		}
		if n, ok := ramps["local"]; ok {
			cfg.Local.Ramp = n
		}
		if n, ok := ramps["remote"]; ok {
			cfg.Remote.Ramp = n
		}
		return t.write(ctx, h, args[0], cfg)
	case "delete":
		if len(args) != 1 {
			return usageError("config delete takes <use_case>")
		}
		if err := h.Delete(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "deleted the config of %s; it runs on its default\n", args[0])
		return nil
	}
	return usageError("config takes get, set, ramp or delete, not %q", args[0])
}

func (t *tool) write(ctx context.Context, h config.Hash, useCase string, cfg gcache.KeyConfig) error {
	if err := h.Set(ctx, useCase, cfg); err != nil {
		return err
	}
	data, _ := json.Marshal(cfg)
	fmt.Fprintf(t.out, "%s\t%s\n", useCase, data)
	return nil
}

func (t *tool) watch(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError("watch takes no arguments")
	}
	ps := t.client.Subscribe(ctx, t.prefix+":gcache:events", config.HashKey(t.prefix))
	defer ps.Close()
	// A read in progress does not watch the context: closing unblocks it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if _, err := ps.Receive(ctx); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "watching %s (interrupt to stop)\n", t.prefix)
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintln(t.out, describe(msg, t.prefix, time.Now()))
	}
}

// describe renders an event for people.
func describe(msg *redis.Message, prefix string, at time.Time) string {
	stamp := at.UTC().Format("15:04:05.000")
	if msg.Channel == config.HashKey(prefix) {
		return fmt.Sprintf("%s config of %s changed", stamp, msg.Payload)
	}
	f := strings.Split(msg.Payload, " ")
	switch {
	case len(f) == 4 && f[0] == "invalidate":
		line := fmt.Sprintf("%s invalidate %s %s", stamp, f[1], f[2])
		if ns, err := strconv.ParseInt(f[3], 10, 64); err == nil {
			wm := time.Unix(0, ns)
			line += " (stale before " + wm.UTC().Format("15:04:05.000")
			if d := wm.Sub(at); d > time.Millisecond {
				line += fmt.Sprintf(", %v ahead", d.Round(time.Millisecond))
			}
			line += ")"
		}
		return line
	case len(f) == 2 && f[0] == "delete":
		return stamp + " delete " + f[1]
	case len(f) == 1 && f[0] == "flush":
		return stamp + " flush " + prefix
	}
	return stamp + " " + msg.Payload
}
