package gcacheotel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/gcacheotel"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestMain(m *testing.M) {
	// go-redis logs the failed dials of the Redis failure tests itself.
	redis.SetLogger(silent{})
	os.Exit(m.Run())
}

type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var errNotFound = errors.New("not found")

// traced is an OpenTelemetry SDK that keeps its spans in memory.
type traced struct {
	tp  *sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

func newTraced(t *testing.T) *traced {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &traced{tp, exp}
}

// request runs f under a span of the caller's, with caching on, and
// returns the spans ended since the last call.
func (tr *traced) request(f func(ctx context.Context)) (parent trace.SpanContext, spans tracetest.SpanStubs) {
	tr.exp.Reset()
	ctx, span := tr.tp.Tracer("test").Start(gcache.Enable(context.Background()), "request")
	f(ctx)
	span.End()
	return span.SpanContext(), tr.exp.GetSpans()
}

func newCache(t *testing.T, addr string, cfg gcache.Config) *gcache.Cache {
	t.Helper()
	cfg.Redis = &gcache.RedisConfig{Addrs: []string{addr}}
	cfg.Registerer, cfg.Logger = prometheus.NewRegistry(), quiet
	c, err := gcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func useCase(t *testing.T, c *gcache.Cache, spec gcache.UseCaseSpec) *gcache.UseCase[string] {
	t.Helper()
	uc, err := gcache.NewUseCase[string](c, spec)
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

func get(ctx context.Context, uc *gcache.UseCase[string], id string, fn func(context.Context) (string, error)) (string, error) {
	b := gcache.AppendString(nil, id)
	return uc.Get(ctx, uc.Key(b, len(b)), fn)
}

func settle(t *testing.T, c *gcache.Cache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// call returns the one gcache span among spans, a child of parent.
func call(t *testing.T, spans tracetest.SpanStubs, parent trace.SpanContext, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "gcache.") {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d gcache spans, want 1: %v", len(found), names(spans))
	}
	s := found[0]
	if s.Name != name {
		t.Errorf("the call's span is named %q, want %q", s.Name, name)
	}
	if s.Parent.SpanID() != parent.SpanID() {
		t.Errorf("the call's span is not a child of the caller's")
	}
	if s.SpanKind != trace.SpanKindInternal {
		t.Errorf("the call's span is of kind %v", s.SpanKind)
	}
	return s
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// attrs returns a span's attributes as strings, by key.
func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// wantAttrs checks that s has exactly the gcache attributes of want.
func wantAttrs(t *testing.T, what string, s tracetest.SpanStub, want map[string]string) {
	t.Helper()
	got := attrs(s)
	if len(got) != len(want) {
		t.Errorf("%s: attributes %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: attributes %v, want %v", what, got, want)
			return
		}
	}
}

// children returns the spans among spans whose parent is s.
func children(spans tracetest.SpanStubs, s tracetest.SpanStub) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, c := range spans {
		if c.Parent.SpanID() == s.SpanContext.SpanID() {
			out = append(out, c)
		}
	}
	return out
}

// redisSpan returns the child span of s for the Redis command name.
func redisSpan(t *testing.T, spans tracetest.SpanStubs, s tracetest.SpanStub, name string) tracetest.SpanStub {
	t.Helper()
	for _, c := range children(spans, s) {
		if c.Name == name {
			if c.SpanKind != trace.SpanKindClient || attrs(c)["db.system.name"] != "redis" || attrs(c)["db.operation.name"] != name {
				t.Errorf("the %s span: kind %v, attributes %v", name, c.SpanKind, attrs(c))
			}
			return c
		}
	}
	t.Fatalf("no %s span under the call; its children: %v", name, names(children(spans, s)))
	return tracetest.SpanStub{}
}

// TestSpans: a miss, a remote hit, a negative hit, the function's error and
// a failed Redis each give the call the span and attributes the README
// documents, with the function's span and the Redis commands as its
// children; a local hit gives none.
func TestSpans(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTraced(t)
	// a records keys, b does not.
	a := newCache(t, srv.Addr(), gcache.Config{Tracer: gcacheotel.New(tr.tp, gcacheotel.Options{RecordKeys: true})})
	b := newCache(t, srv.Addr(), gcache.Config{Tracer: gcacheotel.New(tr.tp, gcacheotel.Options{})})
	// A new Cache caches tracked values once it hears the events.
	settle(t, a)
	settle(t, b)
	both := gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, NegativeTTL: time.Minute}
	spec := gcache.UseCaseSpec{Name: "Get", KeyType: "user_id", Tracked: true, Negative: errNotFound, Default: both}
	getA, getB := useCase(t, a, spec), useCase(t, b, spec)
	db := func(v string, err error) func(context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			_, span := tr.tp.Tracer("test").Start(ctx, "db.query")
			span.End()
			return v, err
		}
	}

	t.Run("miss", func(t *testing.T) {
		parent, spans := tr.request(func(ctx context.Context) {
			if v, err := get(ctx, getA, "1", db("one", nil)); v != "one" || err != nil {
				t.Fatalf("%q, %v", v, err)
			}
		})
		s := call(t, spans, parent, "gcache.get Get")
		wantAttrs(t, "a miss", s, map[string]string{
			"gcache.use_case": "Get", "gcache.key_type": "user_id", "gcache.tracked": "true",
			"gcache.key": "{urn:user_id:1}#Get", "gcache.outcome": "miss", "gcache.layer": "FUNCTION",
		})
		if s.Status.Code != codes.Unset || len(s.Events) != 0 {
			t.Errorf("a miss: status %v, events %v", s.Status, s.Events)
		}
		redisSpan(t, spans, s, "mget") // the value and its watermark
		if !slices.Contains(names(children(spans, s)), "db.query") {
			t.Errorf("the function's span is not a child of the call's: %v", names(children(spans, s)))
		}
	})

	t.Run("local hit", func(t *testing.T) {
		_, spans := tr.request(func(ctx context.Context) {
			if v, _ := get(ctx, getA, "1", db("two", nil)); v != "one" {
				t.Fatalf("%q", v)
			}
		})
		if got := names(spans); !slices.Equal(got, []string{"request"}) {
			t.Errorf("a local hit made spans %v", got)
		}
	})

	settle(t, a) // a's write has landed...
	settle(t, b) // ...and b hears the events

	t.Run("remote hit", func(t *testing.T) {
		parent, spans := tr.request(func(ctx context.Context) {
			if v, err := get(ctx, getB, "1", db("two", nil)); v != "one" || err != nil {
				t.Fatalf("%q, %v", v, err)
			}
		})
		s := call(t, spans, parent, "gcache.get Get")
		wantAttrs(t, "a remote hit", s, map[string]string{
			"gcache.use_case": "Get", "gcache.key_type": "user_id", "gcache.tracked": "true",
			"gcache.outcome": "hit", "gcache.layer": "REMOTE",
		})
		redisSpan(t, spans, s, "mget")
		if slices.Contains(names(spans), "db.query") {
			t.Errorf("a remote hit called the function")
		}
	})

	t.Run("negative hit", func(t *testing.T) {
		parent, spans := tr.request(func(ctx context.Context) {
			if _, err := get(ctx, getA, "404", db("", errNotFound)); err != errNotFound {
				t.Fatalf("%v", err)
			}
		})
		s := call(t, spans, parent, "gcache.get Get")
		if got := attrs(s); got["gcache.outcome"] != "negative" || got["gcache.layer"] != "FUNCTION" || s.Status.Code != codes.Unset {
			t.Errorf("the function's not found: %v, status %v; want negative, from the function, no error", got, s.Status)
		}
		settle(t, a)
		parent, spans = tr.request(func(ctx context.Context) {
			if _, err := get(ctx, getB, "404", db("", errors.New("called"))); err != errNotFound {
				t.Fatalf("%v", err)
			}
		})
		s = call(t, spans, parent, "gcache.get Get")
		wantAttrs(t, "a negative hit", s, map[string]string{
			"gcache.use_case": "Get", "gcache.key_type": "user_id", "gcache.tracked": "true",
			"gcache.outcome": "negative", "gcache.layer": "REMOTE",
		})
		if s.Status.Code != codes.Unset || len(s.Events) != 0 {
			t.Errorf("a negative hit is no error: status %v, events %v", s.Status, s.Events)
		}
	})

	t.Run("error", func(t *testing.T) {
		failure := errors.New("database down")
		parent, spans := tr.request(func(ctx context.Context) {
			if _, err := get(ctx, getA, "2", db("", failure)); err != failure {
				t.Fatalf("%v", err)
			}
		})
		s := call(t, spans, parent, "gcache.get Get")
		wantAttrs(t, "a failing call", s, map[string]string{
			"gcache.use_case": "Get", "gcache.key_type": "user_id", "gcache.tracked": "true",
			"gcache.key": "{urn:user_id:2}#Get", "gcache.outcome": "miss", "gcache.layer": "FUNCTION",
		})
		if s.Status.Code != codes.Error || s.Status.Description != "database down" {
			t.Errorf("a failing call's status: %v", s.Status)
		}
		if len(s.Events) != 1 || s.Events[0].Name != "exception" || !hasAttr(s.Events[0].Attributes, "exception.message", "database down") {
			t.Errorf("a failing call's events: %v", s.Events)
		}
	})

	t.Run("redis failure", func(t *testing.T) {
		dead := redistest.Start(t)
		dead.Kill()
		c := newCache(t, dead.Addr(), gcache.Config{Tracer: gcacheotel.New(tr.tp, gcacheotel.Options{}), BreakerThreshold: 1, BreakerCooldown: time.Hour})
		uc := useCase(t, c, gcache.UseCaseSpec{Name: "Plain", KeyType: "id", Default: gcache.KeyConfig{Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}})
		for i, want := range []string{"timeout|connection", "server_down"} {
			parent, spans := tr.request(func(ctx context.Context) {
				if v, err := get(ctx, uc, string(rune('1'+i)), db("v", nil)); v != "v" || err != nil {
					t.Fatalf("%q, %v", v, err)
				}
			})
			s := call(t, spans, parent, "gcache.get Plain")
			wantAttrs(t, "a call with Redis down", s, map[string]string{
				"gcache.use_case": "Plain", "gcache.key_type": "id", "gcache.tracked": "false",
				"gcache.outcome": "miss", "gcache.layer": "FUNCTION",
			})
			if s.Status.Code != codes.Unset {
				t.Errorf("call %d: a call served by the function is no error: %v", i, s.Status)
			}
			if len(s.Events) != 1 || s.Events[0].Name != gcacheotel.RedisFailedEvent {
				t.Fatalf("call %d: events %v, want one %s", i, s.Events, gcacheotel.RedisFailedEvent)
			}
			kind := attrs(tracetest.SpanStub{Attributes: s.Events[0].Attributes})["error.type"]
			if !slices.Contains(strings.Split(want, "|"), kind) {
				t.Errorf("call %d: the failure's error.type is %q, want %s", i, kind, want)
			}
			if i == 0 {
				// The failed read itself, as the hook traced it.
				if g := redisSpan(t, spans, s, "get"); g.Status.Code != codes.Error {
					t.Errorf("the failed get's status: %v", g.Status)
				}
			}
		}
	})
}

func hasAttr(kvs []attribute.KeyValue, key, value string) bool {
	for _, kv := range kvs {
		if string(kv.Key) == key && kv.Value.Emit() == value {
			return true
		}
	}
	return false
}

// TestBatchSpan: a batch that reaches Redis and the function gets one
// span with its counts; one that the local tier serves whole gets none.
func TestBatchSpan(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTraced(t)
	c := newCache(t, srv.Addr(), gcache.Config{Tracer: gcacheotel.New(tr.tp, gcacheotel.Options{RecordKeys: true})})
	uc := useCase(t, c, gcache.UseCaseSpec{Name: "GetMany", KeyType: "id", Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}}})
	key := func(b []byte, id string) ([]byte, int, error) {
		b = gcache.AppendString(b, id)
		return b, len(b), nil
	}
	fn := func(ctx context.Context, ids []string) (map[string]string, error) {
		out := map[string]string{}
		for _, id := range ids {
			out[id] = "v" + id
		}
		return out, nil
	}
	batch := func(ids ...string) (trace.SpanContext, tracetest.SpanStubs) {
		return tr.request(func(ctx context.Context) {
			if got, err := gcache.GetBatch(ctx, uc, ids, key, fn); err != nil || len(got) != len(ids) {
				t.Fatalf("%v, %v", got, err)
			}
		})
	}
	batch("1", "2")
	settle(t, c)
	if _, spans := batch("1", "2"); !slices.Equal(names(spans), []string{"request"}) {
		t.Errorf("a batch served by the local tier made spans %v", names(spans))
	}
	parent, spans := batch("1", "2", "3")
	s := call(t, spans, parent, "gcache.get_batch GetMany")
	wantAttrs(t, "a batch", s, map[string]string{
		"gcache.use_case": "GetMany", "gcache.key_type": "id", "gcache.tracked": "false",
		"gcache.batch.ids": "3", "gcache.batch.local_hits": "2", "gcache.batch.remote_hits": "0",
		"gcache.batch.misses": "1", "gcache.outcome": "miss",
	})
	redisSpan(t, spans, s, "mget")
}

// TestREADMEDocumentsTheSpans: every span name, attribute and event the
// Tracer makes is in the README's "Tracing" section.
func TestREADMEDocumentsTheSpans(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Tracing\n")
	if !ok {
		t.Fatal("the README has no Tracing section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, name := range []string{
		"gcache.get", "gcache.get_batch", gcacheotel.RedisFailedEvent, "error.type", "exception.message",
		string(gcacheotel.UseCaseKey), string(gcacheotel.KeyTypeKey), string(gcacheotel.TrackedKey),
		string(gcacheotel.CacheKeyKey), string(gcacheotel.OutcomeKey), string(gcacheotel.LayerKey),
		string(gcacheotel.RefreshKey), string(gcacheotel.LeaseWaitedKey), string(gcacheotel.LeaseAcquiredKey),
		string(gcacheotel.BatchIDsKey), string(gcacheotel.BatchLocalKey), string(gcacheotel.BatchRemoteKey),
		string(gcacheotel.BatchMissesKey), "db.system.name", "db.operation.name", "db.operation.batch.size",
		"redis.dial", "hit", "negative", "miss", "shared", "LOCAL", "REMOTE", "FUNCTION", "Options.RecordKeys",
	} {
		if !strings.Contains(section, "`"+name) {
			t.Errorf("the README's Tracing section does not name `%s`", name)
		}
	}
}
