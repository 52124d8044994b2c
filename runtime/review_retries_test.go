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

// TestReviewRetryOfLaterInvalidationExpiresWithTheFirst breaks the
// retried-invalidation guarantee ("the Cache then writes it again in the
// background until it lands (or WatermarkTTL passes)"; Invalidate's doc:
// "until no entry it guards can exist any more"), and with it guarantee 3
// for the other instances, which may serve the old value until the retry
// lands: it never does.
//
// Root cause: retries.add deduplicates per entity keeping the later
// invalidation time (at) but the FIRST failure time (failed), and
// retries.attempt expires a retry when now-failed > WatermarkTTL. A
// second invalidation of an entity that failed while the first was still
// pending is given up WatermarkTTL after the first one, though entries it
// guards (made between the two, living up to WatermarkTTL) can exist for
// up to WatermarkTTL after the second.
//
// Fault: Redis frozen (SIGSTOP) for the whole test, so that every attempt
// fails.
func TestReviewRetryOfLaterInvalidationExpiresWithTheFirst(t *testing.T) {
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

// TestReviewRetryWithFutureBufferExpiresBeforeItsTime is the same gap
// with one invalidation: WithFutureBuffer(d) sets the watermark d ahead,
// so that values made until then are stale too, and such values live up
// to WatermarkTTL after it; the retry is still given up WatermarkTTL
// after the failure, before the watermark's own time has even come.
//
// Root cause: retries.attempt counts expiry from retry.failed, not from
// retry.at (which includes the buffer).
func TestReviewRetryWithFutureBufferExpiresBeforeItsTime(t *testing.T) {
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
