package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis provider.
type RedisOptions struct {
	Options
	// Prefix is the key prefix of the caches it configures; default "urn".
	Prefix string
	// Poll is how often the hash is read again, in case a change was not
	// announced; default 1s.
	Poll time.Duration
}

// A Redis provider follows a hash of configs in Redis, one field per use
// case, at <prefix>:gcache:config:
//
//	HSET urn:gcache:config GetUser '{"ttl_sec": {"local": 60, "remote": 300}, "ramp": {"local": 0, "remote": 0}}'
//
// Every instance reads the hash again when a change is announced on the
// channel of the same name (Set and Delete announce theirs; so does the
// gcache command), and every Poll in any case, so a change reaches the
// whole fleet within a second: a kill switch. A field that does not parse
// is logged and counted (gcache_config_reload_error_counter_total{source=
// "redis"}) and its last good config stays in force; while Redis cannot be
// read, all of them do.
type Redis struct {
	table
	Hash
	poll   time.Duration
	opts   Options
	errors prometheus.Counter
	bg     *background
	good   map[string]gcache.KeyConfig // the last good config of each field
	bad    map[string]string           // the bad fields last reported
	down   bool                        // the last read failed (reported once)
}

// NewRedis returns a provider that follows the config hash through client
// until Close. It reads the hash once before returning; a Redis that
// cannot be read then is logged, not an error: the provider answers
// nothing until Redis answers.
func NewRedis(ctx context.Context, client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if opts.Poll < 0 {
		return nil, fmt.Errorf("config: RedisOptions.Poll %v is negative", opts.Poll)
	}
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Prefix == "" {
		opts.Prefix = gcache.DefaultKeyPrefix
	}
	counter, err := opts.reloadErrors("redis")
	if err != nil {
		return nil, err
	}
	r := &Redis{
		Hash: Hash{Client: client, Prefix: opts.Prefix}, poll: opts.Poll, opts: opts.Options,
		errors: counter, bg: newBackground(), good: map[string]gcache.KeyConfig{}, bad: map[string]string{},
	}
	r.store(nil)
	r.reload(ctx)
	go r.follow()
	return r, nil
}

// HashKey returns the key of the config hash of the caches under prefix,
// which is also the channel that announces its changes.
func HashKey(prefix string) string { return prefix + ":gcache:config" }

// A Hash reads and writes the config hash of the caches under Prefix,
// announcing each change. It is what the Redis provider and the gcache
// command write through.
type Hash struct {
	Client redis.UniversalClient
	Prefix string
}

func (h Hash) key() string { return HashKey(h.Prefix) }

// Provider returns the provider that answers from the hash.
func (r *Redis) Provider() gcache.ConfigProvider { return r.provide }

// Close stops following the hash. The provider keeps its last configs.
func (r *Redis) Close() error {
	r.bg.halt()
	return nil
}

// Set writes the config of a use case and announces it.
func (h Hash) Set(ctx context.Context, useCase string, cfg gcache.KeyConfig) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := h.Client.HSet(ctx, h.key(), useCase, data).Err(); err != nil {
		return fmt.Errorf("config: set %s: %w", useCase, err)
	}
	return h.announce(ctx, useCase)
}

// Delete removes the config of a use case, which then falls back to its
// default, and announces it.
func (h Hash) Delete(ctx context.Context, useCase string) error {
	if err := h.Client.HDel(ctx, h.key(), useCase).Err(); err != nil {
		return fmt.Errorf("config: delete %s: %w", useCase, err)
	}
	return h.announce(ctx, useCase)
}

// Get reads the config of a use case; ok is false when it has none.
func (h Hash) Get(ctx context.Context, useCase string) (cfg gcache.KeyConfig, ok bool, err error) {
	data, err := h.Client.HGet(ctx, h.key(), useCase).Bytes()
	if errors.Is(err, redis.Nil) {
		return cfg, false, nil
	}
	if err != nil {
		return cfg, false, fmt.Errorf("config: get %s: %w", useCase, err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, false, fmt.Errorf("config: %s: %w", useCase, err)
	}
	return cfg, true, nil
}

// All reads every field of the hash, as stored.
func (h Hash) All(ctx context.Context) (map[string]string, error) {
	fields, err := h.Client.HGetAll(ctx, h.key()).Result()
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", h.key(), err)
	}
	return fields, nil
}

func (h Hash) announce(ctx context.Context, useCase string) error {
	if err := h.Client.Publish(ctx, h.key(), useCase).Err(); err != nil {
		return fmt.Errorf("config: announce %s: %w (instances will see it at their next poll)", useCase, err)
	}
	return nil
}

func (r *Redis) follow() {
	defer close(r.bg.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.bg.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ps := r.Client.Subscribe(ctx, r.key())
	defer ps.Close()
	// Changes announced between the first read and the subscription are
	// read once it is confirmed.
	sctx, scancel := context.WithTimeout(ctx, min(r.poll, 5*time.Second))
	if _, err := ps.Receive(sctx); err == nil {
		r.reload(sctx)
	}
	scancel()
	changes := ps.Channel()
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for {
		select {
		case <-r.bg.stop:
			return
		case <-tick.C:
		case <-changes:
		}
		rctx, rcancel := context.WithTimeout(ctx, r.poll)
		r.reload(rctx)
		rcancel()
	}
}

// reload reads the hash and takes its good fields.
func (r *Redis) reload(ctx context.Context) {
	fields, err := r.All(ctx)
	if err != nil {
		if !r.down {
			r.down = true
			r.fail("config hash not read; the last good configs stay in force", "error", err)
		}
		return
	}
	r.down = false
	next := make(map[string]gcache.KeyConfig, len(fields))
	for name, value := range fields {
		var cfg gcache.KeyConfig
		if err := json.Unmarshal([]byte(value), &cfg); err != nil {
			if r.bad[name] != value {
				r.bad[name] = value
				r.fail("config hash field not read; its last good config stays in force", "use_case", name, "error", err)
			}
			if last, ok := r.good[name]; ok {
				next[name] = last
			}
			continue
		}
		delete(r.bad, name)
		next[name] = cfg
	}
	r.good = next
	r.store(next)
}

func (r *Redis) fail(msg string, args ...any) {
	r.errors.Inc()
	r.opts.logger().Error("gcache: "+msg, args...)
}
