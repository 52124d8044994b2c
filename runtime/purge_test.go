package gcache

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUseCaseOf(t *testing.T) {
	for key, want := range map[string]string{
		"urn:user_id:7#GetUser":                   "GetUser",
		"urn:user_id:7?page=2#Search":             "Search",
		"{urn:user_id:7}#GetUser":                 "GetUser",
		"{urn:user_id:7}?page=2#Search":           "Search",
		"{urn:user_id:7?page=2#Search}#lease":     "Search",
		"{urn:user_id:7}?page=2#Search#lease":     "Search",
		"urn:user_id:7#lease":                     "lease", // a use case may be named lease
		"{urn:user_id:7}#lease#lease":             "lease",
		"{urn:user_id:7}#watermark":               "",
		"urn:gcache:config":                       "",
		"{urn:gcache}:usecases":                   "",
		"{urn:gcache}:usecases:expiry":            "",
		"other:user_id:7#GetUser":                 "",
		"{other:user_id:7}#GetUser":               "",
		"urnx:user_id:7#GetUser":                  "",
		"foreign":                                 "",
		"urn:user_id:7?~sha256=0123abcd#GetUsers": "GetUsers",
	} {
		if got := useCaseOf("urn", key); got != want {
			t.Errorf("useCaseOf(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestPurgeReachesRedisAndOtherInstances: a purge removes one use case's
// entries and leases from Redis, and from the local tier of another
// instance, and nothing of the other use cases.
func TestPurgeReachesRedisAndOtherInstances(t *testing.T) {
	a, b := pair(t, Config{})
	ctx := context.Background()
	src := &versioned{}
	tracked := useCase[string](t, b.c, trackedSpec("Tracked", allLayers))
	plain := useCase[string](t, b.c, UseCaseSpec{Name: "Plain", KeyType: "user_id", Default: allLayers})
	other := useCase[string](t, b.c, UseCaseSpec{Name: "Other", KeyType: "user_id", Default: allLayers})
	for _, id := range []string{"1", "2"} {
		tracked.Get(enabled, keyOf(tracked, id), src.fn)
		plain.Get(enabled, keyOf(plain, id), src.fn)
		other.Get(enabled, keyOf(other, id), src.fn)
	}
	b.settle() // the values are in Redis
	rdb := a.redis.Client()
	rdb.Set(ctx, "{urn:user_id:3}#Tracked#lease", "token", time.Minute)
	rdb.Set(ctx, "{urn:user_id:3#Other}#lease", "token", time.Minute)
	if err := a.c.Invalidate(ctx, "user_id", "9"); err != nil {
		t.Fatal(err)
	}
	src.version.Store(1)

	n, err := a.c.Purge(ctx, "Tracked")
	if err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want the 2 entries and the lease", n, err)
	}
	if n, err := a.c.Purge(ctx, "Plain"); err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want the 2 entries", n, err)
	}
	want := []string{"urn:user_id:1#Other", "urn:user_id:2#Other", "{urn:user_id:3#Other}#lease", "{urn:user_id:9}#watermark"}
	if keys := a.redisKeys(); !reflect.DeepEqual(keys, want) {
		t.Errorf("Redis holds %q\nwant %q", keys, want)
	}
	eventually(t, "B drops the purged use cases' local entries", func() bool {
		v1, _ := tracked.Get(enabled, keyOf(tracked, "1"), src.fn)
		v2, _ := plain.Get(enabled, keyOf(plain, "1"), src.fn)
		return v1 == "v1" && v2 == "v1"
	})
	if v, _ := other.Get(enabled, keyOf(other, "1"), src.fn); v != "v0" {
		t.Errorf("Other serves %q: the purge reached another use case", v)
	}
	if n := a.metric("gcache_error_counter_total") + b.metric("gcache_error_counter_total"); n != 0 {
		t.Errorf("%v errors", n)
	}
}

func TestPurgeOfABadName(t *testing.T) {
	h := withRedis(t, Config{})
	for _, name := range []string{"", "a*", "a b", "watermark"} {
		if _, err := h.c.Purge(context.Background(), name); err == nil || !strings.HasPrefix(err.Error(), "gcache: ") {
			t.Errorf("Purge(%q) = %v", name, err)
		}
	}
}

func TestPurgeLocalOnly(t *testing.T) {
	h := newHarness(t, Config{})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if n, err := h.c.Purge(context.Background(), "uc"); n != 0 || err != nil {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	if src.calls.Load() != 2 {
		t.Error("the local entry survived Purge")
	}
}

// TestFlushKeepsTheConfigAndTheRegistry: the keys under the prefix that
// are not entries survive Flush; the config hash holds the kill switches.
func TestFlushKeepsTheConfigAndTheRegistry(t *testing.T) {
	h := withRedis(t, Config{})
	ctx := context.Background()
	rdb := h.redis.Client()
	rdb.HSet(ctx, "urn:gcache:config", "uc", `{"ttl_sec": {"local": 60}, "ramp": {"local": 0}}`)
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	uc.Get(enabled, keyOf(uc, "1"), src.fn)
	eventually(t, "the use case is published", func() bool {
		got, _ := h.c.RegisteredUseCases(ctx)
		return len(got) == 1
	})
	if err := h.c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := h.redisKeys(); !reflect.DeepEqual(keys, []string{"urn:gcache:config"}) {
		t.Errorf("after Flush: %q", keys)
	}
	if got, err := h.c.RegisteredUseCases(ctx); err != nil || len(got) != 1 {
		t.Errorf("after Flush, the registry lists %+v, %v", got, err)
	}
}
