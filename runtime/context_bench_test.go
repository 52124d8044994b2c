package gcache

import (
	"context"
	"testing"
	"time"
)

// depthKey keys the values a deep request context carries; each
// middleware of a real server has a key type of its own, which a lookup
// compares the same way.
type depthKey int

// requestDepth is how many values deepContext puts above the server's
// root: server and connection values, a request id, a logger, a trace
// span and its baggage, the authenticated user and claims, a tenant, a
// locale, feature flags and the like, as HTTP middleware hands them down.
const requestDepth = 20

// deepContext returns the context a handler deep in an HTTP server gets:
// base (with caching enabled or not), then a cancel (the connection's),
// a deadline (a timeout middleware's) and requestDepth values above them.
// When caching is enabled by a middleware near the server's root, finding
// that out walks the whole chain; so does finding out it is not enabled.
func deepContext(tb testing.TB, base context.Context) context.Context {
	ctx, cancel := context.WithCancel(base)
	tb.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Hour)
	tb.Cleanup(cancelTimeout)
	for i := range requestDepth {
		ctx = context.WithValue(ctx, depthKey(i), i)
	}
	return ctx
}

// BenchmarkContextDepth is BenchmarkLocalHit/serial and
// BenchmarkDisabledCall with a request context 20 values deep against a
// shallow one:
//
//   - LocalHit/shallow: Enable(Background), as BenchmarkLocalHit.
//   - LocalHit/deep: Enable at the root, under the cancel, the deadline and
//     20 values (the cache middleware wraps the whole server).
//   - LocalHit/deep-enable-last: the same values with Enable on top (the
//     cache middleware is the handler's innermost).
//   - DisabledCall/shallow: Background, as BenchmarkDisabledCall.
//   - DisabledCall/deep: the cancel, the deadline and 20 values, no Enable.
func BenchmarkContextDepth(b *testing.B) {
	_, d := benchCache(b, Config{}, allLayers)
	var s store = d
	root := context.Background()
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"LocalHit/shallow", Enable(root)},
		{"LocalHit/deep", deepContext(b, Enable(root))},
		{"LocalHit/deep-enable-last", Enable(deepContext(b, root))},
		{"DisabledCall/shallow", root},
		{"DisabledCall/deep", deepContext(b, root)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := bc.ctx
			sink, _ = s.SearchPosts(ctx, "123", 2) // the hit's entry
			for b.Loop() {
				sink, _ = s.SearchPosts(ctx, "123", 2)
			}
		})
	}
}

// TestDeepContextEnabled checks that the contexts BenchmarkContextDepth
// measures are what it says: caching on where Enable is in the chain,
// wherever it is, and off where it is not.
func TestDeepContextEnabled(t *testing.T) {
	root := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"deep", deepContext(t, Enable(root)), true},
		{"deep-enable-last", Enable(deepContext(t, root)), true},
		{"deep-disabled", deepContext(t, root), false},
		{"deep-disable-last", Disable(deepContext(t, Enable(root))), false},
	} {
		if got := Enabled(tc.ctx); got != tc.want {
			t.Errorf("%s: Enabled = %v, want %v", tc.name, got, tc.want)
		}
		if _, ok := tc.ctx.Deadline(); !ok {
			t.Errorf("%s: the context has no deadline", tc.name)
		}
		if tc.ctx.Value(depthKey(0)) != 0 || tc.ctx.Value(depthKey(requestDepth-1)) != requestDepth-1 {
			t.Errorf("%s: the context does not carry its %d values", tc.name, requestDepth)
		}
	}
}
