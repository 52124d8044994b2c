package gcache

import (
	"context"
	"net/http"
)

type enabledKey struct{}

// Enable returns a copy of ctx in which cached calls use the cache. Caching
// is off by default: a call made outside Enable goes straight to the
// function. Enable and Disable nest; the innermost one wins.
func Enable(ctx context.Context) context.Context {
	return context.WithValue(ctx, enabledKey{}, true)
}

// Disable returns a copy of ctx in which cached calls bypass the cache, even
// inside an Enable.
func Disable(ctx context.Context) context.Context {
	return context.WithValue(ctx, enabledKey{}, false)
}

// Enabled reports whether cached calls made with ctx use the cache.
func Enabled(ctx context.Context) bool {
	on, _ := ctx.Value(enabledKey{}).(bool)
	return on
}

// Middleware enables caching for GET and HEAD requests, the ones that only
// read. Other requests reach next with their context unchanged.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			r = r.WithContext(Enable(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}
