package peers

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// redisAddr is the address of the one redis-server the package starts in
// TestMain; every contender uses it, one at a time.
var redisAddr string

func TestMain(m *testing.M) { os.Exit(redistest.Main(m, &redisAddr)) }

// newRedis returns a client of the private server, closed when tb ends.
func newRedis(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// flushRedis empties the private server (never another one), so that each
// contender starts from an empty Redis.
func flushRedis(tb testing.TB) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		tb.Fatalf("FLUSHALL on the private server: %v", err)
	}
}

// waitRedisKeys waits until the private server holds at least n keys: the
// writes some contenders make in the background have landed.
func waitRedisKeys(tb testing.TB, rdb *redis.Client, n int64) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := rdb.DBSize(context.Background()).Result()
		if err != nil {
			tb.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Redis holds %d keys after 30s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
