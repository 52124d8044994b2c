package gcache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricExposition checks every metric family by name, type, label
// names, label values and buckets: the contract one dashboard relies on
// for services in Go and in Python.
func TestMetricExposition(t *testing.T) {
	h := withRedis(t, Config{MetricsPrefix: "api_"})
	uc := useCase[int64](t, h.c, UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: allLayers})
	var src source
	ctx := context.Background()
	uc.Get(ctx, keyOf(uc, "1"), src.fn)     // disabled
	uc.Get(enabled, keyOf(uc, "1"), src.fn) // miss, miss, function, write
	uc.Get(enabled, keyOf(uc, "1"), src.fn) // local hit
	src.err = errors.New("boom")
	uc.Get(enabled, keyOf(uc, "2"), src.fn) // the function's error
	if err := h.c.Invalidate(ctx, "user_id", "1"); err != nil {
		t.Fatal(err)
	}
	b := newHarness(t, Config{MetricsPrefix: "api_", Redis: &RedisConfig{Addrs: []string{h.redis.Addr()}}})
	ucB := useCase[int64](t, b.c, UseCaseSpec{Name: "GetUser", KeyType: "user_id", Tracked: true, Default: KeyConfig{Remote: allLayers.Remote}})
	src.err = nil
	ucB.Get(enabled, keyOf(ucB, "3"), src.fn)
	b.settle()
	ucB.Get(enabled, keyOf(ucB, "3"), src.fn) // remote hit: load
	h.settle()
	b.settle()

	type family struct {
		typ    dto.MetricType
		labels string
	}
	uc3 := "key_type,layer,use_case"
	want := map[string]family{
		"api_gcache_request_counter_total":      {dto.MetricType_COUNTER, uc3},
		"api_gcache_miss_counter_total":         {dto.MetricType_COUNTER, uc3},
		"api_gcache_disabled_counter_total":     {dto.MetricType_COUNTER, "key_type,layer,reason,use_case"},
		"api_gcache_error_counter_total":        {dto.MetricType_COUNTER, "error,in_fallback,key_type,layer,use_case"},
		"api_gcache_invalidation_counter_total": {dto.MetricType_COUNTER, "key_type,layer"},
		"api_gcache_get_timer":                  {dto.MetricType_HISTOGRAM, uc3},
		"api_gcache_fallback_timer":             {dto.MetricType_HISTOGRAM, uc3},
		"api_gcache_serialization_timer":        {dto.MetricType_HISTOGRAM, "key_type,layer,operation,use_case"},
		"api_gcache_size_histogram":             {dto.MetricType_HISTOGRAM, uc3},
	}
	timer := ".001 .005 .01 .025 .05 .075 .1 .25 .5 .75 1 2.5 5 7.5 10"
	size := "100 1000 10000 100000 1e+06 1e+07"
	for _, reg := range []*prometheus.Registry{h.reg, b.reg} {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range families {
			w, ok := want[f.GetName()]
			if !ok {
				t.Errorf("unexpected family %s", f.GetName())
				continue
			}
			got[f.GetName()] = true
			if f.GetType() != w.typ {
				t.Errorf("%s is a %v, want %v", f.GetName(), f.GetType(), w.typ)
			}
			for _, m := range f.GetMetric() {
				var names []string
				for _, l := range m.GetLabel() {
					names = append(names, l.GetName())
					checkLabelValue(t, f.GetName(), l.GetName(), l.GetValue())
				}
				if strings.Join(names, ",") != w.labels {
					t.Errorf("%s labels %v, want %s", f.GetName(), names, w.labels)
				}
				if hist := m.GetHistogram(); hist != nil {
					var bounds []string
					for _, b := range hist.GetBucket() {
						bounds = append(bounds, fmt.Sprint(b.GetUpperBound()))
					}
					wantBounds := strings.ReplaceAll(timer, " .", " 0.")
					wantBounds = strings.Replace(wantBounds, ".001", "0.001", 1)
					if f.GetName() == "api_gcache_size_histogram" {
						wantBounds = size
					}
					if strings.Join(bounds, " ") != wantBounds {
						t.Errorf("%s buckets %v, want %s", f.GetName(), bounds, wantBounds)
					}
				}
			}
		}
		if reg == h.reg && len(got) != len(want) {
			var missing []string
			for n := range want {
				if !got[n] {
					missing = append(missing, n)
				}
			}
			sort.Strings(missing)
			t.Errorf("missing families: %v", missing)
		}
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"api_gcache_disabled_counter_total", []string{"layer", "GLOBAL", "reason", "context", "use_case", "GetUser", "key_type", "user_id"}, 1},
		{"api_gcache_request_counter_total", []string{"layer", "LOCAL"}, 3},
		{"api_gcache_miss_counter_total", []string{"layer", "LOCAL"}, 2},
		{"api_gcache_request_counter_total", []string{"layer", "REMOTE"}, 2},
		{"api_gcache_miss_counter_total", []string{"layer", "REMOTE"}, 2},
		{"api_gcache_error_counter_total", []string{"layer", "GLOBAL", "error", "function", "in_fallback", "True"}, 1},
		{"api_gcache_invalidation_counter_total", []string{"key_type", "user_id", "layer", "LOCAL"}, 1},
		{"api_gcache_invalidation_counter_total", []string{"key_type", "user_id", "layer", "REMOTE"}, 1},
		{"api_gcache_serialization_timer", []string{"operation", "dump"}, 1},
		{"api_gcache_size_histogram", nil, 1},
		{"api_gcache_fallback_timer", []string{"layer", "LOCAL"}, 2},
		{"api_gcache_fallback_timer", []string{"layer", "REMOTE"}, 2},
		{"api_gcache_get_timer", []string{"layer", "REMOTE"}, 2},
	} {
		if got := h.metric(tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if got := b.metric("api_gcache_serialization_timer", "operation", "load"); got != 1 {
		t.Errorf("load timer = %v, want 1 (the remote hit)", got)
	}
}

func checkLabelValue(t *testing.T, family, label, value string) {
	t.Helper()
	allowed := map[string][]string{
		"layer":       {"LOCAL", "REMOTE", "GLOBAL"},
		"reason":      {"context", "missing_config", "ramped_down", "config_error", "server_down"},
		"in_fallback": {"True", "False"},
		"operation":   {"dump", "load"},
	}
	if vals, ok := allowed[label]; ok {
		for _, v := range vals {
			if v == value {
				return
			}
		}
		t.Errorf("%s: label %s=%q is not one of %v", family, label, value, vals)
	}
}

// TestTwoCachesShareOneRegistry checks that a second Cache on a registry
// reuses the first one's families instead of failing to register.
func TestTwoCachesShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newHarness(t, Config{Registerer: reg})
	b := newHarness(t, Config{Registerer: reg})
	ua := useCase[int64](t, a.c, UseCaseSpec{Name: "uc", Default: allLayers})
	ub := useCase[int64](t, b.c, UseCaseSpec{Name: "uc", Default: allLayers})
	var src source
	ua.Get(enabled, keyOf(ua, "1"), src.fn)
	ub.Get(enabled, keyOf(ub, "1"), src.fn)
	a.reg = reg
	if got := a.metric("gcache_request_counter_total"); got != 2 {
		t.Errorf("requests = %v, want both caches' 2", got)
	}
	// A foreign collector under a gcache name is an error from New.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "gcache_miss_counter_total"}))
	if _, err := New(Config{Registerer: clash}); err == nil {
		t.Error("New with a clashing registry succeeded")
	}
}

func TestStripedCounter(t *testing.T) {
	v := newStripedVec("x_total", "help", "a")
	c := v.WithLabelValues("1")
	done := make(chan struct{})
	for range 8 {
		go func() {
			for range 1000 {
				c.Inc()
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if got := c.value(); got != 8000 {
		t.Errorf("value = %d, want 8000", got)
	}
	if v.WithLabelValues("1") != c {
		t.Error("a label set resolved twice gives two counters")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(v)
	fams, _ := reg.Gather()
	if len(fams) != 1 || fams[0].GetMetric()[0].GetCounter().GetValue() != 8000 {
		t.Errorf("exposition = %v", fams)
	}
}

func TestLogIsRateLimited(t *testing.T) {
	var rec logRecorder
	now := time.Unix(0, 0)
	l := newLimitedLog(slogNew(&rec), func() time.Time { return now })
	for range 100 {
		l.error("Redis down")
	}
	l.error("other")
	now = now.Add(logEvery)
	l.error("Redis down")
	if got := rec.text(); got != "gcache: Redis down\ngcache: other\ngcache: Redis down suppressed=99" {
		t.Errorf("logged:\n%s", got)
	}
}
