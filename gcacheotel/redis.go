package gcacheotel

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// redisHook traces Redis commands, pipelines and dials as client spans,
// with the database semantic conventions: a command's span is named and
// its db.operation.name is the command as go-redis names it ("get",
// "evalsha"); a pipeline's is "pipeline", with db.operation.batch.size.
// It traces only what runs under a span, so that work done in the
// background without one makes no root spans. A reply that is an error,
// or no reply, is recorded; a miss (redis.Nil) is not an error.
type redisHook struct{ tracer trace.Tracer }

var redisSystem = semconv.DBSystemNameRedis

func traced(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !traced(ctx) {
			return next(ctx, network, addr)
		}
		attrs := []attribute.KeyValue{redisSystem}
		if host, port, err := net.SplitHostPort(addr); err == nil {
			attrs = append(attrs, semconv.ServerAddress(host))
			if p, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, semconv.ServerPort(p))
			}
		}
		ctx, span := h.tracer.Start(ctx, "redis.dial", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		conn, err := next(ctx, network, addr)
		end(span, err)
		return conn, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !traced(ctx) {
			return next(ctx, cmd)
		}
		name := cmd.FullName()
		ctx, span := h.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(redisSystem, semconv.DBOperationName(name)))
		err := next(ctx, cmd)
		end(span, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !traced(ctx) {
			return next(ctx, cmds)
		}
		ctx, span := h.tracer.Start(ctx, "pipeline", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(redisSystem, semconv.DBOperationName("pipeline"), semconv.DBOperationBatchSize(len(cmds))))
		err := next(ctx, cmds)
		if err == nil {
			for _, cmd := range cmds {
				if err = cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
					break
				}
			}
		}
		end(span, err)
		return err
	}
}

// end records err on span, unless it is a miss, and ends it.
func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
