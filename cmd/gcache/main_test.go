package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// gcacheCmd runs the command against srv and returns its status and
// output.
func gcacheCmd(t *testing.T, srv *redistest.Server, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// Without a server of the test's own, a port nothing listens on: never
	// the machine's Redis.
	env := func(k string) string {
		if k == "GCACHE_REDIS_URL" {
			return "redis://127.0.0.1:1"
		}
		return ""
	}
	if srv != nil {
		env = func(k string) string {
			if k == "GCACHE_REDIS_URL" {
				return "redis://" + srv.Addr()
			}
			return ""
		}
	}
	status := run(context.Background(), args, env, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		out    string
	}{
		{[]string{"-h"}, 0, "usage: gcache"},
		{nil, 2, "usage: gcache"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"keys", "user_id"}, 2, "keys takes <key_type> <id>"},
		{[]string{"flush"}, 2, "confirm with: flush -yes"},
		{[]string{"config", "ramp", "X", "disk=1"}, 2, "config ramp"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-redis", "nohost", "keys", "a", "b"}, 2, `invalid Redis address "nohost"`},
		{[]string{"-redis", "redis://a:1/1,redis://b:1/2", "keys", "a", "b"}, 2, "disagree"},
		{[]string{"-redis", "a:1,b:1", "-redis", "redis://c:1/3", "keys", "a", "b"}, 2, "a cluster has no database 3"},
		{[]string{"config", "ramp", "X", "-purge"}, 2, "config ramp takes"},
		{[]string{"purge"}, 2, "purge takes <use_case>"},
	} {
		status, stdout, stderr := gcacheCmd(t, nil, tc.args...)
		if status != tc.status || !strings.Contains(stdout+stderr, tc.out) {
			t.Errorf("gcache %v = %d\n%s%s\nwant %d and %q", tc.args, status, stdout, stderr, tc.status, tc.out)
		}
	}
}

func TestPasswordsAreNeverPrinted(t *testing.T) {
	for _, u := range []string{
		"redis://app:s3cret-pw@127.0.0.1:notaport",
		"rediss2://app:s3cret-pw@127.0.0.1:6379",
		"redis://app:s3cret-pw@127.0.0.1:1/0", // nothing listens there
	} {
		status, stdout, stderr := gcacheCmd(t, nil, "-redis", u, "invalidate", "user_id", "1")
		if status == 0 {
			t.Errorf("%s: succeeded", u)
		}
		if strings.Contains(stdout+stderr, "s3cret-pw") {
			t.Errorf("%s: the password is printed:\n%s%s", u, stdout, stderr)
		}
	}
}

// populate caches two entities, tracked and not, through a Cache on srv.
func populate(t *testing.T, srv *redistest.Server) {
	t.Helper()
	c, err := gcache.New(gcache.Config{
		Redis:      &gcache.RedisConfig{Addrs: []string{srv.Addr()}},
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	remote := gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}
	tracked, _ := gcache.NewUseCase[string](c, gcache.UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: remote})
	plain, _ := gcache.NewUseCase[string](c, gcache.UseCaseSpec{Name: "Search", KeyType: "user_id", Default: remote})
	ctx := gcache.Enable(context.Background())
	fn := func(context.Context) (string, error) { return "v", nil }
	for _, id := range []string{"123", "1234"} {
		b := gcache.AppendString(nil, id)
		tracked.Get(ctx, tracked.Key(b, len(b)), fn)
		plain.Get(ctx, plain.Key(append(b, "?page=2"...), len(b)), fn)
	}
}

func TestKeysInvalidateFlush(t *testing.T) {
	srv := redistest.Start(t)
	populate(t, srv)
	srv.Client().Set(context.Background(), "foreign", "x", 0)

	status, stdout, stderr := gcacheCmd(t, srv, "keys", "user_id", "123")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if status != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "urn:user_id:123?page=2#Search\tttl=") ||
		!strings.HasPrefix(lines[1], "{urn:user_id:123}#GetUser\tttl=1h0m0s") {
		t.Errorf("keys = %d\n%s%s", status, stdout, stderr)
	}

	before := time.Now()
	status, stdout, _ = gcacheCmd(t, srv, "invalidate", "-buffer", "5s", "user_id", "123")
	if status != 0 || stdout != "invalidated user_id 123\n" {
		t.Errorf("invalidate = %d %q", status, stdout)
	}
	ms, err := srv.Client().Get(context.Background(), "{urn:user_id:123}#watermark").Int64()
	if err != nil || time.UnixMilli(ms).Before(before.Add(4*time.Second)) {
		t.Errorf("watermark = %d (%v), want 5s ahead", ms, err)
	}
	if _, stdout, _ := gcacheCmd(t, srv, "keys", "user_id", "123"); !strings.Contains(stdout, "{urn:user_id:123}#watermark") {
		t.Errorf("keys after invalidate:\n%s", stdout)
	}

	status, stdout, _ = gcacheCmd(t, srv, "flush", "-yes")
	if status != 0 || stdout != "flushed urn\n" {
		t.Errorf("flush = %d %q", status, stdout)
	}
	if _, stdout, _ := gcacheCmd(t, srv, "keys", "user_id", "1234"); !strings.Contains(stdout, "no keys for user_id 1234") {
		t.Errorf("keys after flush:\n%s", stdout)
	}
	if srv.Client().Exists(context.Background(), "foreign").Val() != 1 {
		t.Error("flush removed a key of no gcache prefix")
	}

	srv.Kill()
	if status, _, stderr := gcacheCmd(t, srv, "invalidate", "user_id", "1"); status != 1 || !strings.Contains(stderr, "gcache: ") {
		t.Errorf("invalidate with Redis down = %d %q", status, stderr)
	}
}

func TestConfigCommands(t *testing.T) {
	srv := redistest.Start(t)
	if status, stdout, _ := gcacheCmd(t, srv, "config", "get"); status != 0 || !strings.HasPrefix(stdout, "no use cases") {
		t.Errorf("config get = %d %q", status, stdout)
	}
	status, stdout, stderr := gcacheCmd(t, srv, "config", "set", "GetUser", `{"ttl_sec": {"local": 60, "remote": 300}, "ramp": {"local": 100, "remote": 100}}`)
	want := "GetUser\t{\"ttl_sec\":{\"local\":60,\"remote\":300},\"ramp\":{\"local\":100,\"remote\":100}}\n"
	if status != 0 || stdout != want {
		t.Errorf("config set = %d %q %q", status, stdout, stderr)
	}
	status, stdout, _ = gcacheCmd(t, srv, "config", "ramp", "GetUser", "local=0", "remote=0")
	if status != 0 || !strings.Contains(stdout, `"ramp":{"local":0,"remote":0}`) {
		t.Errorf("config ramp = %d %q", status, stdout)
	}
	if raw := srv.Client().HGet(context.Background(), "urn:gcache:config", "GetUser").Val(); !strings.Contains(raw, `"ramp":{"local":0,"remote":0}`) {
		t.Errorf("the hash holds %s", raw)
	}
	if status, stdout, _ := gcacheCmd(t, srv, "config", "get", "GetUser"); status != 0 || !regexp.MustCompile(`\nGetUser +- +- +- +\{"ttl_sec":\{"local":60,"remote":300\},"ramp":\{"local":0,"remote":0\}\}\n$`).MatchString(stdout) {
		t.Errorf("config get GetUser = %d %q", status, stdout)
	}
	if status, _, stderr := gcacheCmd(t, srv, "config", "ramp", "Unknown", "local=0"); status != 1 || !strings.Contains(stderr, "no config for Unknown") {
		t.Errorf("ramp of an unknown use case = %d %q", status, stderr)
	}
	if status, _, _ := gcacheCmd(t, srv, "config", "set", "X", `{"ramp": {"local": 500}}`); status != 2 {
		t.Errorf("config set of a bad config = %d, want 2", status)
	}
	if status, stdout, _ := gcacheCmd(t, srv, "config", "delete", "GetUser"); status != 0 || !strings.Contains(stdout, "deleted") {
		t.Errorf("config delete = %d %q", status, stdout)
	}
	if status, _, _ := gcacheCmd(t, srv, "config", "get", "GetUser"); status != 1 {
		t.Errorf("config get of a deleted config = %d, want 1", status)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatch(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	env := func(k string) string {
		if k == "GCACHE_REDIS_URL" {
			return "redis://" + srv.Addr()
		}
		return ""
	}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"watch"}, env, &out, io.Discard) }()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("watch never printed %q:\n%s", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("watching urn")
	gcacheCmd(t, srv, "invalidate", "user_id", "a:b")
	waitFor("invalidate user_id a%3Ab (stale before ")
	gcacheCmd(t, srv, "invalidate", "-buffer", "30s", "user_id", "7")
	waitFor("invalidate user_id 7 (stale before ")
	if !strings.Contains(out.String(), "s ahead)") {
		t.Errorf("a future buffer is not shown:\n%s", out.String())
	}
	gcacheCmd(t, srv, "config", "set", "GetUser", `{"ttl_sec": {"local": 1}, "ramp": {"local": 100}}`)
	waitFor("config of GetUser changed")
	gcacheCmd(t, srv, "flush", "-yes")
	waitFor("flush urn")
	cancel()
	if status := <-done; status != 0 {
		t.Errorf("watch ended with %d", status)
	}
}
