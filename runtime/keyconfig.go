package gcache

import (
	"context"
	"fmt"
	"time"
)

// A Layer is one tier of the cache.
type Layer uint8

const (
	Local  Layer = iota // the in-process tier
	Remote              // the Redis tier
)

// String returns the layer's name as used in metric labels: LOCAL, REMOTE.
func (l Layer) String() string {
	switch l {
	case Local:
		return "LOCAL"
	case Remote:
		return "REMOTE"
	}
	return fmt.Sprintf("Layer(%d)", uint8(l))
}

// LayerConfig is how one layer caches a use case. A TTL of 0 or a Ramp of 0
// turns the layer off.
type LayerConfig struct {
	TTL  time.Duration // how long an entry lives in this layer
	Ramp int           // the percentage of calls that use this layer, 0–100
}

// KeyConfig is how a use case is cached: per layer, and the opt-in
// features, each off at its zero value.
type KeyConfig struct {
	Local  LayerConfig
	Remote LayerConfig

	// RefreshAt turns on early refresh: a hit on an entry older than this
	// fraction of the TTL its value lives by, the remote one when Redis
	// takes part (less a random tenth of it, so that entries made
	// together do not refresh together), is served, and one background
	// call per key refreshes it. 0 is off; otherwise it is below 1.
	RefreshAt float64
	// NegativeTTL is how long the use case's negative answer
	// (UseCaseSpec.Negative) is cached, in each layer taking part. 0 does
	// not cache it.
	NegativeTTL time.Duration
	// Lease turns on single flight across instances: on a Redis miss, one
	// instance takes a lease of this TTL in Redis and calls the function,
	// and the others wait for its value; when the lease ends without one,
	// one of them takes it in turn, and none waits longer than two leases
	// before it calls the function itself. Set it a little above the
	// function's usual time. 0 is off.
	Lease time.Duration
}

// Validate reports a negative TTL or lease, a ramp outside 0–100 or a
// RefreshAt outside [0, 1).
func (c KeyConfig) Validate() error {
	switch {
	case !(c.RefreshAt >= 0 && c.RefreshAt < 1):
		return fmt.Errorf("gcache: refresh point %v is outside [0, 1)", c.RefreshAt)
	case c.NegativeTTL < 0:
		return fmt.Errorf("gcache: negative TTL %v is negative", c.NegativeTTL)
	case c.Lease < 0:
		return fmt.Errorf("gcache: lease %v is negative", c.Lease)
	}
	for _, l := range []struct {
		layer Layer
		cfg   LayerConfig
	}{{Local, c.Local}, {Remote, c.Remote}} {
		if l.cfg.TTL < 0 {
			return fmt.Errorf("gcache: %s TTL %v is negative", l.layer, l.cfg.TTL)
		}
		if l.cfg.Ramp < 0 || l.cfg.Ramp > 100 {
			return fmt.Errorf("gcache: %s ramp %d is outside 0–100", l.layer, l.cfg.Ramp)
		}
	}
	return nil
}

// A ConfigProvider decides, per call, how a key is cached; it is how ramps
// and TTLs change at runtime. It returns nil, nil to leave the call to the
// use case's default config. An error, a panic or an invalid config turns
// caching off for that call (counted as config_error); the call is still
// served. A provider runs on every enabled call, so it must answer from
// memory: see the package documentation for ready-made providers. The
// config it returns is read during the call, not copied, so it must not
// change after it is returned.
type ConfigProvider func(ctx context.Context, key *Key) (*KeyConfig, error)

// reason says why a layer was skipped; its String is the metric label.
type reason uint8

const (
	reasonContext reason = iota
	reasonMissingConfig
	reasonRampedDown
	reasonConfigError
	reasonServerDown
	numReasons
)

var reasonNames = [numReasons]string{"context", "missing_config", "ramped_down", "config_error", "server_down"}

func (r reason) String() string { return reasonNames[r] }
