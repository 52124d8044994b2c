package gcache

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-redis logs dial failures itself; the fault tests cause plenty.
	redis.SetLogger(silentRedisLog{})
	goleak.VerifyTestMain(m)
}

type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}

// harness is one Cache under test with its own registry.
type harness struct {
	t     *testing.T
	c     *Cache
	reg   *prometheus.Registry
	redis *redistest.Server // nil for local-only caches
}

// quiet discards the logs of caches under test.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newHarness creates a Cache with cfg. Unless cfg says otherwise it gets a
// fresh registry and a silent logger.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, reg: prometheus.NewRegistry()}
	if cfg.Registerer == nil {
		cfg.Registerer = h.reg
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	h.c = c
	return h
}

// withRedis starts a private redis-server and a Cache on it.
func withRedis(t *testing.T, cfg Config) *harness {
	t.Helper()
	srv := redistest.Start(t)
	cfg.Redis = &RedisConfig{Addrs: []string{srv.Addr()}}
	h := newHarness(t, cfg)
	h.redis = srv
	h.waitLive()
	return h
}

// waitLive waits until the Cache's event subscription is up and current,
// so that tests of tracked keys start from the steady state.
func (h *harness) waitLive() {
	h.t.Helper()
	eventually(h.t, "the event subscription is live", h.c.live)
}

// live reports whether the Cache knows the fleet clock and hears every
// invalidation.
func (c *Cache) live() bool {
	_, _, synced := c.clk.fleet()
	return synced && c.clk.local()-c.wm.asOf.Load() <= int64(eventLag)
}

// pastClockError sleeps until a call that starts now reads as begun after
// an invalidation made just before: past twice the fleet clock's error,
// and past the millisecond Redis keeps.
func (h *harness) pastClockError() {
	_, err, _ := h.c.clk.fleet()
	time.Sleep(time.Duration(2*err) + 2*time.Millisecond)
}

// caughtUp waits until the Cache has heard every event published before
// it was called.
func (h *harness) caughtUp() {
	h.t.Helper()
	now := h.c.clk.local()
	eventually(h.t, "the events are heard", func() bool { return h.c.wm.asOf.Load() >= now })
}

// settle waits until the Cache's writes to Redis have run.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.c.Settle(ctx); err != nil {
		h.t.Fatalf("Settle: %v", err)
	}
}

// eventually polls cond for up to 10s, a generous deadline for events that
// cross a Redis connection: the tests check outcomes, not timings.
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

var allLayers = KeyConfig{Local: LayerConfig{TTL: time.Minute, Ramp: 100}, Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}

// source is a cached function that counts its calls.
type source struct {
	calls atomic.Int64
	value atomic.Int64
	err   error
}

func (s *source) fn(ctx context.Context) (int64, error) {
	s.calls.Add(1)
	return s.value.Load(), s.err
}

func useCase[T any](t testing.TB, c *Cache, spec UseCaseSpec) *UseCase[T] {
	t.Helper()
	if spec.KeyType == "" {
		spec.KeyType = "T"
	}
	uc, err := NewUseCase[T](c, spec)
	if err != nil {
		t.Fatalf("NewUseCase: %v", err)
	}
	return uc
}

// keyOf returns the key of id with no arguments.
func keyOf[T any](uc *UseCase[T], id string) Key {
	b := AppendString(nil, id)
	return uc.Key(b, len(b))
}

var enabled = Enable(context.Background())

// metric returns the value of the sample of name whose labels include
// labels (alternating names and values): a counter's value, or a
// histogram's sample count. A missing sample is 0.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Histogram != nil:
				total += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return total
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// redisKeys returns the keys in the test's Redis but the use-case
// registry's, sorted, once the Cache's background writes have landed.
func (h *harness) redisKeys() []string {
	h.t.Helper()
	h.settle()
	all, err := h.redis.Client().Keys(context.Background(), "*").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	keys := all[:0]
	for _, k := range all {
		if !strings.Contains(k, ":gcache}:usecases") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// logRecorder is a slog handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	l.msgs = append(l.msgs, msg)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.msgs, "\n")
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }
