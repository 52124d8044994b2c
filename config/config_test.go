package config

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

func cfg(localTTL, remoteTTL time.Duration, localRamp, remoteRamp int) gcache.KeyConfig {
	return gcache.KeyConfig{Local: gcache.LayerConfig{TTL: localTTL, Ramp: localRamp}, Remote: gcache.LayerConfig{TTL: remoteTTL, Ramp: remoteRamp}}
}

func TestKeyConfigJSONIsPythons(t *testing.T) {
	c := cfg(time.Minute, 5*time.Minute, 100, 50)
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"ttl_sec":{"local":60,"remote":300},"ramp":{"local":100,"remote":50}}` {
		t.Errorf("Marshal = %s", data)
	}
	for _, in := range []string{
		`{"ttl_sec": {"local": 60, "remote": 300}, "ramp": {"local": 100, "remote": 50}}`,
		`{"ttl_sec": {"LOCAL": 60, "Remote": 300}, "ramp": {"Local": 100, "REMOTE": 50}}`,
		`{"ttl_sec": {"local": 60, "remote": 300, "noop": 60}, "ramp": {"local": 100, "remote": 50, "noop": 100}, "use_case": "ignored"}`,
	} {
		var got gcache.KeyConfig
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != c {
			t.Errorf("Unmarshal(%s) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{
		`{}`, `[]`, `{"ttl_sec": {"local": "60"}}`, `{"ttl_sec": {"disk": 1}}`,
		`{"ttl_sec": {"local": -1}, "ramp": {}}`, `{"ramp": {"local": 101}}`, `{"ramp": {"local": 5.5}}`, `{"ttl_sec": {"local": 1e300}}`,
	} {
		var got gcache.KeyConfig
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", bad, got)
		}
	}
}

// TestKeyConfigJSONFeatures: the fields Python lacks are written only when
// set, round-trip to the nanosecond, and are validated.
func TestKeyConfigJSONFeatures(t *testing.T) {
	c := cfg(time.Minute, 5*time.Minute, 100, 50)
	c.RefreshAt, c.NegativeTTL, c.Lease = 0.8, 1500*time.Millisecond, 1001*time.Millisecond
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ttl_sec":{"local":60,"remote":300},"ramp":{"local":100,"remote":50},"refresh_at":0.8,"negative_ttl_sec":1.5,"lease_sec":1.001}`
	if string(data) != want {
		t.Errorf("Marshal = %s\nwant      %s", data, want)
	}
	var got gcache.KeyConfig
	if err := json.Unmarshal(data, &got); err != nil || got != c {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, c)
	}
	for ms := 1; ms < 5000; ms++ {
		c.Lease = time.Duration(ms) * time.Millisecond
		data, _ := json.Marshal(c)
		if err := json.Unmarshal(data, &got); err != nil || got.Lease != c.Lease {
			t.Fatalf("a lease of %v reads back as %v (%s)", c.Lease, got.Lease, data)
		}
	}
	for _, bad := range []string{
		`{"ramp": {"local": 100}, "refresh_at": 1}`, `{"ramp": {"local": 100}, "refresh_at": -0.5}`,
		`{"ramp": {"local": 100}, "negative_ttl_sec": -1}`, `{"ramp": {"local": 100}, "lease_sec": -1}`,
		`{"ramp": {"local": 100}, "lease_sec": 1e300}`,
	} {
		var got gcache.KeyConfig
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", bad, got)
		}
	}
}

// TestSetRoundTrip mirrors the Python library's
// test_config_serialization_deserialization: flat and nested entries
// round-trip, and the old format, where configs are JSON strings, reads
// the same.
func TestSetRoundTrip(t *testing.T) {
	want := Set{
		Configs: map[string]gcache.KeyConfig{"GetUser": cfg(time.Minute, 5*time.Minute, 100, 100), "Search": cfg(10*time.Second, 0, 50, 0)},
		Groups:  map[string]map[string]gcache.KeyConfig{"staging": {"GetUser": cfg(5*time.Second, 5*time.Second, 100, 100)}},
	}
	data, err := want.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\n  \"GetUser\": {\n    \"ttl_sec\": {\n      \"local\": 60,") {
		t.Errorf("Dump is not indented by two, in order:\n%s", data)
	}
	got, err := Load(data)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Load(Dump) = %+v, %v\nwant %+v", got, err, want)
	}
	old := `{
	  "GetUser": "{\"ttl_sec\": {\"local\": 60, \"remote\": 300}, \"ramp\": {\"local\": 100, \"remote\": 100}}",
	  "Search": "{\"ttl_sec\": {\"local\": 10, \"remote\": 0}, \"ramp\": {\"local\": 50, \"remote\": 0}}",
	  "staging": {"GetUser": "{\"ttl_sec\": {\"local\": 5, \"remote\": 5}, \"ramp\": {\"local\": 100, \"remote\": 100}}"}
	}`
	got, err = Load([]byte(old))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("the old format = %+v, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"a": 1}`, `{"a": {"ttl_sec": {"local": -5}}}`, `{"g": {"a": {"ramp": {"x": 1}}}}`} {
		if _, err := Load([]byte(bad)); err == nil {
			t.Errorf("Load(%s) succeeded", bad)
		}
	}
}

func ask(t *testing.T, p gcache.ConfigProvider, useCase string) *gcache.KeyConfig {
	t.Helper()
	got, err := p(context.Background(), &gcache.Key{UseCase: useCase})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestStaticAndChain(t *testing.T) {
	a := cfg(time.Minute, 0, 100, 0)
	b := cfg(time.Hour, time.Hour, 10, 10)
	first := Static(map[string]gcache.KeyConfig{"GetUser": a})
	second := Static(map[string]gcache.KeyConfig{"GetUser": b, "Search": b})
	if got := ask(t, first, "GetUser"); got == nil || *got != a {
		t.Errorf("Static = %+v", got)
	}
	if got := ask(t, first, "Other"); got != nil {
		t.Errorf("Static of an unknown use case = %+v, want nil", got)
	}
	chain := Chain(first, second)
	if got := ask(t, chain, "GetUser"); *got != a {
		t.Errorf("the chain's first answer = %+v, want the first provider's", got)
	}
	if got := ask(t, chain, "Search"); *got != b {
		t.Errorf("the chain fell through to %+v, want the second provider's", got)
	}
	if got := ask(t, chain, "Other"); got != nil {
		t.Errorf("no provider answers, got %+v", got)
	}
	broken := errors.New("broken")
	failing := Chain(func(context.Context, *gcache.Key) (*gcache.KeyConfig, error) { return nil, broken }, second)
	if _, err := failing(context.Background(), &gcache.Key{UseCase: "Search"}); !errors.Is(err, broken) {
		t.Errorf("an error did not stop the chain: %v", err)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, source string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			if hasLabel(m, "source", source) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFileReloadsAndKeepsTheLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gcache.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"GetUser": {"ttl_sec": {"local": 60}, "ramp": {"local": 100}}}`)
	reg := prometheus.NewRegistry()
	opts := FileOptions{Options: quiet, Poll: 10 * time.Millisecond}
	opts.Registerer = reg
	f, err := NewFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := f.Provider()
	if got := ask(t, p, "GetUser"); got == nil || got.Local.TTL != time.Minute {
		t.Fatalf("initial = %+v", got)
	}
	write(`{"GetUser": {"ttl_sec": {"local": 60}, "ramp": {"local": 0}}}`)
	eventually(t, "the change is read", func() bool { got := ask(t, p, "GetUser"); return got != nil && got.Local.Ramp == 0 })

	write(`{"GetUser": {"ttl_sec": {"local": 60}, "ramp": {"local": 500}}}`) // bad: kept out
	eventually(t, "the bad file is counted", func() bool { return counterValue(t, reg, "file") == 1 })
	if got := ask(t, p, "GetUser"); got == nil || got.Local.Ramp != 0 {
		t.Errorf("after a bad file: %+v, want the last good config", got)
	}
	os.Remove(path)
	eventually(t, "the missing file is counted", func() bool { return counterValue(t, reg, "file") == 2 })
	// Reported once until it changes, not at every poll: 50 polls go by.
	time.Sleep(50 * opts.Poll)
	if got := counterValue(t, reg, "file"); got != 2 {
		t.Errorf("a missing file was counted %v times in all, want once (2 with the bad file)", got)
	}
	write(`{"Search": {"ttl_sec": {"remote": 1}, "ramp": {"remote": 100}}}`)
	eventually(t, "the file is followed again", func() bool { return ask(t, p, "Search") != nil && ask(t, p, "GetUser") == nil })

	if _, err := NewFile(filepath.Join(t.TempDir(), "missing.json"), FileOptions{Options: quiet}); err == nil {
		t.Error("NewFile of a missing file succeeded")
	}
	write(`{`)
	if _, err := NewFile(path, FileOptions{Options: quiet}); err == nil {
		t.Error("NewFile of a bad file succeeded")
	}
}

// TestRedisHashReachesEveryInstance: a change written by one instance (or
// by the gcache command) is seen by two others, and a field that does not
// parse is kept out.
func TestRedisHashReachesEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	opts := RedisOptions{Options: quiet, Prefix: "urn:app", Poll: time.Hour} // only announcements: no polls
	opts.Registerer = reg
	var instances []*Redis
	for range 3 {
		r, err := NewRedis(context.Background(), srv.Client(), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		instances = append(instances, r)
	}
	killed := cfg(time.Minute, time.Minute, 0, 0)
	if err := instances[0].Set(context.Background(), "GetUser", killed); err != nil {
		t.Fatal(err)
	}
	for i, r := range instances[1:] {
		eventually(t, "instance "+string(rune('B'+i))+" sees the kill switch", func() bool {
			got := ask(t, r.Provider(), "GetUser")
			return got != nil && *got == killed
		})
	}
	if got, ok, err := instances[2].Get(context.Background(), "GetUser"); err != nil || !ok || got != killed {
		t.Errorf("Get = %+v, %v, %v", got, ok, err)
	}
	if raw := srv.Client().HGet(context.Background(), "urn:app:gcache:config", "GetUser").Val(); raw != `{"ttl_sec":{"local":60,"remote":60},"ramp":{"local":0,"remote":0}}` {
		t.Errorf("the hash holds %s", raw)
	}

	// A bad field written by hand keeps its last good config.
	srv.Client().HSet(context.Background(), "urn:app:gcache:config", "GetUser", `{"ramp": {"local": "none"}}`)
	srv.Client().Publish(context.Background(), "urn:app:gcache:config", "GetUser")
	eventually(t, "the bad field is counted", func() bool { return counterValue(t, reg, "redis") >= 1 })
	if got := ask(t, instances[1].Provider(), "GetUser"); got == nil || *got != killed {
		t.Errorf("after a bad field: %+v, want the last good config", got)
	}

	if err := instances[0].Delete(context.Background(), "GetUser"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deletion is seen", func() bool { return ask(t, instances[1].Provider(), "GetUser") == nil })
}

// TestRedisPollsWithoutAnnouncements: a change written without announcing
// it (HSET by hand) is seen at the next poll.
func TestRedisPollsWithoutAnnouncements(t *testing.T) {
	srv := redistest.Start(t)
	r, err := NewRedis(context.Background(), srv.Client(), RedisOptions{Options: quiet, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv.Client().HSet(context.Background(), "urn:gcache:config", "Search", `{"ttl_sec": {"local": 5}, "ramp": {"local": 100}}`)
	eventually(t, "the poll reads the hash", func() bool { return ask(t, r.Provider(), "Search") != nil })
}

// TestProviderConfiguresACache wires the Redis provider into a Cache: the
// kill switch turns caching off for the use case on the next call.
func TestProviderConfiguresACache(t *testing.T) {
	srv := redistest.Start(t)
	rp, err := NewRedis(context.Background(), srv.Client(), RedisOptions{Options: quiet, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	c, err := gcache.New(gcache.Config{ConfigProvider: rp.Provider(), Registerer: prometheus.NewRegistry(), Logger: quiet.Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uc, err := gcache.NewUseCase[int](c, gcache.UseCaseSpec{Name: "GetUser", KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Hour, Ramp: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	get := func() {
		b := gcache.AppendString(nil, "1")
		uc.Get(gcache.Enable(context.Background()), uc.Key(b, len(b)), func(context.Context) (int, error) { calls++; return calls, nil })
	}
	get()
	get()
	if calls != 1 {
		t.Fatalf("calls = %d before the kill switch", calls)
	}
	if err := rp.Set(context.Background(), "GetUser", gcache.KeyConfig{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the kill switch takes effect", func() bool { n := calls; get(); return calls > n })
}

func TestRedisCloseWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	srv.Kill()
	r, err := NewRedis(context.Background(), client, RedisOptions{Options: quiet, Poll: time.Hour})
	if err != nil {
		t.Fatalf("NewRedis with Redis down: %v, want the provider to start empty", err)
	}
	if got := ask(t, r.Provider(), "GetUser"); got != nil {
		t.Errorf("got %+v from an unreadable hash", got)
	}
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung with Redis down")
	}
}

// TestReloadErrorsTakeTheMetricsPrefix: with Options.MetricsPrefix set like
// the Cache's Config.MetricsPrefix, every family on the registry, the
// providers' reload errors included, carries the prefix.
func TestReloadErrorsTakeTheMetricsPrefix(t *testing.T) {
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	opts := Options{Logger: quiet.Logger, Registerer: reg, MetricsPrefix: "shop_"}
	path := filepath.Join(t.TempDir(), "gcache.json")
	if err := os.WriteFile(path, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(path, FileOptions{Options: opts, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewRedis(context.Background(), srv.Client(), RedisOptions{Options: opts, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := gcache.New(gcache.Config{ConfigProvider: Chain(f.Provider(), r.Provider()), Registerer: reg, MetricsPrefix: "shop_", Logger: quiet.Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uc, err := gcache.NewUseCase[string](c, gcache.UseCaseSpec{Name: "GetUser", KeyType: "user_id"})
	if err != nil {
		t.Fatal(err)
	}
	uc.Enabled(context.Background()) // counts a disabled call: a family of the Cache's

	if err := os.WriteFile(path, []byte(`{"GetUser": {"ramp": {"local": 500}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Client().HSet(context.Background(), "urn:gcache:config", "GetUser", `not json`)
	eventually(t, "both reload errors are counted", func() bool {
		return counterValue(t, reg, "file") >= 1 && counterValue(t, reg, "redis") >= 1
	})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fam := range fams {
		names = append(names, fam.GetName())
		if !strings.HasPrefix(fam.GetName(), "shop_gcache_") {
			t.Errorf("family %s has no prefix", fam.GetName())
		}
	}
	if !slices.Contains(names, "shop_gcache_config_reload_error_counter_total") || !slices.Contains(names, "shop_gcache_disabled_counter_total") {
		t.Errorf("families %q", names)
	}
}
