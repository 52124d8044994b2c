package gcacheotel_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gcache-go/gcache/gcacheotel"
	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/basic"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The benchmarks measure a local hit with an OpenTelemetry SDK tracer set
// and the caller under a recording span, against the same hit in
// ./runtime and ./gen without one (BENCHMARKS.md), and what recording
// each hit as an event on the caller's span would cost.

type user struct {
	ID   int64
	Name string
}

// decorator is what gcachegen emits for a method
// SearchPosts(ctx, userID string, page int), as in ./runtime's benchmarks.
type decorator struct{ uc *gcache.UseCase[*user] }

func (d *decorator) SearchPosts(ctx context.Context, userID string, page int) (*user, error) {
	if !d.uc.Enabled(ctx) {
		return &user{}, nil
	}
	b := make([]byte, 0, 128)
	b = gcache.AppendString(b, userID)
	idLen := len(b)
	b = append(b, "?page="...)
	b = gcache.AppendInt(b, int64(page))
	return d.uc.GetRendered(ctx, b, idLen, func() func(context.Context) (*user, error) {
		return func(ctx context.Context) (*user, error) { return &user{ID: 1, Name: userID}, nil }
	})
}

// recording returns a context under a recording span of an SDK tracer
// provider that samples everything and batches its spans to an exporter
// that discards them, and the provider.
func recording(b *testing.B) (context.Context, trace.Span, *sdktrace.TracerProvider) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("bench").Start(gcache.Enable(context.Background()), "request")
	b.Cleanup(func() { span.End() })
	return ctx, span, tp
}

func tracedCache(b *testing.B, tp trace.TracerProvider) *gcache.Cache {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry(), Logger: quiet, Tracer: gcacheotel.New(tp, gcacheotel.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func localHitDecorator(b *testing.B, tp trace.TracerProvider) *decorator {
	uc, err := gcache.NewUseCase[*user](tracedCache(b, tp), gcache.UseCaseSpec{Name: "SearchPosts", KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: 60e9, Ramp: 100}}})
	if err != nil {
		b.Fatal(err)
	}
	return &decorator{uc}
}

var sink *user

// BenchmarkLocalHit is ./runtime's BenchmarkLocalHit with tracing on.
func BenchmarkLocalHit(b *testing.B) {
	ctx, _, tp := recording(b)
	d := localHitDecorator(b, tp)
	sink, _ = d.SearchPosts(ctx, "123", 2)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			sink, _ = d.SearchPosts(ctx, "123", 2)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var u *user
			for pb.Next() {
				u, _ = d.SearchPosts(ctx, "123", 2)
			}
			_ = u
		})
	})
}

// BenchmarkLocalHitWithEvent is a local hit that also adds an event to
// the caller's span, as recording hits on it would.
func BenchmarkLocalHitWithEvent(b *testing.B) {
	ctx, span, tp := recording(b)
	d := localHitDecorator(b, tp)
	event := trace.WithAttributes(gcacheotel.UseCaseKey.String("SearchPosts"), gcacheotel.LayerKey.String("LOCAL"))
	for b.Loop() {
		sink, _ = d.SearchPosts(ctx, "123", 2)
		trace.SpanFromContext(ctx).AddEvent("gcache.hit", event)
	}
	_ = span
}

// BenchmarkSpanEvent is the event alone, on a recording span renewed
// every 100 events (the SDK keeps 128 by default, and drops the rest).
func BenchmarkSpanEvent(b *testing.B) {
	_, _, tp := recording(b)
	tracer := tp.Tracer("bench")
	event := trace.WithAttributes(gcacheotel.UseCaseKey.String("SearchPosts"), gcacheotel.LayerKey.String("LOCAL"))
	_, span := tracer.Start(context.Background(), "request")
	n := 0
	for b.Loop() {
		span.AddEvent("gcache.hit", event)
		if n++; n == 100 {
			b.StopTimer()
			span.End()
			_, span = tracer.Start(context.Background(), "request")
			n = 0
			b.StartTimer()
		}
	}
	span.End()
}

// BenchmarkLocalHitGenerated is ./gen's BenchmarkLocalHitGenerated, the
// decorator gcachegen generates for testdata/basic, with tracing on.
func BenchmarkLocalHitGenerated(b *testing.B) {
	ctx, _, tp := recording(b)
	store, err := basic.NewUserStoreCache(fixedStore{&basic.User{ID: "123"}}, tracedCache(b, tp))
	if err != nil {
		b.Fatal(err)
	}
	store.GetUser(ctx, "123")
	b.ReportAllocs()
	var u *basic.User
	for b.Loop() {
		u, _ = store.GetUser(ctx, "123")
	}
	_ = u
}

type fixedStore struct{ u *basic.User }

func (s fixedStore) GetUser(ctx context.Context, userID string) (*basic.User, error) { return s.u, nil }
func (s fixedStore) SearchUserPosts(context.Context, string, int, basic.Filter, string) ([]basic.Post, error) {
	return nil, nil
}
func (s fixedStore) UpdateUser(context.Context, string, basic.User) error { return nil }
func (s fixedStore) Ping(context.Context) error                           { return nil }

// BenchmarkMiss is a local miss that calls the function (local tier
// only, no Redis), untraced and traced: what a span costs a call that is
// not a local hit.
func BenchmarkMiss(b *testing.B) {
	ctx, _, tp := recording(b)
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"untraced", nil}, {"traced", tp}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := gcache.Config{Registerer: prometheus.NewRegistry(), Logger: quiet}
			if bc.tp != nil {
				cfg.Tracer = gcacheotel.New(bc.tp, gcacheotel.Options{})
			}
			c, err := gcache.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			uc, err := gcache.NewUseCase[*user](c, gcache.UseCaseSpec{Name: "Get", KeyType: "user_id",
				Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: 60e9, Ramp: 100}}})
			if err != nil {
				b.Fatal(err)
			}
			fn := func(context.Context) (*user, error) { return &user{}, nil }
			buf := make([]byte, 0, 32)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				buf = strconv.AppendInt(buf[:0], int64(i), 10)
				sink, _ = uc.Get(ctx, uc.Key(buf, len(buf)), fn)
			}
		})
	}
}
