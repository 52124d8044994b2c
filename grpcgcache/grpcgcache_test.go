package grpcgcache_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gcache-go/gcache/grpcgcache"
	"github.com/gcache-go/gcache/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// probe is a gRPC service, declared by hand, whose unary method Enabled
// and stream method Watch answer whether caching is on in their context.
var probe = grpc.ServiceDesc{
	ServiceName: "test.Probe",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Enabled",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(ctx context.Context, req any) (any, error) { return wrapperspb.Bool(gcache.Enabled(ctx)), nil }
			if interceptor == nil {
				return handler(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.Probe/Enabled"}, handler)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			return stream.SendMsg(wrapperspb.Bool(gcache.Enabled(stream.Context())))
		},
	}},
}

// serve starts a gRPC server on a loopback port with the interceptors of
// filter and returns a connection to it.
func serve(t *testing.T, filter grpcgcache.Filter) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcgcache.UnaryServerInterceptor(filter)),
		grpc.ChainStreamInterceptor(grpcgcache.StreamServerInterceptor(filter)),
	)
	srv.RegisterService(&probe, struct{}{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func enabled(t *testing.T, conn *grpc.ClientConn) (unary, stream bool) {
	t.Helper()
	ctx := context.Background()
	out := new(wrapperspb.BoolValue)
	if err := conn.Invoke(ctx, "/test.Probe/Enabled", &emptypb.Empty{}, out); err != nil {
		t.Fatal(err)
	}
	unary = out.Value
	s, err := conn.NewStream(ctx, &probe.Streams[0], "/test.Probe/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(out); err != nil {
		t.Fatal(err)
	}
	return unary, out.Value
}

func TestInterceptorsEnableCaching(t *testing.T) {
	if unary, stream := enabled(t, serve(t, nil)); !unary || !stream {
		t.Errorf("with no filter: unary %v, stream %v; want caching on in both", unary, stream)
	}
	onlyUnary := func(m string) bool { return !strings.HasSuffix(m, "/Watch") }
	if unary, stream := enabled(t, serve(t, onlyUnary)); !unary || stream {
		t.Errorf("with a filter of Watch: unary %v, stream %v; want on, off", unary, stream)
	}
}

// TestWithoutInterceptorsCachingIsOff: the handlers see caching off when
// the server has no interceptor, so the test above observes the
// interceptors' doing.
func TestWithoutInterceptorsCachingIsOff(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&probe, struct{}{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if unary, stream := enabled(t, conn); unary || stream {
		t.Errorf("without interceptors: unary %v, stream %v", unary, stream)
	}
}
