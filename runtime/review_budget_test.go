package gcache

import (
	"context"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestReviewRedisBudgetSpentTwiceBeforeTheClockIsKnown breaks guarantee 4
// ("the Redis part of a call takes at most RedisTimeout and at most half
// of the caller's remaining deadline") for every miss of a Cache that
// started while Redis was hung, until Redis answers.
//
// Root cause: a miss spends the budget twice. getRemote bounds its read
// with redisContext (min(RedisTimeout, half the time left)); then
// produce calls Cache.started, which, while the fleet clock is unknown,
// measures it under a second redisContext computed afresh from what is
// left (syncFirst -> sync -> measure). The two waits add up: 2 x
// RedisTimeout, or 1/2 + 1/4 of the caller's deadline. The clock
// measurement (remote.timeAndRunID) also bypasses the breaker, so the
// breaker opening does not end the second wait. (GetBatch, which calls
// started after lookupBatch's read, does the same.)
//
// Fault: Redis frozen (SIGSTOP) before the Cache is created. The time
// the function is called at is measured; each bound is checked with a
// margin of half the extra wait the defect causes, so that scheduling
// noise cannot decide the outcome.
func TestReviewRedisBudgetSpentTwiceBeforeTheClockIsKnown(t *testing.T) {
	for _, tc := range []struct {
		name         string
		redisTimeout time.Duration
		deadline     time.Duration
		bound        time.Duration // the guarantee's bound on the Redis part
		excess       time.Duration // what the second wait adds
	}{
		{"RedisTimeout", time.Second, 30 * time.Second, time.Second, time.Second},
		{"half the deadline", 30 * time.Second, 4 * time.Second, 2 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			srv.Pause()
			defer srv.Resume()
			h := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}, RedisTimeout: tc.redisTimeout, BreakerThreshold: 1000})
			uc := useCase[string](t, h.c, UseCaseSpec{Name: "Plain", KeyType: "T", Default: allLayers})
			ctx, cancel := context.WithTimeout(enabled, tc.deadline)
			defer cancel()
			start := time.Now()
			var redisPart time.Duration
			v, err := uc.Get(ctx, keyOf(uc, "1"), func(context.Context) (string, error) {
				redisPart = time.Since(start)
				return "v", nil
			})
			if err != nil || v != "v" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			if redisPart > tc.bound+tc.excess/2 {
				t.Fatalf("the function was called %v into the call: the Redis part is bounded by %v",
					redisPart.Round(10*time.Millisecond), tc.bound)
			}
		})
	}
}
