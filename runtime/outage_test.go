package gcache

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestOutageModeIgnoresAMissedInvalidationForAtMostItsBound: with its subscriber held back (a starved process) an instance serves a
// tracked local entry, made long before, in the outage mode, and stops no
// later than OutageStaleness after the last heartbeat it heard: an
// invalidation it missed is ignored for at most that long, whatever the
// entry's age.
func TestOutageModeIgnoresAMissedInvalidationForAtMostItsBound(t *testing.T) {
	hold := newHoldingHandler("malformed event")
	a := withRedis(t, Config{Logger: slog.New(hold)})
	defer close(hold.release)
	b := newHarness(t, Config{Redis: &RedisConfig{Addrs: []string{a.redis.Addr()}}})
	b.redis = a.redis
	b.waitLive()
	localOnly := KeyConfig{Local: LayerConfig{TTL: time.Hour, Ramp: 100}}
	ucA := useCase[string](t, a.c, trackedSpec("Profile", localOnly))
	src := &versioned{}
	if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v != "v0" {
		t.Fatal(v)
	}
	time.Sleep(DefaultOutageStaleness + DefaultOutageStaleness/2)
	a.caughtUp()
	if err := a.redis.Client().Publish(context.Background(), a.c.channel(), "not an event").Err(); err != nil {
		t.Fatal(err)
	}
	<-hold.held
	held := time.Now()
	src.version.Store(1)
	if err := b.c.Invalidate(context.Background(), "user_id", "7"); err != nil {
		t.Fatal(err)
	}
	// A serves its entry in the outage mode, and stops no later than
	// OutageStaleness after the last heartbeat it heard, which was sent
	// before the subscriber was held.
	deadline := held.Add(DefaultOutageStaleness)
	var lastOld time.Time
	for time.Now().Before(deadline.Add(time.Second)) {
		if v, _ := ucA.Get(enabled, keyOf(ucA, "7"), src.fn); v == "v0" {
			lastOld = time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lastOld.After(deadline) {
		t.Errorf("A served the invalidated value %v after its view of the events stopped being current, over OutageStaleness (%v)",
			lastOld.Sub(held).Round(10*time.Millisecond), DefaultOutageStaleness)
	}
	if a.metric("gcache_outage_hit_counter_total") == 0 {
		t.Error("no outage hit was counted: the outage mode was not exercised")
	}
}
