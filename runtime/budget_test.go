package gcache

import (
	"context"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// TestCallWaitsForRedisOnceBeforeTheClockIsKnown: a Cache that starts while Redis is hung (SIGSTOP) spends the Redis
// budget of a miss once: the function is called within min(RedisTimeout,
// half the caller's deadline) of the call's start. A call used to measure
// the fleet clock after its read had failed, under a second budget.
func TestCallWaitsForRedisOnceBeforeTheClockIsKnown(t *testing.T) {
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
