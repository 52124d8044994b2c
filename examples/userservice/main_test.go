package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/config"
	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
)

// startRedis starts a private redis-server on a free loopback port for
// the test.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not on PATH; install it (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postgresURL returns a URL to a schema of its own on the PostgreSQL of
// USERSERVICE_POSTGRES_URL (default: this machine's), dropped when the
// test ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("USERSERVICE_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("userservice_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it, set USERSERVICE_POSTGRES_URL, or run go test -short for SQLite only)", base, err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// instance is the service listening on a free port.
type instance struct {
	t   *testing.T
	url string
}

func start(t *testing.T, s settings) *instance {
	t.Helper()
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := newService(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return &instance{t: t, url: "http://" + l.Addr().String()}
}

func (in *instance) do(method, path, body string) (int, string) {
	in.t.Helper()
	req, _ := http.NewRequest(method, in.url+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// queries reads the database query count from /metrics.
func (in *instance) queries() int {
	in.t.Helper()
	_, body := in.do("GET", "/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "userservice_db_queries_total "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	in.t.Fatalf("no query count in /metrics:\n%s", body)
	return 0
}

// name GETs a user and returns its name, and how many queries it took.
func (in *instance) name(id string) (string, int) {
	in.t.Helper()
	before := in.queries()
	status, body := in.do("GET", "/users/"+id, "")
	if status != http.StatusOK {
		in.t.Fatalf("GET /users/%s = %d %s", id, status, body)
	}
	var u User
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		in.t.Fatal(err)
	}
	return u.Name, in.queries() - before
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServiceOnSQLite(t *testing.T) {
	testService(t, settings{SQLitePath: filepath.Join(t.TempDir(), "users.db")})
}

func TestServiceOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: SQLite only")
	}
	testService(t, settings{DatabaseURL: postgresURL(t)})
}

// testService drives two instances of the service on one database and
// one Redis: reads hit, writes invalidate on both, and a ramp to 0 through
// the Redis config sends every read to the database until it is back.
func testService(t *testing.T, s settings) {
	redisAddr := startRedis(t)
	s.RedisURL = "redis://" + redisAddr
	a, b := start(t, s), start(t, s)

	if status, body := a.do("PUT", "/users/7", `{"name": "Ada", "email": "ada@example.com"}`); status != http.StatusOK {
		t.Fatalf("PUT = %d %s", status, body)
	}
	if status, _ := a.do("GET", "/users/404", ""); status != http.StatusNotFound {
		t.Errorf("GET of a missing user = %d", status)
	}
	if name, q := a.name("7"); name != "Ada" || q != 1 {
		t.Errorf("first read = %q in %d queries, want Ada in 1", name, q)
	}
	if name, q := a.name("7"); name != "Ada" || q != 0 {
		t.Errorf("second read = %q in %d queries, want a hit", name, q)
	}
	if name, q := b.name("7"); name != "Ada" || q != 0 {
		t.Errorf("the other instance read %q in %d queries, want a hit from Redis", name, q)
	}
	b.name("7") // now in B's local tier too

	// A write on A invalidates the user on both instances.
	a.do("PUT", "/users/7", `{"name": "Ada Lovelace", "email": "ada@example.com"}`)
	if name, q := a.name("7"); name != "Ada Lovelace" || q != 1 {
		t.Errorf("after the write A read %q in %d queries, want the new name from the database", name, q)
	}
	eventually(t, "B sees the write", func() bool { name, _ := b.name("7"); return name == "Ada Lovelace" })
	if _, q := a.name("7"); q != 0 {
		t.Errorf("after the refill: %d queries, want a hit", q)
	}

	// Posts are cached per page, and adding one invalidates them.
	a.do("POST", "/users/7/posts", `{"title": "Notes on the Analytical Engine"}`)
	before := a.queries()
	a.do("GET", "/users/7/posts?page=1", "")
	_, body := a.do("GET", "/users/7/posts?page=1", "")
	if q := a.queries() - before; q != 1 || !strings.Contains(body, "Analytical Engine") {
		t.Errorf("two reads of the posts took %d queries: %s", q, body)
	}

	// Ramp GetUser to 0 through the Redis config, as
	// gcache config ramp GetUser local=0 remote=0 does.
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	h := config.Hash{Client: client, Prefix: gcache.DefaultKeyPrefix}
	on := gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: 10 * time.Minute, Ramp: 100}}
	off := on
	off.Local.Ramp, off.Remote.Ramp = 0, 0
	if err := h.Set(context.Background(), "GetUser", off); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*instance{a, b} {
		eventually(t, "the ramp to 0 takes effect", func() bool { _, q := in.name("7"); return q == 1 })
		for range 3 {
			if _, q := in.name("7"); q != 1 {
				t.Errorf("with GetUser ramped to 0 a read took %d queries, want 1", q)
			}
		}
	}
	if err := h.Set(context.Background(), "GetUser", on); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*instance{a, b} {
		eventually(t, "the ramp back to 100 takes effect", func() bool { _, q := in.name("7"); return q == 0 })
	}
}
