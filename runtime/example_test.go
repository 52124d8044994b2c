package gcache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

type User struct{ ID, Name string }

// Caching a closure by hand, without the generator: a use case, a key,
// and Get.
func Example() {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	getUser, err := gcache.NewUseCase[*User](c, gcache.UseCaseSpec{
		Name:    "GetUser",
		KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	load := func(ctx context.Context) (*User, error) {
		calls++
		return &User{ID: "123", Name: "Ada"}, nil
	}

	ctx := gcache.Enable(context.Background())
	b := gcache.AppendString(nil, "123")
	key := getUser.Key(b, len(b))
	for range 3 {
		u, err := getUser.Get(ctx, key, load)
		if err != nil {
			panic(err)
		}
		fmt.Println(u.Name)
	}
	fmt.Println("key:", key)
	fmt.Println("calls:", calls)
	// Output:
	// Ada
	// Ada
	// Ada
	// key: urn:user_id:123#GetUser
	// calls: 1
}

// A key with arguments: the id, then the arguments sorted by name.
func ExampleUseCase_Key() {
	c, _ := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	defer c.Close()
	search, _ := gcache.NewUseCase[[]string](c, gcache.UseCaseSpec{Name: "SearchUserPosts", KeyType: "user_id"})

	b := gcache.AppendString(nil, "123")
	idLen := len(b)
	b = append(b, "?page="...)
	b = gcache.AppendInt(b, 2)
	b = append(b, "&q="...)
	b = gcache.AppendString(b, "a&b=c")
	fmt.Println(search.Key(b, idLen))
	// Output: urn:user_id:123?page=2&q=a%26b%3Dc#SearchUserPosts
}

// Invalidate makes every tracked entry of one entity stale, whatever its
// use case and arguments.
func ExampleCache_Invalidate() {
	c, _ := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	defer c.Close()
	profile, _ := gcache.NewUseCase[string](c, gcache.UseCaseSpec{
		Name:    "Profile",
		KeyType: "user_id",
		Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}},
	})
	name := "Ada"
	load := func(context.Context) (string, error) { return name, nil }
	ctx := gcache.Enable(context.Background())
	b := gcache.AppendString(nil, "7")
	key := profile.Key(b, len(b))

	v, _ := profile.Get(ctx, key, load)
	fmt.Println(v)
	name = "Ada Lovelace"
	v, _ = profile.Get(ctx, key, load)
	fmt.Println(v, "(cached)")
	if err := c.Invalidate(ctx, "user_id", "7"); err != nil {
		panic(err)
	}
	v, _ = profile.Get(ctx, key, load)
	fmt.Println(v)
	// Output:
	// Ada
	// Ada (cached)
	// Ada Lovelace
}

// Middleware turns caching on for reads only.
func ExampleMiddleware() {
	h := gcache.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, gcache.Enabled(r.Context()))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/7", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/users/7", nil))
	// Output:
	// GET true
	// PUT false
}

// A ConfigProvider changes ramps and TTLs at runtime: here, a kill switch.
func ExampleConfigProvider() {
	var killed bool
	provider := func(ctx context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
		if killed && key.UseCase == "GetUser" {
			return &gcache.KeyConfig{}, nil // every layer off
		}
		return nil, nil // the use case's default
	}
	c, _ := gcache.New(gcache.Config{ConfigProvider: provider, Registerer: prometheus.NewRegistry()})
	defer c.Close()
	getUser, _ := gcache.NewUseCase[int](c, gcache.UseCaseSpec{
		Name: "GetUser", KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}},
	})
	calls := 0
	load := func(context.Context) (int, error) { calls++; return calls, nil }
	ctx := gcache.Enable(context.Background())
	b := gcache.AppendInt(nil, 7)
	key := getUser.Key(b, len(b))
	getUser.Get(ctx, key, load)
	getUser.Get(ctx, key, load)
	killed = true
	getUser.Get(ctx, key, load)
	fmt.Println("calls:", calls)
	// Output: calls: 2
}

// A Redis Cluster: several addresses. Keys spread over its masters; a
// tracked key and its watermark share a slot.
func ExampleRedisConfig_cluster() {
	cfg := gcache.Config{Redis: &gcache.RedisConfig{
		Addrs: []string{"redis-0:6379", "redis-1:6379", "redis-2:6379"},
	}}
	_ = cfg
}

// Redis Sentinel: the sentinels' addresses and the name of the master
// they watch.
func ExampleRedisConfig_sentinel() {
	cfg := gcache.Config{Redis: &gcache.RedisConfig{
		Addrs:      []string{"sentinel-0:26379", "sentinel-1:26379", "sentinel-2:26379"},
		MasterName: "cache",
		Password:   "the primary's password",
	}}
	fmt.Println(cfg.Redis) // the password is never printed
	// Output: redis addrs=[sentinel-0:26379 sentinel-1:26379 sentinel-2:26379] master="cache" user="" password=REDACTED db=0 tls=false
}

// A batch: each id is cached under its own key, and the function is called
// once, with the ids the cache does not hold.
func ExampleGetBatch() {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	getUsers, err := gcache.NewUseCase[*User](c, gcache.UseCaseSpec{
		Name:    "GetUsers",
		KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}},
	})
	if err != nil {
		panic(err)
	}
	load := func(ctx context.Context, ids []string) (map[string]*User, error) {
		fmt.Println("loading", ids)
		users := map[string]*User{}
		for _, id := range ids {
			users[id] = &User{ID: id, Name: "user " + id}
		}
		return users, nil
	}
	key := func(b []byte, id string) ([]byte, int, error) {
		b = gcache.AppendString(b, id)
		return b, len(b), nil
	}

	ctx := gcache.Enable(context.Background())
	gcache.GetBatch(ctx, getUsers, []string{"1", "2"}, key, load)
	users, err := gcache.GetBatch(ctx, getUsers, []string{"1", "2", "3", "4"}, key, load)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(users), users["4"].Name)
	// Output:
	// loading [1 2]
	// loading [3 4]
	// 4 user 4
}

var ErrNoUser = errors.New("no such user")

// Negative caching: the function's "not found" is cached for its own TTL
// and replayed as the sentinel, without calling the function.
func ExampleUseCaseSpec_negative() {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	getUser, err := gcache.NewUseCase[*User](c, gcache.UseCaseSpec{
		Name:     "GetUser",
		KeyType:  "user_id",
		Negative: ErrNoUser,
		Default: gcache.KeyConfig{
			Local:       gcache.LayerConfig{TTL: time.Minute, Ramp: 100},
			NegativeTTL: 10 * time.Second,
		},
	})
	if err != nil {
		panic(err)
	}
	load := func(ctx context.Context) (*User, error) {
		fmt.Println("loading")
		return nil, fmt.Errorf("user 404: %w", ErrNoUser)
	}

	ctx := gcache.Enable(context.Background())
	b := gcache.AppendString(nil, "404")
	for range 2 {
		_, err := getUser.Get(ctx, getUser.Key(b, len(b)), load)
		fmt.Println(err)
	}
	// Output:
	// loading
	// user 404: no such user
	// no such user
}
