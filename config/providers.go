package config

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// table is a map of use cases to configs that a provider answers from;
// it is replaced whole, never changed, so reads take no lock.
type table struct {
	p atomic.Pointer[map[string]*gcache.KeyConfig]
}

func (t *table) store(configs map[string]gcache.KeyConfig) {
	m := make(map[string]*gcache.KeyConfig, len(configs))
	for name, cfg := range configs {
		m[name] = &cfg
	}
	t.p.Store(&m)
}

// lookup returns the config of a use case, or nil. The config returned is
// shared: callers must not change it.
func (t *table) lookup(useCase string) *gcache.KeyConfig {
	if m := t.p.Load(); m != nil {
		return (*m)[useCase]
	}
	return nil
}

func (t *table) provide(_ context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
	return t.lookup(key.UseCase), nil
}

// Static returns a provider that answers from configs by use case, and
// leaves the other use cases to their defaults.
func Static(configs map[string]gcache.KeyConfig) gcache.ConfigProvider {
	t := &table{}
	t.store(configs)
	return t.provide
}

// Chain returns a provider that asks providers in order and answers with
// the first answer that is not nil. An error ends the chain: the call is
// then not cached (config_error), rather than configured by a provider
// further down that was meant to be overridden.
func Chain(providers ...gcache.ConfigProvider) gcache.ConfigProvider {
	return func(ctx context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
		for _, p := range providers {
			cfg, err := p(ctx, key)
			if err != nil || cfg != nil {
				return cfg, err
			}
		}
		return nil, nil
	}
}

// Options are what the providers that reload share.
type Options struct {
	// Logger receives reload failures; default slog.Default().
	Logger *slog.Logger
	// Registerer receives gcache_config_reload_error_counter_total{source};
	// default prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// MetricsPrefix is prepended to the metric's name, as in gcache.Config.
	MetricsPrefix string
}

var errClosed = errors.New("config: the provider is closed")

// reloadErrors returns the counter of reload failures for source.
func (o Options) reloadErrors(source string) (prometheus.Counter, error) {
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: o.MetricsPrefix + "gcache_config_reload_error_counter_total",
		Help: "Config reloads that failed and kept the last good config, by source.",
	}, []string{"source"})
	if err := reg.Register(vec); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if !errors.As(err, &dup) {
			return nil, err
		}
		existing, ok := dup.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, err
		}
		vec = existing
	}
	return vec.WithLabelValues(source), nil
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// background runs one goroutine of a provider until stop.
type background struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newBackground() *background {
	return &background{stop: make(chan struct{}), done: make(chan struct{})}
}

// halt stops the goroutine and waits for it.
func (b *background) halt() {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.done
}
