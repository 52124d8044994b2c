// Package grpcgcache turns gcache on for gRPC server calls, as
// gcache.Middleware does for HTTP requests. It is a module of its own, so
// that the gcache module does not depend on gRPC.
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcgcache.UnaryServerInterceptor(nil)),
//		grpc.ChainStreamInterceptor(grpcgcache.StreamServerInterceptor(nil)),
//	)
package grpcgcache

import (
	"context"

	"github.com/gcache-go/gcache/runtime"
	"google.golang.org/grpc"
)

// A Filter decides by its full name ("/shop.Catalog/GetProduct") whether a
// method's calls run with caching on. nil turns it on for every method.
type Filter func(fullMethod string) bool

func (f Filter) enabled(fullMethod string) bool { return f == nil || f(fullMethod) }

// UnaryServerInterceptor returns an interceptor that runs the unary calls
// of the methods filter accepts with caching on (gcache.Enable), and the
// others as they come.
func UnaryServerInterceptor(filter Filter) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if filter.enabled(info.FullMethod) {
			ctx = gcache.Enable(ctx)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that runs the streams of
// the methods filter accepts with caching on, and the others as they
// come.
func StreamServerInterceptor(filter Filter) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if filter.enabled(info.FullMethod) {
			ss = enabledStream{ServerStream: ss, ctx: gcache.Enable(ss.Context())}
		}
		return handler(srv, ss)
	}
}

// enabledStream is a stream whose context has caching on.
type enabledStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s enabledStream) Context() context.Context { return s.ctx }
