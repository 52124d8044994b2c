package gcache

import (
	"context"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// retryGivenUp waits until the Cache has given up a retried invalidation
// as expired, and returns when it saw that.
func retryGivenUp(t *testing.T, h *harness) time.Time {
	t.Helper()
	eventually(t, "a retried invalidation is given up", func() bool {
		return h.metric("gcache_invalidation_retry_counter_total", "result", "expired") >= 1
	})
	return time.Now()
}

// TestRetryExpiresWithTheLatestInvalidation: a second failed invalidation of an entity whose first is still retried
// is retried for WatermarkTTL after the second, not the first. The retry
// used to expire from the first failure.
func TestRetryExpiresWithTheLatestInvalidation(t *testing.T) {
	const ttl = 3 * time.Second
	srv := redistest.Start(t)
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, WatermarkTTL: ttl, RedisTimeout: 50 * time.Millisecond})
	h.waitLive()
	srv.Pause()
	defer srv.Resume()
	ctx := context.Background()
	if err := h.c.Invalidate(ctx, "user_id", "7"); err == nil {
		t.Fatal("Invalidate returned nil with Redis frozen")
	}
	time.Sleep(ttl / 2)
	if err := h.c.Invalidate(ctx, "user_id", "7"); err == nil {
		t.Fatal("Invalidate returned nil with Redis frozen")
	}
	second := time.Now()
	gaveUp := retryGivenUp(t, h)
	if h.c.retries.size() != 0 {
		t.Fatal("unreachable: the only pending entity expired")
	}
	if age := gaveUp.Sub(second); age < ttl {
		t.Fatalf("the retry of an invalidation made %v ago was given up, before WatermarkTTL (%v) passed: "+
			"it expired with the first failure of its entity", age.Round(10*time.Millisecond), ttl)
	}
}

// TestRetryKeepsAFutureBuffer: a failed invalidation with a future buffer is retried until
// WatermarkTTL past the watermark's own time, buffer included. The retry
// used to expire WatermarkTTL after the failure.
func TestRetryKeepsAFutureBuffer(t *testing.T) {
	const ttl = 2 * time.Second
	const buffer = 4 * time.Second
	srv := redistest.Start(t)
	h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, WatermarkTTL: ttl, RedisTimeout: 50 * time.Millisecond})
	h.waitLive()
	srv.Pause()
	defer srv.Resume()
	invalidated := time.Now()
	if err := h.c.Invalidate(context.Background(), "user_id", "7", WithFutureBuffer(buffer)); err == nil {
		t.Fatal("Invalidate returned nil with Redis frozen")
	}
	gaveUp := retryGivenUp(t, h)
	if gaveUp.Before(invalidated.Add(buffer)) {
		t.Fatalf("the retry of a watermark set %v ahead was given up %v after Invalidate, "+
			"before the watermark's time (values made until then are meant to be stale, and live up to WatermarkTTL after it)",
			buffer, gaveUp.Sub(invalidated).Round(10*time.Millisecond))
	}
}
