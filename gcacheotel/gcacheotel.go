// Package gcacheotel traces gcache's calls with OpenTelemetry. It is a
// module of its own, so that gcache does not depend on OpenTelemetry:
//
//	c, err := gcache.New(gcache.Config{
//		Redis:  &gcache.RedisConfig{Addrs: []string{"localhost:6379"}},
//		Tracer: gcacheotel.New(otel.GetTracerProvider(), gcacheotel.Options{}),
//	})
//
// Each call that misses the local tier, and so reads Redis or calls the
// function, gets a span, named "gcache.get" or "gcache.get_batch" and the
// use case, with what answered it and how as attributes; the function's
// own spans (a database query) and the call's Redis commands are its
// children. Local hits are not traced (see [gcache.Tracer] for why). The
// README's "Tracing" section lists the spans, attributes and events.
//
// The Redis client that gcache makes from Config.Redis gets the Tracer's
// hook, which traces each command (and pipeline, and dial) made under a
// span. For a client of your own (Config.RedisClient), add it yourself:
//
//	rdb.AddHook(tracer.RedisHook())
package gcacheotel

import (
	"context"

	"github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans a Tracer makes.
const ScopeName = "github.com/gcache-go/gcache/gcacheotel"

// The attributes of a call's span.
const (
	UseCaseKey       = attribute.Key("gcache.use_case")
	KeyTypeKey       = attribute.Key("gcache.key_type")
	TrackedKey       = attribute.Key("gcache.tracked")
	CacheKeyKey      = attribute.Key("gcache.key") // with Options.RecordKeys
	OutcomeKey       = attribute.Key("gcache.outcome")
	LayerKey         = attribute.Key("gcache.layer")
	RefreshKey       = attribute.Key("gcache.refresh")
	LeaseWaitedKey   = attribute.Key("gcache.lease.waited")
	LeaseAcquiredKey = attribute.Key("gcache.lease.acquired")
	BatchIDsKey      = attribute.Key("gcache.batch.ids")
	BatchLocalKey    = attribute.Key("gcache.batch.local_hits")
	BatchRemoteKey   = attribute.Key("gcache.batch.remote_hits")
	BatchMissesKey   = attribute.Key("gcache.batch.misses")
)

// RedisFailedEvent is the name of the event a call's span gets when a
// read in Redis fails, or the breaker holds Redis off; its error.type is
// the kind of failure, as gcache's metrics count it.
const RedisFailedEvent = "gcache.redis_failed"

// Options configure a Tracer. The zero value is the default.
type Options struct {
	// RecordKeys records each call's key (gcache.key). Keys hold ids,
	// which may be personal data, so they are left out by default.
	RecordKeys bool
}

// A Tracer traces a Cache's calls with an OpenTelemetry TracerProvider. It
// is a gcache.RedisTracer. It is safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
	opts   Options
}

var _ gcache.RedisTracer = (*Tracer)(nil)

// New returns a Tracer that makes its spans with tp; a nil tp is the
// global TracerProvider (otel.GetTracerProvider) at each span.
func New(tp trace.TracerProvider, opts Options) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(ScopeName), opts: opts}
}

// StartCall starts the span of a call that missed the local tier, as a
// child of the span in ctx, if any.
func (t *Tracer) StartCall(ctx context.Context, call gcache.TracedCall) (context.Context, gcache.CallSpan) {
	name := "gcache.get " + call.UseCase
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, UseCaseKey.String(call.UseCase), KeyTypeKey.String(call.KeyType), TrackedKey.Bool(call.Tracked))
	if call.Batch > 0 {
		name = "gcache.get_batch " + call.UseCase
		attrs = append(attrs, BatchIDsKey.Int(call.Batch), BatchLocalKey.Int(call.LocalHits))
	} else if t.opts.RecordKeys {
		attrs = append(attrs, CacheKeyKey.String(call.Key))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	return ctx, callSpan{span}
}

// callSpan is the span of one call.
type callSpan struct{ span trace.Span }

// RedisFailed adds a RedisFailedEvent to the span. The call goes on, and
// is served: its status is left alone.
func (s callSpan) RedisFailed(kind string, err error) {
	s.span.AddEvent(RedisFailedEvent, trace.WithAttributes(semconv.ErrorTypeKey.String(kind), semconv.ExceptionMessage(err.Error())))
}

// End sets the call's outcome on the span, records its error, and ends it.
func (s callSpan) End(call gcache.TracedCall) {
	attrs := make([]attribute.KeyValue, 0, 6)
	if o := call.Outcome.String(); o != "" {
		attrs = append(attrs, OutcomeKey.String(o))
	}
	if l := call.Served.String(); l != "" {
		attrs = append(attrs, LayerKey.String(l))
	}
	if call.Refreshed {
		attrs = append(attrs, RefreshKey.Bool(true))
	}
	if call.LeaseWaited {
		attrs = append(attrs, LeaseWaitedKey.Bool(true))
	}
	if call.LeaseAcquired {
		attrs = append(attrs, LeaseAcquiredKey.Bool(true))
	}
	if call.Batch > 0 {
		attrs = append(attrs, BatchRemoteKey.Int(call.RemoteHits), BatchMissesKey.Int(call.Misses))
	}
	s.span.SetAttributes(attrs...)
	if call.Err != nil {
		s.span.RecordError(call.Err)
		s.span.SetStatus(codes.Error, call.Err.Error())
	}
	s.span.End()
}

// RedisHook returns the go-redis hook that traces the commands, pipelines
// and dials made under a span: those of gcache's traced calls, and your
// own. The Cache's own background work (heartbeats, the clock, the writes
// after a miss) makes no spans.
func (t *Tracer) RedisHook() redis.Hook { return redisHook{t.tracer} }
