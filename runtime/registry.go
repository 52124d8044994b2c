package gcache

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The use-case registry. Every Cache with Redis publishes the use cases
// registered on it, so that the gcache command can list them with their
// defaults and ramp one that runs on its default. Under the key prefix P:
//
//	{P:gcache}:usecases          hash: use case → {"key_type": "user_id", "tracked": true, "default": {...}}
//	{P:gcache}:usecases:expiry   sorted set: use case → when its field expires, in ms of Redis's clock
//
// "default" is a KeyConfig in the config JSON of the Python library. The
// two keys share a hash slot, so that one script writes them on a cluster.
// Each instance writes its use cases when they are registered and every
// registryTTL/3 after (every second while writes fail), and the script drops the fields that no instance
// wrote for registryTTL; both keys expire registryTTL after the last
// write, so the registry is gone a little after the last instance. When
// instances register one use case with different defaults (two versions
// during a deploy), the last writer's stands.
//
// The keys hold no raw '#', unlike entries, leases and watermarks, so Flush,
// Purge and the gcache command's keys never take them for entries.
const (
	registryTTL     = 30 * time.Second
	registryRetry   = time.Second // after a failed write
	registryTimeout = 5 * time.Second
)

func registryKeys(prefix string) (hash, expiry string) {
	hash = "{" + prefix + ":gcache}:usecases"
	return hash, hash + ":expiry"
}

// A UseCaseInfo describes a use case as the instances that register it
// publish it in Redis.
type UseCaseInfo struct {
	Name    string    `json:"-"`
	KeyType string    `json:"key_type"`
	Tracked bool      `json:"tracked"`
	Default KeyConfig `json:"default"`
}

// publishUseCases writes use cases and drops those no instance wrote for a
// TTL. KEYS: the hash, the expiry set. ARGV: the TTL in ms, then pairs of
// use case and description.
var publishUseCases = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
	redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
	redis.call('ZADD', KEYS[2], string.format('%d', now + ttl), ARGV[i])
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now))
for _, name in ipairs(gone) do redis.call('HDEL', KEYS[1], name) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return #gone`)

// readUseCases returns the use cases whose fields have not expired, as
// pairs of name and description. KEYS: the hash, the expiry set.
var readUseCases = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. string.format('%d', now), '+inf')) do
	local v = redis.call('HGET', KEYS[1], name)
	if v then
		out[#out + 1] = name
		out[#out + 1] = v
	end
end
return out`)

// registry holds the use cases registered on a Cache and, with Redis,
// publishes them in a goroutine that Close ends.
type registry struct {
	c     *Cache
	nudge chan struct{} // a use case was registered

	mu    sync.Mutex
	infos []UseCaseInfo
	args  []any // pairs of name and description, for publishUseCases
}

// newRegistry returns the registry of c; with Redis, its goroutine runs
// until Close.
func newRegistry(c *Cache) *registry {
	r := &registry{c: c, nudge: make(chan struct{}, 1)}
	if c.remote != nil {
		c.bg.Add(1)
		go r.run()
	}
	return r
}

// add records a use case registered on the Cache, and has it published.
func (r *registry) add(spec UseCaseSpec) {
	info := UseCaseInfo{Name: spec.Name, KeyType: spec.KeyType, Tracked: spec.Tracked, Default: spec.Default}
	data, _ := json.Marshal(info) // a validated KeyConfig always marshals
	r.mu.Lock()
	r.infos = append(r.infos, info)
	r.args = append(r.args, spec.Name, data)
	r.mu.Unlock()
	select {
	case r.nudge <- struct{}{}:
	default: // a publish is due already, and will take this one too
	}
}

func (r *registry) run() {
	defer r.c.bg.Done()
	tick := time.NewTicker(registryTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-r.c.stopping.Done():
			return
		case <-r.nudge:
		case <-tick.C:
		}
		if r.publish() {
			tick.Reset(registryTTL / 3)
		} else {
			tick.Reset(registryRetry)
		}
	}
}

// publish writes the use cases to Redis and reports whether it did. It
// goes around the breaker: its failures are logged, and never hold calls
// off Redis.
func (r *registry) publish() bool {
	r.mu.Lock()
	args := append([]any{registryTTL.Milliseconds()}, r.args...)
	r.mu.Unlock()
	if len(args) == 1 {
		return true
	}
	ctx, cancel := context.WithTimeout(r.c.stopping, registryTimeout)
	defer cancel()
	hash, expiry := registryKeys(r.c.cfg.KeyPrefix)
	err := publishUseCases.Run(ctx, r.c.remote.client, []string{hash, expiry}, args...).Err()
	if err != nil && r.c.stopping.Err() == nil {
		r.c.log.error("use-case registry not written; the gcache command may not list this instance's use cases", "error", err)
	}
	return err == nil
}

// RegisteredUseCases returns the use cases that the instances sharing this
// Cache's Redis and key prefix publish, with their key types and default
// configs, in the order of their names. An instance publishes its use
// cases as they are registered and every 10 seconds; a use case that no
// running instance registers drops out within 30 seconds. A description
// that does not parse is left out. Without Redis, it returns the use cases
// registered on this Cache.
func (c *Cache) RegisteredUseCases(ctx context.Context) ([]UseCaseInfo, error) {
	var infos []UseCaseInfo
	if c.remote == nil {
		c.registry.mu.Lock()
		infos = append(infos, c.registry.infos...)
		c.registry.mu.Unlock()
	} else {
		hash, expiry := registryKeys(c.cfg.KeyPrefix)
		pairs, err := readUseCases.Run(ctx, c.remote.client, []string{hash, expiry}).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("gcache: read the use-case registry: %w", err)
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			info := UseCaseInfo{Name: pairs[i]}
			if json.Unmarshal([]byte(pairs[i+1]), &info) == nil {
				infos = append(infos, info)
			}
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}
