package faults

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMissLatency measures the latency of a miss in both tiers: a
// read of Redis, the function (5 ms), and the write of its value, with
// 2 ms added to every reply from Redis (toxiproxy) so that a round trip
// shows. A miss that returns when the function does costs the function's
// time plus one round trip. It uses only the API of older runtimes too,
// so that the same file measures them.
func BenchmarkMissLatency(b *testing.B) {
	srv := redistest.Start(b)
	x, r := newToxics(), newRouter()
	l := x.link(b, srv.Addr(), srv.Addr())
	r.route(srv.Addr(), l)
	client := r.client(b, srv.Addr(), time.Second)
	c, err := gcache.New(gcache.Config{RedisClient: client, RedisTimeout: time.Second, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	uc, err := gcache.NewUseCase[item](c, gcache.UseCaseSpec{Name: "GetItem", KeyType: "item", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := gcache.Enable(context.Background())
	get := func(id string) time.Duration {
		key := gcache.AppendString(nil, id)
		start := time.Now()
		if _, err := uc.Get(ctx, uc.Key(key, len(key)), func(context.Context) (item, error) {
			time.Sleep(5 * time.Millisecond)
			return item{Version: 1, Made: time.Now()}, nil
		}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	get("warm") // the clock is learned, the connections open
	heal := l.delay(b, 2*time.Millisecond, 0)
	defer heal()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, get("miss"+strconv.Itoa(i)))
		time.Sleep(10 * time.Millisecond) // the background write lands before the next miss
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
	fmt.Printf("miss latency over %d misses: p50 %v, p99 %v (function 5 ms, 2 ms added to each reply)\n", len(lat),
		lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))
}
