package gcache

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
)

// freshIDs numbers the ids the benchmarks want missing everywhere: unique
// across the runs of -count, which share a Redis.
var freshIDs atomic.Int64

// BenchmarkBatch100 reads 100 ids of which 90 are cached, by one GetBatch
// or by 100 calls of Get: with the 90 in the local tier, and in Redis
// alone. The 10 others are new ids each time, which the function makes.
func BenchmarkBatch100(b *testing.B) {
	srv := redistest.Start(b)
	for _, tier := range []struct {
		name string
		cfg  KeyConfig
	}{{"local", allLayers}, {"remote", remoteOnly()}} {
		for _, mode := range []string{"batch", "single"} {
			b.Run(tier.name+"/"+mode, func(b *testing.B) {
				c, _ := benchCache(b, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}, tier.cfg)
				uc, err := NewUseCase[*benchUser](c, UseCaseSpec{Name: "GetUser-" + tier.name + "-" + mode, KeyType: "user_id", Default: tier.cfg})
				if err != nil {
					b.Fatal(err)
				}
				u := sampleUser(1)
				fn := func(ctx context.Context, ids []int) (map[int]*benchUser, error) {
					out := make(map[int]*benchUser, len(ids))
					for _, id := range ids {
						out[id] = u
					}
					return out, nil
				}
				key := func(b []byte, id int) ([]byte, int, error) {
					b = AppendInt(b, int64(id))
					return b, len(b), nil
				}
				ids := make([]int, 100)
				for i := range 90 {
					ids[i] = i
				}
				if _, err := GetBatch(enabled, uc, ids[:90], key, fn); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					for i := 90; i < 100; i++ {
						ids[i] = int(1_000_000 + freshIDs.Add(1))
					}
					if mode == "batch" {
						if got, err := GetBatch(enabled, uc, ids, key, fn); err != nil || len(got) != 100 {
							b.Fatal(len(got), err)
						}
						continue
					}
					for _, id := range ids {
						bk := AppendInt(nil, int64(id))
						if _, err := uc.Get(enabled, uc.Key(bk, len(bk)), func(ctx context.Context) (*benchUser, error) { return u, nil }); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkStampede4 misses one new key on 4 instances × 250 goroutines at
// once, with a function that takes 5ms, with and without a lease. It
// reports the function's calls per stampede.
func BenchmarkStampede4(b *testing.B) {
	srv := redistest.Start(b)
	for _, lease := range []time.Duration{0, time.Second} {
		name := "lease"
		if lease == 0 {
			name = "no-lease"
		}
		b.Run(name, func(b *testing.B) {
			cfg := allLayers
			cfg.Lease = lease
			ucs := make([]*UseCase[int64], 4)
			for i := range ucs {
				c, _ := benchCache(b, Config{Redis: &RedisConfig{Addrs: []string{srv.Addr()}}}, cfg)
				ucs[i] = useCase[int64](b, c, UseCaseSpec{Name: "stampede", Default: cfg})
			}
			var calls, n int64
			for b.Loop() {
				n++
				calls += stampede(b, ucs, strconv.FormatInt(freshIDs.Add(1), 10), 250, 5*time.Millisecond)
			}
			b.ReportMetric(float64(calls)/float64(n), "calls/op")
		})
	}
}
