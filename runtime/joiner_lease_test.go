package gcache

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestJoinerAfterInvalidateUnderLease: a caller
// that starts after an Invalidate returned, joins a load under a lease
// that began before it, and waits out half its deadline, calls the
// function itself and gets the new value; the leader's older value, which
// holds the lease, lands in neither tier of either instance, and the
// joiner's own write, made without the lease, is what Redis keeps.
//
// Guarantee 2 on the invalidating instance, with runtime/flight.go wait's
// errWaitedEnough and runtime/load.go load's produce and fillLater, for a
// use case with Lease > 0.
func TestJoinerAfterInvalidateUnderLease(t *testing.T) {
	a, b := pair(t, Config{})
	b.waitLive()
	layers := allLayers
	layers.Lease = 5 * time.Second
	ucA := useCase[string](t, a.c, trackedSpec("Profile", layers))
	ucB := useCase[string](t, b.c, trackedSpec("Profile", layers))
	key := keyOf(ucA, "7")
	ctx := context.Background()

	src := &versioned{hold: make(chan chan struct{})}
	leader := make(chan string, 1)
	go func() {
		v, _ := ucA.Get(enabled, key, src.fn)
		leader <- v
	}()
	release := <-src.hold // the leader read v0, under the lease
	src.version.Store(1)
	if err := a.c.Invalidate(ctx, "user_id", "7"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	a.pastClockError()
	jctx, cancel := context.WithTimeout(enabled, 400*time.Millisecond)
	defer cancel()
	joinerCalls := 0
	v, err := ucA.Get(jctx, key, func(context.Context) (string, error) {
		joinerCalls++
		return fmt.Sprint("v", src.version.Load()), nil
	})
	if err != nil || v != "v1" || joinerCalls != 1 {
		t.Fatalf("the joiner got %q (%v) after %d calls of its function, want v1 after 1", v, err, joinerCalls)
	}
	close(release)
	if v := <-leader; v != "v0" {
		t.Fatalf("the leader got %q", v)
	}
	src.hold = nil
	a.settle()
	if err := a.redis.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis failed: %v", err)
	}
	b.caughtUp()
	before := src.calls.Load()
	for _, c := range []struct {
		name string
		uc   *UseCase[string]
	}{{"A", ucA}, {"B", ucB}} {
		if v, err := c.uc.Get(enabled, key, src.fn); err != nil || v != "v1" {
			t.Errorf("%s read %q (%v) after the joiner's and the leader's writes", c.name, v, err)
		}
	}
	if n := src.calls.Load() - before; n != 0 {
		t.Errorf("the function ran %d more times: the joiner's v1 did not stay in Redis", n)
	}
}
