package gcache

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of the Config fields left at zero.
const (
	DefaultLocalMaxEntries  = 10_000
	DefaultRedisTimeout     = 200 * time.Millisecond
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = time.Second
	DefaultWatermarkTTL     = 4 * time.Hour
	DefaultMaxValueSize     = 8 << 20
	DefaultOutageStaleness  = time.Second
	DefaultCloseTimeout     = 2 * time.Second
)

// Config configures a [Cache]. Its zero value is a working local-only cache;
// [New] fills in the defaults and never modifies the Config it is given.
type Config struct {
	// KeyPrefix starts every key; default "urn". Letters, digits and
	// "_.-", in parts separated by single colons ("urn:myapp").
	KeyPrefix string

	// ConfigProvider decides per call how keys are cached; nil leaves every
	// call to its use case's default config.
	ConfigProvider ConfigProvider

	// Redis configures the remote tier. Leave it and RedisClient nil for a
	// local-only cache; setting both is an error.
	Redis *RedisConfig
	// RedisClient is a client of your own for the remote tier: a
	// *redis.Client, a Sentinel failover client or a *redis.ClusterClient.
	// A *redis.Ring is refused: its shards have no pub/sub of their own to
	// carry the invalidations and heartbeats, and no way to tell that one
	// restarted. Close does not close it.
	RedisClient redis.UniversalClient

	// Registerer receives the metrics; default prometheus.DefaultRegisterer.
	// Caches sharing a Registerer and MetricsPrefix share their metrics.
	Registerer prometheus.Registerer
	// MetricsPrefix is prepended to every metric name ("myapp_").
	MetricsPrefix string

	// Logger receives errors, rate-limited; default slog.Default().
	Logger *slog.Logger

	// Tracer traces the calls that miss the local tier, the ones that
	// read Redis or call the function; nil traces nothing. Package
	// github.com/gcache-go/gcache/gcacheotel adapts OpenTelemetry to it.
	// When it is a RedisTracer, its hook traces the commands of the Redis
	// client made from Redis; a RedisClient of your own is left as it is.
	Tracer Tracer

	// LocalMaxEntries bounds the local tier of each use case; default 10,000.
	LocalMaxEntries int
	// RedisTimeout bounds the Redis part of a call; default 200ms. A call
	// also gives Redis at most half the time its context has left, so
	// that the function has time to run when Redis does not answer. The
	// writes that follow a miss run in the background, each under this
	// deadline.
	RedisTimeout time.Duration
	// BreakerThreshold is the number of Redis failures in a row after which
	// Redis is skipped for BreakerCooldown; defaults 5 and 1s.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// WatermarkTTL is how long an invalidation is remembered; default 4h.
	// Tracked entries never live longer than it in Redis.
	WatermarkTTL time.Duration
	// OutageStaleness bounds how stale a tracked local entry may be when
	// it is served while this instance cannot confirm that it hears every
	// invalidation: while Redis is unreachable, or the event subscription
	// is down or lagging. Such an entry is served while it was made, or
	// last checked against Redis, or this instance last knew it had heard
	// every invalidation, within OutageStaleness: an invalidation it missed
	// is ignored for at most that long. It keeps an outage of the cache
	// from becoming a load spike on the database; the hits it serves are
	// counted in gcache_outage_hit_counter_total.
	// Default 1s. A negative value turns the outage mode off: tracked
	// local entries are then served only while the events are current
	// (to within 75 ms), and other reads go to Redis, or to the function.
	OutageStaleness time.Duration
	// CloseTimeout bounds how long Close waits for the background writes
	// to Redis and the invalidations still to be written; default 2s.
	CloseTimeout time.Duration
	// MaxKeyLength is the key length above which a key's arguments are
	// replaced by their hash; default 512.
	MaxKeyLength int
	// MaxValueSize is the largest encoded value written to Redis, in bytes;
	// default 8 MiB. Larger values are cached locally only, and counted.
	MaxValueSize int

	// Clock tells the time; default time.Now. It exists for tests.
	Clock func() time.Time
}

// RedisConfig configures the Redis client of the remote tier. One address
// is a single server, several are a cluster, and with MasterName they are
// the sentinels of a failover group.
type RedisConfig struct {
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	TLS        *tls.Config

	// The sentinels' own credentials, when they differ from the data's.
	SentinelUsername string
	SentinelPassword string

	// Defaults: DialTimeout 1s; ReadTimeout and WriteTimeout the Config's
	// RedisTimeout; PoolSize go-redis's own (10 per CPU).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	PoolSize     int
}

// String describes the configuration without its password.
func (r RedisConfig) String() string {
	pw := ""
	if r.Password != "" {
		pw = " password=REDACTED"
	}
	if r.SentinelPassword != "" {
		pw += " sentinel_password=REDACTED"
	}
	return fmt.Sprintf("redis addrs=%v master=%q user=%q%s db=%d tls=%t", r.Addrs, r.MasterName, r.Username, pw, r.DB, r.TLS != nil)
}

// LogValue logs the configuration without its password.
func (r RedisConfig) LogValue() slog.Value { return slog.StringValue(r.String()) }

func (r *RedisConfig) validate() error {
	if len(r.Addrs) == 0 {
		return errors.New("gcache: RedisConfig.Addrs is empty")
	}
	switch {
	case r.DB < 0:
		return fmt.Errorf("gcache: RedisConfig.DB %d is negative", r.DB)
	case r.DialTimeout < 0, r.ReadTimeout < 0, r.WriteTimeout < 0:
		return errors.New("gcache: RedisConfig timeouts must not be negative")
	case r.PoolSize < 0:
		return fmt.Errorf("gcache: RedisConfig.PoolSize %d is negative", r.PoolSize)
	}
	return nil
}

func (r *RedisConfig) client(opTimeout time.Duration) redis.UniversalClient {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:      r.Addrs,
		MasterName: r.MasterName,
		Username:   r.Username,
		Password:   r.Password,
		DB:         r.DB,

		SentinelUsername: r.SentinelUsername,
		SentinelPassword: r.SentinelPassword,

		TLSConfig:    r.TLS,
		DialTimeout:  or(r.DialTimeout, time.Second),
		ReadTimeout:  or(r.ReadTimeout, opTimeout),
		WriteTimeout: or(r.WriteTimeout, opTimeout),
		PoolSize:     r.PoolSize,
		// The deadline of each operation is the Config's RedisTimeout.
		ContextTimeoutEnabled: true,
	})
}

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)*$`)

// withDefaults validates c and returns a copy with every default filled in.
func (c Config) withDefaults() (Config, error) {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if !prefixPattern.MatchString(c.KeyPrefix) {
		return c, fmt.Errorf("gcache: KeyPrefix %q: want letters, digits and \"_.-\" in parts separated by single colons", c.KeyPrefix)
	}
	if c.Redis != nil && c.RedisClient != nil {
		return c, errors.New("gcache: Config sets both Redis and RedisClient; set one")
	}
	if _, ring := c.RedisClient.(*redis.Ring); ring {
		return c, errors.New("gcache: Config.RedisClient is a *redis.Ring, which gcache does not support: use a Redis Cluster for sharding")
	}
	if c.Redis != nil {
		if err := c.Redis.validate(); err != nil {
			return c, err
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"LocalMaxEntries", int64(c.LocalMaxEntries)},
		{"RedisTimeout", int64(c.RedisTimeout)},
		{"BreakerThreshold", int64(c.BreakerThreshold)},
		{"BreakerCooldown", int64(c.BreakerCooldown)},
		{"WatermarkTTL", int64(c.WatermarkTTL)},
		{"MaxKeyLength", int64(c.MaxKeyLength)},
		{"MaxValueSize", int64(c.MaxValueSize)},
		{"CloseTimeout", int64(c.CloseTimeout)},
	} {
		if f.v < 0 {
			return c, fmt.Errorf("gcache: Config.%s must not be negative", f.name)
		}
	}
	if c.MaxKeyLength != 0 && c.MaxKeyLength < 128 {
		return c, fmt.Errorf("gcache: Config.MaxKeyLength %d is below the minimum of 128", c.MaxKeyLength)
	}
	setDefault(&c.LocalMaxEntries, DefaultLocalMaxEntries)
	setDefault(&c.RedisTimeout, DefaultRedisTimeout)
	setDefault(&c.BreakerThreshold, DefaultBreakerThreshold)
	setDefault(&c.BreakerCooldown, DefaultBreakerCooldown)
	setDefault(&c.WatermarkTTL, DefaultWatermarkTTL)
	setDefault(&c.MaxKeyLength, DefaultMaxKeyLength)
	setDefault(&c.MaxValueSize, DefaultMaxValueSize)
	setDefault(&c.OutageStaleness, DefaultOutageStaleness)
	setDefault(&c.CloseTimeout, DefaultCloseTimeout)
	if c.Registerer == nil {
		c.Registerer = prometheus.DefaultRegisterer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
