package gcache

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestRegistryListsTheUseCasesOfEveryInstance(t *testing.T) {
	a, b := pair(t, Config{})
	def := KeyConfig{
		Local:     LayerConfig{TTL: time.Minute, Ramp: 100},
		Remote:    LayerConfig{TTL: 5 * time.Minute, Ramp: 50},
		RefreshAt: 0.8,
	}
	useCase[string](t, a.c, UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: def})
	useCase[string](t, b.c, UseCaseSpec{Name: "Search", KeyType: "query"}) // no default: uncached until configured
	want := []UseCaseInfo{
		{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: def},
		{Name: "Search", KeyType: "query"},
	}
	var got []UseCaseInfo
	eventually(t, "both instances' use cases are listed", func() bool {
		var err error
		got, err = a.c.RegisteredUseCases(context.Background())
		return err == nil && reflect.DeepEqual(got, want)
	})

	ctx := context.Background()
	rdb := a.redis.Client()
	hash, expiry := registryKeys("urn")
	if hash != "{urn:gcache}:usecases" || expiry != "{urn:gcache}:usecases:expiry" {
		t.Errorf("registry keys %q, %q", hash, expiry)
	}
	// The default is in the config JSON that the Python library reads.
	raw := rdb.HGet(ctx, hash, "GetUser").Val()
	wantRaw := `{"key_type":"user_id","tracked":true,"default":{"ttl_sec":{"local":60,"remote":300},"ramp":{"local":100,"remote":50},"refresh_at":0.8}}`
	if raw != wantRaw {
		t.Errorf("the registry holds %s\nwant %s", raw, wantRaw)
	}
	// Both keys expire unless an instance writes them again.
	for _, k := range []string{hash, expiry} {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > registryTTL {
			t.Errorf("%s expires in %v, want within %v", k, ttl, registryTTL)
		}
	}
	if keys := a.redisKeys(); len(keys) != 0 {
		t.Errorf("the registry wrote keys beside its own: %q", keys)
	}
}

func TestRegistryDropsUseCasesNoInstanceWrites(t *testing.T) {
	h := withRedis(t, Config{})
	ctx := context.Background()
	rdb := h.redis.Client()
	hash, expiry := registryKeys("urn")
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// An instance that is gone wrote Gone; its field expired a second ago.
	rdb.HSet(ctx, hash, "Gone", `{"key_type":"k","tracked":false,"default":{"ttl_sec":{"local":1},"ramp":{"local":100}}}`)
	rdb.ZAdd(ctx, expiry, redis.Z{Score: float64(now.Add(-time.Second).UnixMilli()), Member: "Gone"})
	// A description that does not parse is left out; the others are listed.
	rdb.HSet(ctx, hash, "Bad", `{"key_type":`)
	rdb.ZAdd(ctx, expiry, redis.Z{Score: float64(now.Add(time.Minute).UnixMilli()), Member: "Bad"})
	if got, err := h.c.RegisteredUseCases(ctx); err != nil || len(got) != 0 {
		t.Errorf("RegisteredUseCases = %+v, %v; want none", got, err)
	}

	useCase[string](t, h.c, UseCaseSpec{Name: "Live", KeyType: "k"})
	eventually(t, "the next write drops Gone", func() bool {
		fields := rdb.HKeys(ctx, hash).Val()
		return strings.Join(fields, ",") == "Bad,Live" || strings.Join(fields, ",") == "Live,Bad"
	})
	if members := rdb.ZRange(ctx, expiry, 0, -1).Val(); len(members) != 2 {
		t.Errorf("the expiry set holds %q", members)
	}
	got, err := h.c.RegisteredUseCases(ctx)
	if err != nil || len(got) != 1 || got[0].Name != "Live" {
		t.Errorf("RegisteredUseCases = %+v, %v", got, err)
	}
}

// TestRegistryFailuresLeaveCallsAlone: the registry's writes go around the
// breaker, so a Redis that fails them does not hold calls off Redis.
func TestRegistryFailuresLeaveCallsAlone(t *testing.T) {
	srv := redistest.Start(t)
	var rec logRecorder
	h := newHarness(t, Config{
		Redis:            &RedisConfig{Addrs: []string{srv.Addr()}},
		BreakerThreshold: 1, BreakerCooldown: time.Hour, // one failure of a call would hold Redis off
		Logger: slog.New(&rec),
	})
	h.redis = srv
	srv.Kill()
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	eventually(t, "the registry's write fails", func() bool {
		return strings.Contains(rec.text(), "use-case registry not written")
	})
	srv.Restart()
	var src source
	if _, err := uc.Get(enabled, keyOf(uc, "1"), src.fn); err != nil {
		t.Fatal(err)
	}
	if n := h.metric("gcache_disabled_counter_total", "reason", "server_down"); n != 0 {
		t.Errorf("server_down = %v: the registry's failures opened the breaker", n)
	}
	if n := h.metric("gcache_request_counter_total", "layer", "REMOTE"); n != 1 {
		t.Errorf("REMOTE requests = %v, want 1", n)
	}
	if n := h.metric("gcache_error_counter_total"); n != 0 {
		t.Errorf("errors = %v: the registry's failures were counted as calls'", n)
	}
	eventually(t, "the use case is published once Redis is back", func() bool {
		got, err := h.c.RegisteredUseCases(context.Background())
		return err == nil && len(got) == 1 && got[0].Name == "uc"
	})
}

func TestRegistryWithoutRedis(t *testing.T) {
	h := newHarness(t, Config{})
	useCase[string](t, h.c, UseCaseSpec{Name: "B", KeyType: "k"})
	useCase[string](t, h.c, UseCaseSpec{Name: "A", KeyType: "k", Tracked: true})
	got, err := h.c.RegisteredUseCases(context.Background())
	if err != nil || len(got) != 2 || got[0].Name != "A" || !got[0].Tracked || got[1].Name != "B" {
		t.Errorf("RegisteredUseCases = %+v, %v", got, err)
	}
}
