package gen_test

import (
	"context"
	"testing"

	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/basic"
	"github.com/prometheus/client_golang/prometheus"
)

// The local hit of a generated decorator against the same call made
// through the runtime by hand: with a Key (the documented hand-written
// way) and with the rendered form the decorator uses.

type fixedStore struct{ u *basic.User }

func (s fixedStore) GetUser(ctx context.Context, userID string) (*basic.User, error) { return s.u, nil }
func (s fixedStore) SearchUserPosts(context.Context, string, int, basic.Filter, string) ([]basic.Post, error) {
	return nil, nil
}
func (s fixedStore) UpdateUser(context.Context, string, basic.User) error { return nil }
func (s fixedStore) Ping(context.Context) error                           { return nil }

func benchCache(b *testing.B) *gcache.Cache {
	c, err := gcache.New(gcache.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

var sink *basic.User

func BenchmarkLocalHitGenerated(b *testing.B) {
	store, err := basic.NewUserStoreCache(fixedStore{&basic.User{ID: "123"}}, benchCache(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := gcache.Enable(context.Background())
	store.GetUser(ctx, "123")
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = store.GetUser(ctx, "123")
	}
}

func handUseCase(b *testing.B) (*gcache.UseCase[*basic.User], basic.UserStore) {
	uc, err := gcache.NewUseCase[*basic.User](benchCache(b), gcache.UseCaseSpec{
		Name: "GetUser", KeyType: "user_id", Tracked: true,
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: 60e9, Ramp: 100}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return uc, fixedStore{&basic.User{ID: "123"}}
}

func BenchmarkLocalHitByHandKey(b *testing.B) {
	uc, next := handUseCase(b)
	ctx := gcache.Enable(context.Background())
	get := func(id string) (*basic.User, error) {
		buf := gcache.AppendString(make([]byte, 0, 64), id)
		return uc.Get(ctx, uc.Key(buf, len(buf)), func(ctx context.Context) (*basic.User, error) {
			return next.GetUser(ctx, id)
		})
	}
	get("123")
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = get("123")
	}
}

func BenchmarkLocalHitByHandRendered(b *testing.B) {
	uc, next := handUseCase(b)
	ctx := gcache.Enable(context.Background())
	get := func(id string) (*basic.User, error) {
		if !uc.Enabled(ctx) {
			return next.GetUser(ctx, id)
		}
		buf := gcache.AppendString(make([]byte, 0, 64), id)
		return uc.GetRendered(ctx, buf, len(buf), func() func(context.Context) (*basic.User, error) {
			return func(ctx context.Context) (*basic.User, error) { return next.GetUser(ctx, id) }
		})
	}
	get("123")
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = get("123")
	}
}
