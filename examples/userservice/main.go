// Userservice is an example JSON service on a real database whose
// repository is cached with gcache: reads are cached and tracked, writes
// invalidate the user they change, caching is on for GET requests, the
// runtime config follows a Redis hash (so gcache config ramp turns a use
// case off across the fleet), and /metrics serves the metrics. GET
// /users/{id} caches its 404s too; GET /users?ids=1,2,3 reads a batch,
// cached id by id.
//
//	go run . -redis redis://127.0.0.1:6379                 # SQLite in userservice.db
//	DATABASE_URL=postgres://... go run . -redis redis://...  # PostgreSQL
//
// See README.md for a walk through it with curl.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/gcache-go/gcache/config"
	"github.com/gcache-go/gcache/runtime"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // SQLite, in pure Go
)

// settings configure the service.
type settings struct {
	DatabaseURL string // postgres://...; "" is SQLite at SQLitePath
	SQLitePath  string
	RedisURL    string // "" runs with the local tier only
	Prefix      string
	Logger      *slog.Logger
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	s := settings{DatabaseURL: os.Getenv("DATABASE_URL"), Logger: slog.Default()}
	flag.StringVar(&s.SQLitePath, "sqlite", "userservice.db", "SQLite file, when DATABASE_URL is not set")
	flag.StringVar(&s.RedisURL, "redis", os.Getenv("GCACHE_REDIS_URL"), "Redis URL (default $GCACHE_REDIS_URL; none: local tier only)")
	flag.StringVar(&s.Prefix, "prefix", gcache.DefaultKeyPrefix, "key prefix")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	svc, err := newService(ctx, s)
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: svc}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	s.Logger.Info("userservice listening", "addr", l.Addr().String(), "database", svc.dialect)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// service is the HTTP service and what it holds.
type service struct {
	http.Handler
	dialect string
	repo    Repository
	closers []func() error
}

func (s *service) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

func newService(ctx context.Context, s settings) (svc *service, err error) {
	svc = &service{}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	driver, source, d := "sqlite", s.SQLitePath, sqlite
	if s.DatabaseURL != "" {
		driver, source, d = "pgx", s.DatabaseURL, postgres
	}
	svc.dialect = d.name
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, db.Close)

	reg := prometheus.NewRegistry()
	queries := prometheus.NewCounter(prometheus.CounterOpts{Name: "userservice_db_queries_total", Help: "Queries sent to the database."})
	reg.MustRegister(queries)
	repo := &sqlRepository{db: db, dialect: d, queries: queries}
	if err := repo.migrate(ctx); err != nil {
		return nil, err
	}

	cfg := gcache.Config{KeyPrefix: s.Prefix, Registerer: reg, Logger: s.Logger}
	if s.RedisURL != "" {
		opts, err := redis.ParseURL(s.RedisURL)
		if err != nil {
			return nil, errors.New("invalid Redis URL")
		}
		client := redis.NewClient(opts)
		svc.closers = append(svc.closers, client.Close)
		cfg.RedisClient = client
		// The fleet-wide runtime config: gcache config ramp GetUser local=0 remote=0.
		provider, err := config.NewRedis(ctx, client, config.RedisOptions{Prefix: s.Prefix, Options: config.Options{Logger: s.Logger, Registerer: reg}})
		if err != nil {
			return nil, err
		}
		svc.closers = append(svc.closers, provider.Close)
		cfg.ConfigProvider = provider.Provider()
	}
	cache, err := gcache.New(cfg)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, cache.Close)
	// Start serving once the cache hears the fleet's invalidations, a few
	// ms after New when Redis answers: a tracked value of a call made
	// before is not cached, as an invalidation may have been missed. A
	// Redis that is down delays the start by a second, then the service
	// runs on its local tier and the database.
	ready, cancel := context.WithTimeout(ctx, time.Second)
	_ = cache.Settle(ready)
	cancel()
	if svc.repo, err = NewRepositoryCache(repo, cache); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", svc.getUsers)
	mux.HandleFunc("GET /users/{id}", svc.getUser)
	mux.HandleFunc("PUT /users/{id}", svc.putUser)
	mux.HandleFunc("GET /users/{id}/posts", svc.listPosts)
	mux.HandleFunc("POST /users/{id}/posts", svc.addPost)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	svc.Handler = gcache.Middleware(mux)
	return svc, nil
}

func (s *service) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.repo.GetUser(r.Context(), r.PathValue("id"))
	reply(w, u, err)
}

// maxBatch bounds the ids of one GET /users?ids=..., and so the
// placeholders of its query.
const maxBatch = 100

// getUsers serves GET /users?ids=1,2,3: the users that exist, as an
// object by id ({} when none does).
func (s *service) getUsers(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for id := range strings.SplitSeq(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) > maxBatch {
		http.Error(w, fmt.Sprintf("want ids=1,2,3 (1 to %d of them)", maxBatch), http.StatusBadRequest)
		return
	}
	users, err := s.repo.GetUsers(r.Context(), ids)
	if users == nil {
		users = map[string]*User{}
	}
	reply(w, users, err)
}

func (s *service) putUser(w http.ResponseWriter, r *http.Request) {
	var body struct{ Name, Email string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimSpace(body.Name) == "" {
		http.Error(w, `want {"name": "...", "email": "..."}`, http.StatusBadRequest)
		return
	}
	err := s.repo.UpdateUser(r.Context(), r.PathValue("id"), body.Name, body.Email)
	reply(w, map[string]string{"status": "ok"}, err)
}

func (s *service) listPosts(w http.ResponseWriter, r *http.Request) {
	page := 1
	if p := r.URL.Query().Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			http.Error(w, "page must be a positive number", http.StatusBadRequest)
			return
		}
		page = n
	}
	posts, err := s.repo.ListPosts(r.Context(), r.PathValue("id"), page)
	reply(w, posts, err)
}

func (s *service) addPost(w http.ResponseWriter, r *http.Request) {
	var body struct{ Title string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Title == "" {
		http.Error(w, `want {"title": "..."}`, http.StatusBadRequest)
		return
	}
	err := s.repo.AddPost(r.Context(), r.PathValue("id"), body.Title)
	reply(w, map[string]string{"status": "ok"}, err)
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
	case err != nil:
		http.Error(w, fmt.Sprintf("error: %v", err), http.StatusInternalServerError)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}
