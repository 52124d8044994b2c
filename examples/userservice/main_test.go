package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
	"github.com/gcache-go/gcache/internal/pgtest"
	"github.com/gcache-go/gcache/runtime"
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

// postgresBase is the PostgreSQL the tests use: USERSERVICE_POSTGRES_URL,
// or else a private server that TestMain starts ("" under -short).
var postgresBase string

func TestMain(m *testing.M) {
	flag.Parse()
	postgresBase = os.Getenv("USERSERVICE_POSTGRES_URL")
	if postgresBase != "" || testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.Main(m, &postgresBase))
}

// postgresURL returns a URL to a schema of its own on the PostgreSQL the
// tests use, dropped when the test ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", postgresBase)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var version string
	var port sql.NullInt64 // NULL over a Unix socket
	if err := admin.QueryRow("SELECT version(), inet_server_port()").Scan(&version, &port); err != nil {
		t.Fatalf("PostgreSQL at %s: %v", postgresBase, err)
	}
	if !strings.HasPrefix(version, "PostgreSQL ") {
		t.Fatalf("the server at %s is %q, not PostgreSQL", postgresBase, version)
	}
	t.Logf("on %s, port %d", version, port.Int64)
	schema := fmt.Sprintf("userservice_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at %s: %v", postgresBase, err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", postgresBase)
		if err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	sep := "?"
	if strings.Contains(postgresBase, "?") {
		sep = "&"
	}
	return postgresBase + sep + "search_path=" + schema
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
	// A config replaces the annotations' default as a whole, so "on"
	// spells out GetUser's refresh, negative TTL and lease too.
	on := gcache.KeyConfig{
		Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: 10 * time.Minute, Ramp: 100},
		RefreshAt: 0.8, NegativeTTL: 30 * time.Second, Lease: 2 * time.Second,
	}
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

func TestNotFoundOnSQLite(t *testing.T) {
	testNotFound(t, settings{SQLitePath: filepath.Join(t.TempDir(), "users.db")})
}

func TestNotFoundOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: SQLite only")
	}
	testNotFound(t, settings{DatabaseURL: postgresURL(t)})
}

// testNotFound shows GetUser's negative caching: a missing user is a 404
// from one query, on both instances, until a PUT of it invalidates the
// cached "not found".
func testNotFound(t *testing.T, s settings) {
	s.RedisURL = "redis://" + startRedis(t)
	a, b := start(t, s), start(t, s)

	before := a.queries()
	for i := range 2 {
		if status, body := a.do("GET", "/users/ghost", ""); status != http.StatusNotFound {
			t.Fatalf("GET %d of a missing user = %d %s, want 404", i+1, status, body)
		}
	}
	if q := a.queries() - before; q != 1 {
		t.Errorf("two GETs of a missing user took %d queries, want 1: the 404 is cached", q)
	}
	before = b.queries()
	if status, _ := b.do("GET", "/users/ghost", ""); status != http.StatusNotFound {
		t.Errorf("the other instance's GET of a missing user = %d, want 404", status)
	}
	if q := b.queries() - before; q != 0 {
		t.Errorf("the other instance took %d queries, want the 404 from Redis", q)
	}

	// The PUT invalidates user ghost, and with it the cached 404.
	if status, body := a.do("PUT", "/users/ghost", `{"name": "Casper", "email": "casper@example.com"}`); status != http.StatusOK {
		t.Fatalf("PUT = %d %s", status, body)
	}
	if name, q := a.name("ghost"); name != "Casper" || q != 1 {
		t.Errorf("after the PUT A read %q in %d queries, want Casper from the database", name, q)
	}
	eventually(t, "B sees the new user", func() bool {
		status, _ := b.do("GET", "/users/ghost", "")
		return status == http.StatusOK
	})
	if name, q := a.name("ghost"); name != "Casper" || q != 0 {
		t.Errorf("then A read %q in %d queries, want a hit", name, q)
	}
}

func TestBatchOnSQLite(t *testing.T) {
	testBatch(t, settings{SQLitePath: filepath.Join(t.TempDir(), "users.db")})
}

func TestBatchOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: SQLite only")
	}
	testBatch(t, settings{DatabaseURL: postgresURL(t)})
}

// openDB opens the service's database, for a test to write behind the
// cache's back.
func openDB(t *testing.T, s settings) *sql.DB {
	t.Helper()
	driver, source := "sqlite", s.SQLitePath
	if s.DatabaseURL != "" {
		driver, source = "pgx", s.DatabaseURL
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// batch GETs /users?ids=..., and returns the names by id and how many
// queries it took.
func (in *instance) batch(ids string) (map[string]string, int) {
	in.t.Helper()
	before := in.queries()
	status, body := in.do("GET", "/users?ids="+ids, "")
	if status != http.StatusOK {
		in.t.Fatalf("GET /users?ids=%s = %d %s", ids, status, body)
	}
	var users map[string]User
	if err := json.Unmarshal([]byte(body), &users); err != nil {
		in.t.Fatal(err)
	}
	names := map[string]string{}
	for id, u := range users {
		names[id] = u.Name
	}
	return names, in.queries() - before
}

// testBatch shows GetUsers: one query for the ids the cache does not
// hold, none when it holds them all, and invalidation id by id.
func testBatch(t *testing.T, s settings) {
	s.RedisURL = "redis://" + startRedis(t)
	a, b := start(t, s), start(t, s)
	for _, id := range []string{"a", "b", "c"} {
		if status, body := a.do("PUT", "/users/"+id, `{"name": "`+strings.ToUpper(id)+`", "email": "`+id+`@example.com"}`); status != http.StatusOK {
			t.Fatalf("PUT = %d %s", status, body)
		}
	}
	db := openDB(t, s)
	rename := func(id, name string) {
		t.Helper()
		query := `UPDATE users SET name = ? WHERE id = ?`
		if s.DatabaseURL != "" {
			query = `UPDATE users SET name = $1 WHERE id = $2`
		}
		if _, err := db.Exec(query, name, id); err != nil {
			t.Fatal(err)
		}
	}

	// GET /users/a caches a for GetUser, under {urn:user_id:a}#GetUser;
	// the batch's entries are its own use case's ({urn:user_id:a}#GetUsers),
	// so it takes a batch to cache a for batches.
	a.name("a")
	if names, q := a.batch("a"); names["a"] != "A" || q != 1 {
		t.Errorf("batch of a after GET /users/a = %v in %d queries, want A in 1: GetUser's entry is not GetUsers'", names, q)
	}

	// Rename a behind the cache's back: a batch that asked the database
	// for a would see the new name.
	rename("a", "A, renamed behind the cache")
	want := map[string]string{"a": "A", "b": "B", "c": "C"}
	names, q := a.batch("a,b,c")
	if !maps.Equal(names, want) || q != 1 {
		t.Errorf("batch of a,b,c = %v in %d queries, want %v in 1 query, for b and c only", names, q, want)
	}
	if names, q := a.batch("a,b,c"); !maps.Equal(names, want) || q != 0 {
		t.Errorf("second batch = %v in %d queries, want %v from the cache", names, q, want)
	}
	if names, q := b.batch("c,a,b,a"); !maps.Equal(names, want) || q != 0 {
		t.Errorf("the other instance's batch = %v in %d queries, want %v from Redis", names, q, want)
	}

	// A PUT of b invalidates its batch entry too: the next batch queries
	// for b alone (a stays as cached).
	a.do("PUT", "/users/b", `{"name": "Bea", "email": "b@example.com"}`)
	want["b"] = "Bea"
	if names, q := a.batch("a,b,c"); !maps.Equal(names, want) || q != 1 {
		t.Errorf("batch after a PUT of b = %v in %d queries, want %v in 1", names, q, want)
	}

	// An id the database does not have is left out, and not cached: a
	// batch does no negative caching, so each batch with it queries.
	for range 2 {
		if names, q := a.batch("a,nobody"); len(names) != 1 || names["a"] != "A" || q != 1 {
			t.Errorf("batch of a,nobody = %v in %d queries, want a alone, in 1 query", names, q)
		}
	}
	if status, body := a.do("GET", "/users?ids=", ""); status != http.StatusBadRequest {
		t.Errorf("GET /users?ids= = %d %s, want 400", status, body)
	}
}
