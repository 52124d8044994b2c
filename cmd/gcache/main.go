// Gcache operates the caches of gcache services through their Redis: it
// lists the use cases that running instances register, with their
// defaults and overrides; changes the runtime config (ramps to 0 are the
// kill switch, and -purge drops what was cached); lists the keys of an
// entity; invalidates entities; flushes a prefix; and watches events as
// they happen.
//
// Usage:
//
//	gcache [-redis ADDR]... [-master-name NAME] [-prefix P] <command> [arguments]
//
// Commands:
//
//	config get [use_case]                    every use case, with its default and its override
//	config set <use_case> <json>             write an override ({"ttl_sec": {...}, "ramp": {...}})
//	config ramp <use_case> [local=N] [remote=N] [-purge]
//	                                         change ramps, from the override or else the default;
//	                                         0 turns a layer off at once, fleet-wide; -purge also
//	                                         drops the use case's entries from Redis and every
//	                                         instance's local tier
//	config delete <use_case>                 drop the override: back to the default
//	purge <use_case>                         drop the use case's entries everywhere
//	keys <key_type> <id>                     the keys of one entity, with their TTLs
//	invalidate [-buffer 5s] <key_type> <id>  make every tracked entry of the entity stale
//	flush -yes                               remove every entry under the prefix (never FLUSHALL)
//	watch                                    print events and config changes until interrupted
//
// Redis is -redis, repeated or comma-separated, else $GCACHE_REDIS_URL
// (comma-separated), else redis://127.0.0.1:6379. Each address is
// host:port or a URL, redis://[user:password@]host:port[/db], or rediss://
// for TLS; credentials, database and TLS come from the URLs and must
// agree. One address is a server; several are the nodes of a cluster; with
// -master-name (or $GCACHE_REDIS_MASTER_NAME) they are the sentinels of a
// failover group. Passwords are never printed.
//
// Exit status: 0 on success, 1 when the command failed, 2 on usage errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/internal/events"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: gcache [-redis ADDR]... [-master-name NAME] [-prefix P] <command> [arguments]

commands:
  config get [use_case]                    every use case, with its default and its override
  config set <use_case> <json>             write an override
  config ramp <use_case> [local=N] [remote=N] [-purge]
                                           change ramps; 0 turns a layer off, fleet-wide;
                                           -purge also drops the use case's entries
  config delete <use_case>                 drop the override: back to the default
  purge <use_case>                         drop the use case's entries, in Redis and every local tier
  keys <key_type> <id>                     the keys of one entity, with their TTLs
  invalidate [-buffer 5s] <key_type> <id>  make every tracked entry of the entity stale
  flush -yes                               remove every entry under the prefix
  watch                                    print events and config changes

Redis is -redis (repeated or comma-separated: host:port or redis:// URLs;
several are a cluster, or with -master-name the sentinels), else
$GCACHE_REDIS_URL, else redis://127.0.0.1:6379.
`

// errUsage is a usage mistake: exit status 2.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usageError(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

// run runs one command and returns its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gcache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var addrs []string
	fs.Func("redis", "Redis address or URL; repeat it, or separate with commas, for a cluster or sentinels", func(v string) error {
		addrs = append(addrs, splitList(v)...)
		return nil
	})
	masterName := fs.String("master-name", "", "the master name the sentinels watch")
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
	if len(addrs) == 0 {
		addrs = splitList(getenv("GCACHE_REDIS_URL"))
	}
	if len(addrs) == 0 {
		addrs = []string{"redis://127.0.0.1:6379"}
	}
	if *masterName == "" {
		*masterName = getenv("GCACHE_REDIS_MASTER_NAME")
	}
	t := &tool{prefix: *prefix, out: stdout}
	opts, err := redisOptions(addrs, *masterName)
	if err == nil {
		t.client = redis.NewUniversalClient(opts)
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
	client redis.UniversalClient
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
	case "purge":
		return t.purgeCommand(ctx, args)
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
	var mu sync.Mutex
	var keys []string
	err := eachMaster(ctx, t.client, func(ctx context.Context, c redis.UniversalClient) error {
		for _, pattern := range []string{globEscape(entity) + "[?#]*", "{" + globEscape(entity) + "}*"} {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				// Entries, leases and watermarks hold a raw '#'; the
				// other keys under a prefix (config, registry) do not.
				if strings.Contains(iter.Val(), "#") {
					mu.Lock()
					keys = append(keys, iter.Val())
					mu.Unlock()
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
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

func (t *tool) watch(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError("watch takes no arguments")
	}
	ps := t.client.Subscribe(ctx, events.Channel(t.prefix), config.HashKey(t.prefix))
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
	e, err := events.Parse(msg.Payload)
	if err != nil {
		return stamp + " " + msg.Payload
	}
	switch e.Kind {
	case events.Invalidate:
		var lines []string
		for _, inv := range e.Invalidations {
			wm := time.Unix(0, inv.Watermark)
			line := fmt.Sprintf("%s invalidate %s %s (stale before %s", stamp, e.KeyType, inv.ID, wm.UTC().Format("15:04:05.000"))
			if d := wm.Sub(at); d > time.Millisecond {
				line += fmt.Sprintf(", %v ahead", d.Round(time.Millisecond))
			}
			lines = append(lines, line+")")
		}
		return strings.Join(lines, "\n")
	case events.Delete:
		return stamp + " delete " + e.Key
	case events.Flush:
		return stamp + " flush " + prefix
	case events.Purge:
		return stamp + " purge " + e.UseCase
	}
	return stamp + " " + msg.Payload
}
