package faults

import (
	"sync"
	"testing"
	"time"

	gcache "github.com/gcache-go/gcache/runtime"
)

// TestShortDeadlineJoiningALongerLoad: with Redis black-holed, a caller
// with a 1 s deadline leads a load and waits RedisTimeout (200 ms) for
// Redis; callers with 50 ms deadlines that join it wait at most half of
// their own remaining time, then call the function (2 ms) themselves, and
// are served. They used to wait for the leader's load until their own
// deadline.
func TestShortDeadlineJoiningALongerLoad(t *testing.T) {
	s := newSetup(t, false, gcache.DefaultRedisTimeout)
	in := newInstance(t, s.client, gcache.Config{})
	uc, err := gcache.NewUseCase[item](in.c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	db := newVersions()
	var warm calls
	warm.call(uc, db, "warm", time.Second)
	warm.check(t, "before the black hole")
	heal := s.onLinks(func(l *link) func() { return l.blackHole(t) })
	defer heal()

	var leaders, joiners calls
	var wg sync.WaitGroup
	wg.Go(func() { leaders.call(uc, db, "hot", time.Second) })
	time.Sleep(20 * time.Millisecond) // the leader waits for Redis
	for range 5 {
		wg.Go(func() { joiners.call(uc, db, "hot", 50*time.Millisecond) })
	}
	wg.Wait()
	leaders.check(t, "the caller with a 1 s deadline")
	joiners.check(t, "callers with a 50 ms deadline that joined its load")
}
