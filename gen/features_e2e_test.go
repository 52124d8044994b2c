package gen_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/clocktest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/features"
	storesql "github.com/gcache-go/gcache/testdata/features/sql"
	"github.com/prometheus/client_golang/prometheus"
)

// featureStore is the source behind the features fixture: it records the
// ids each batch call asks for, and says ErrNotFound for the users in
// missing.
type featureStore struct {
	counter
	mu      sync.Mutex
	batches map[string][][]string // the ids of each batch call, by method
	missing map[string]bool
	during  func() // called inside GetUser, when set
}

func (s *featureStore) record(method string, ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batches == nil {
		s.batches = map[string][][]string{}
	}
	s.batches[method] = append(s.batches[method], slices.Clone(ids))
}

// calls returns the ids of each call of a batch method, each sorted.
func (s *featureStore) calls(method string) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]string
	for _, ids := range s.batches[method] {
		ids = slices.Clone(ids)
		sort.Strings(ids)
		out = append(out, ids)
	}
	return out
}

func (s *featureStore) GetUser(ctx context.Context, userID string) (*features.User, error) {
	n := s.add("GetUser")
	if s.during != nil {
		s.during()
	}
	if s.missing[userID] {
		return nil, features.ErrNotFound
	}
	return &features.User{ID: userID, Name: fmt.Sprint("v", n)}, nil
}

func (s *featureStore) GetUsers(ctx context.Context, ids []string, fields string) (map[string]*features.User, error) {
	s.record("GetUsers", ids)
	users := map[string]*features.User{}
	for _, id := range ids {
		users[id] = &features.User{ID: id, Name: fields + ":" + id}
	}
	return users, nil
}

func (s *featureStore) Balances(ctx context.Context, currency string, accounts []int64, trace string) (map[int64]features.Balance, error) {
	ids := make([]string, len(accounts))
	out := map[int64]features.Balance{}
	for i, a := range accounts {
		ids[i] = strconv.FormatInt(a, 10)
		out[a] = features.Balance{Currency: currency, Cents: a * 100}
	}
	s.record("Balances", ids)
	return out, nil
}

func (s *featureStore) Names(ctx context.Context, ids ...string) (map[string]string, error) {
	s.record("Names", ids)
	out := map[string]string{}
	for _, id := range ids {
		if id != "nobody" { // left out: not found, and not cached
			out[id] = "name of " + id
		}
	}
	return out, nil
}

func (s *featureStore) Profiles(ctx context.Context, ids features.UserIDs) (features.Users, error) {
	s.record("Profiles", ids)
	out := features.Users{}
	for _, id := range ids {
		out[id] = &features.User{ID: id}
	}
	return out, nil
}

func (s *featureStore) Row(ctx context.Context, id int64) ([]byte, error) {
	s.add("Row")
	switch {
	case id < 0:
		return nil, fmt.Errorf("row %d: %w", id, sql.ErrNoRows)
	case id == 0:
		return nil, errors.New("database down")
	}
	return []byte(strconv.FormatInt(id, 10)), nil
}

func (s *featureStore) Deleted(ctx context.Context, id int64) (*features.User, error) {
	s.add("Deleted")
	return nil, storesql.ErrDeleted
}

func newFeatureStore(t *testing.T, c *gcache.Cache, src *featureStore) *features.UserStoreCache {
	t.Helper()
	store, err := features.NewUserStoreCache(src, c)
	if err != nil {
		t.Fatal(err)
	}
	var _ features.UserStore = store
	return store
}

// TestBatchCachesEachID: a batch reads the ids it has cached and calls the
// source once for the others, and caches each id under the key a call of
// that id alone would have, which invalidation reaches.
func TestBatchCachesEachID(t *testing.T) {
	e := newEnv(t)
	src := &featureStore{}
	store := newFeatureStore(t, e.c, src)

	ids := make([]string, 100)
	var first, others []string
	for i := range ids {
		ids[i] = strconv.Itoa(i)
		if i%10 == 7 {
			first = append(first, ids[i])
		} else {
			others = append(others, ids[i])
		}
	}
	if got, err := store.GetUsers(on, first, "name"); err != nil || len(got) != len(first) {
		t.Fatalf("GetUsers of %d ids = %d users, %v", len(first), len(got), err)
	}
	got, err := store.GetUsers(on, ids, "name")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(others)
	if calls := src.calls("GetUsers"); len(calls) != 2 || !slices.Equal(calls[1], others) {
		t.Fatalf("source calls = %d, the second with %d ids; want it called once more with exactly the %d uncached ids", len(calls), len(calls[len(calls)-1]), len(others))
	}
	if len(got) != len(ids) {
		t.Errorf("GetUsers returned %d users, want %d", len(got), len(ids))
	}
	for _, id := range ids {
		if u := got[id]; u == nil || u.ID != id || u.Name != "name:"+id {
			t.Errorf("user %s = %+v", id, u)
		}
	}

	// Each id has its own key: a single call's form for the id, with the
	// batch's use case and arguments.
	var want []string
	for _, id := range ids {
		want = append(want, "{urn:user_id:"+id+"}?fields=name#GetUsers")
	}
	sort.Strings(want)
	if keys := e.keys(); !reflect.DeepEqual(keys, want) {
		t.Errorf("Redis keys = %q…, want %q…", keys[:min(3, len(keys))], want[:3])
	}
	if _, err := store.GetUser(on, "7"); err != nil {
		t.Fatal(err)
	}
	if keys := e.keys(); !slices.Contains(keys, "{urn:user_id:7}#GetUser") || !slices.Contains(keys, "{urn:user_id:7}?fields=name#GetUsers") {
		t.Errorf("the single and batch keys of user 7 are not of one form: %q", keys)
	}

	// All cached: no call; other arguments: other keys.
	store.GetUsers(on, ids, "name")
	if n := len(src.calls("GetUsers")); n != 2 {
		t.Errorf("a batch of cached ids called the source (%d calls)", n)
	}
	store.GetUsers(on, ids[:5], "email")
	if calls := src.calls("GetUsers"); len(calls) != 3 || len(calls[2]) != 5 {
		t.Errorf("a batch with other arguments did not call the source with its 5 ids: %q", calls)
	}

	// Invalidating one user reaches its batch entry.
	if err := e.c.Invalidate(on, "user_id", "42"); err != nil {
		t.Fatal(err)
	}
	store.GetUsers(on, ids, "name")
	if calls := src.calls("GetUsers"); len(calls) != 4 || !slices.Equal(calls[3], []string{"42"}) {
		t.Errorf("after invalidating user 42, calls = %d, last %q; want one call with 42 alone", len(calls), calls[len(calls)-1])
	}

	// Outside Enable, the source gets every id.
	store.GetUsers(context.Background(), ids[:3], "name")
	if calls := src.calls("GetUsers"); len(calls) != 5 || len(calls[4]) != 3 {
		t.Errorf("a disabled batch was served from the cache: %q", calls[len(calls)-1])
	}
}

// TestBatchShapes: ids that are not strings, with an argument and an
// ignored parameter; variadic ids; named slice and map types.
func TestBatchShapes(t *testing.T) {
	e := newEnv(t)
	src := &featureStore{}
	store := newFeatureStore(t, e.c, src)

	if _, err := store.Balances(on, "EUR", []int64{1, 2, 3}, "trace-a"); err != nil {
		t.Fatal(err)
	}
	got, err := store.Balances(on, "EUR", []int64{2, 3, 4, 4}, "trace-b")
	if err != nil {
		t.Fatal(err)
	}
	if want := (map[int64]features.Balance{2: {Currency: "EUR", Cents: 200}, 3: {Currency: "EUR", Cents: 300}, 4: {Currency: "EUR", Cents: 400}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Balances = %v, want %v", got, want)
	}
	store.Balances(on, "USD", []int64{1}, "")
	if calls := src.calls("Balances"); !reflect.DeepEqual(calls, [][]string{{"1", "2", "3"}, {"4"}, {"1"}}) {
		t.Errorf("Balances calls = %q; want the new id alone, and a currency of its own", calls)
	}
	var balanceKeys []string
	for _, k := range e.keys() {
		if strings.HasPrefix(k, "urn:account_id:") {
			balanceKeys = append(balanceKeys, k)
		}
	}
	want := []string{
		"urn:account_id:1?currency=EUR#features.UserStore.Balances",
		"urn:account_id:1?currency=USD#features.UserStore.Balances",
		"urn:account_id:2?currency=EUR#features.UserStore.Balances",
		"urn:account_id:3?currency=EUR#features.UserStore.Balances",
		"urn:account_id:4?currency=EUR#features.UserStore.Balances",
	}
	if !reflect.DeepEqual(balanceKeys, want) {
		t.Errorf("keys = %q, want %q", balanceKeys, want)
	}

	names, _ := store.Names(on, "a", "b", "nobody")
	if len(names) != 2 || names["a"] != "name of a" {
		t.Errorf("Names = %q", names)
	}
	store.Names(on, "b", "c", "nobody")
	if calls := src.calls("Names"); !reflect.DeepEqual(calls, [][]string{{"a", "b", "nobody"}, {"c", "nobody"}}) {
		t.Errorf("Names calls = %q; an id the source left out is not cached", calls)
	}

	store.Profiles(on, features.UserIDs{"p"})
	if p, _ := store.Profiles(on, features.UserIDs{"p"}); p["p"] == nil || len(src.calls("Profiles")) != 1 {
		t.Errorf("Profiles = %v after %d calls, want the cached p", p, len(src.calls("Profiles")))
	}
}

// TestNegativeCaching: a "not found" is cached for the negative TTL, in
// both tiers, served as the sentinel itself, and invalidated like any
// entry.
func TestNegativeCaching(t *testing.T) {
	e := newEnv(t)
	src := &featureStore{missing: map[string]bool{"ghost": true}}
	store := newFeatureStore(t, e.c, src)

	if _, err := store.GetUser(on, "ghost"); !errors.Is(err, features.ErrNotFound) {
		t.Fatalf("GetUser(ghost) = %v, want ErrNotFound", err)
	}
	u, err := store.GetUser(on, "ghost")
	if err != features.ErrNotFound || !errors.Is(err, features.ErrNotFound) || u != nil {
		t.Errorf("second GetUser(ghost) = %v, %v; want nil, ErrNotFound itself", u, err)
	}
	if n := src.get("GetUser"); n != 1 {
		t.Errorf("%d source calls; the cached not-found should have answered the second", n)
	}
	if got := metricSum(t, e.reg, "gcache_negative_hit_counter_total", "use_case", "GetUser"); got != 1 {
		t.Errorf("negative hits = %v, want 1", got)
	}

	// Another instance finds it in Redis.
	other, err := gcache.New(gcache.Config{
		Redis:      &gcache.RedisConfig{Addrs: []string{e.redis.Addr()}},
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	e.settle(e.c)
	e.settle(other)
	otherSrc := &featureStore{}
	if _, err := newFeatureStore(t, other, otherSrc).GetUser(on, "ghost"); err != features.ErrNotFound || otherSrc.get("GetUser") != 0 {
		t.Errorf("another instance got %v after %d source calls; want ErrNotFound from Redis", err, otherSrc.get("GetUser"))
	}

	// The use case is tracked: invalidating the user reaches its
	// not-found, and the next call asks the source.
	if err := e.c.Invalidate(on, "user_id", "ghost"); err != nil {
		t.Fatal(err)
	}
	delete(src.missing, "ghost")
	if u, err := store.GetUser(on, "ghost"); err != nil || u == nil || src.get("GetUser") != 2 {
		t.Errorf("after Invalidate, GetUser(ghost) = %v, %v after %d calls; want the source's user", u, err, src.get("GetUser"))
	}

	// A sentinel of another package, wrapped by the source: the first
	// call gets the source's error, the next the sentinel itself.
	if _, err := store.Row(on, -1); !errors.Is(err, sql.ErrNoRows) || err == sql.ErrNoRows {
		t.Errorf("Row(-1) = %v, want the source's wrapped sql.ErrNoRows", err)
	}
	if _, err := store.Row(on, -1); err != sql.ErrNoRows || src.get("Row") != 1 {
		t.Errorf("Row(-1) again = %v after %d calls; want sql.ErrNoRows from the cache", err, src.get("Row"))
	}
	// Other errors are not cached.
	store.Row(on, 0)
	if _, err := store.Row(on, 0); err == nil || src.get("Row") != 3 {
		t.Errorf("Row(0) = %v after %d calls; another error must not be cached", err, src.get("Row"))
	}
	store.Deleted(on, 1)
	if _, err := store.Deleted(on, 1); err != storesql.ErrDeleted || src.get("Deleted") != 1 {
		t.Errorf("Deleted = %v after %d calls, want the cached ErrDeleted", err, src.get("Deleted"))
	}
}

// TestRefreshAndLeaseDefaults: GetUser's default config takes a lease in
// Redis while it calls the source, and refreshes an entry in the
// background once it is past 80% of its TTL (the remote one, 5m, as the
// entry is in Redis too).
func TestRefreshAndLeaseDefaults(t *testing.T) {
	clock := clocktest.New()
	e := newEnv(t, gcache.Config{Clock: clock.Now})
	src := &featureStore{}
	store := newFeatureStore(t, e.c, src)

	var leased bool
	src.during = func() {
		n, err := e.redis.Client().Exists(context.Background(), "{urn:user_id:7}#GetUser#lease").Result()
		leased = leased || err == nil && n == 1
	}
	if u, err := store.GetUser(on, "7"); err != nil || u.Name != "v1" {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	if !leased {
		t.Errorf("no lease in Redis while the source was called: %q", e.keys())
	}
	src.during = nil

	// Before 72% (80% less up to a tenth of it) of the TTL: plain hits,
	// from the local tier, then from Redis once the local minute is over.
	for _, d := range []time.Duration{40 * time.Second, 2 * time.Minute} {
		clock.Advance(d)
		if u, _ := store.GetUser(on, "7"); u.Name != "v1" || src.get("GetUser") != 1 {
			t.Fatalf("before the refresh point: %+v after %d calls", u, src.get("GetUser"))
		}
	}
	// Past 80%: the hit gets the cached value, and a refresh runs.
	clock.Advance(100 * time.Second)
	if u, _ := store.GetUser(on, "7"); u.Name != "v1" {
		t.Errorf("past the refresh point, the hit got %+v; want the cached v1 at once", u)
	}
	deadline := time.Now().Add(5 * time.Second)
	for src.get("GetUser") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := src.get("GetUser"); n != 2 {
		t.Fatalf("%d source calls; want one background refresh", n)
	}
	for time.Now().Before(deadline) {
		if u, _ := store.GetUser(on, "7"); u.Name == "v2" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Error("the refreshed value is not served")
}
