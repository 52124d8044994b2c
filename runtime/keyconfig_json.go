package gcache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// KeyConfig reads and writes the JSON of the Python library's
// GCacheKeyConfig, so that one config store serves services in both
// languages:
//
//	{"ttl_sec": {"local": 60, "remote": 300}, "ramp": {"local": 100, "remote": 100}}
//
// Layer names are case-insensitive. A "noop" layer, which the Python
// library writes for a cache without Redis, is read and ignored. A layer
// missing from ttl_sec or ramp reads as 0, which turns it off.
//
// The features the Python library lacks have fields of their own, written
// only when they are on, so that a config without them stays readable by
// Python services:
//
//	{..., "refresh_at": 0.8, "negative_ttl_sec": 30, "lease_sec": 2}

type keyConfigJSON struct {
	TTLSec         map[string]float64 `json:"ttl_sec"`
	Ramp           map[string]float64 `json:"ramp"`
	RefreshAt      float64            `json:"refresh_at"`
	NegativeTTLSec float64            `json:"negative_ttl_sec"`
	LeaseSec       float64            `json:"lease_sec"`
}

// MarshalJSON writes c in the Python library's format, the layers' TTLs
// in whole seconds (rounded up, so that a TTL under a second stays on), and
// the fields Python lacks in seconds with their fraction.
func (c KeyConfig) MarshalJSON() ([]byte, error) {
	secs := func(d time.Duration) int64 { return int64(math.Ceil(d.Seconds())) }
	// Written by hand to keep the layers in order: local, then remote.
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"ttl_sec":{"local":%d,"remote":%d},"ramp":{"local":%d,"remote":%d}`,
		secs(c.Local.TTL), secs(c.Remote.TTL), c.Local.Ramp, c.Remote.Ramp)
	if c.RefreshAt != 0 {
		fmt.Fprintf(&b, `,"refresh_at":%v`, c.RefreshAt)
	}
	if c.NegativeTTL != 0 {
		fmt.Fprintf(&b, `,"negative_ttl_sec":%v`, c.NegativeTTL.Seconds())
	}
	if c.Lease != 0 {
		fmt.Fprintf(&b, `,"lease_sec":%v`, c.Lease.Seconds())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads c from the Python library's format and validates it.
func (c *KeyConfig) UnmarshalJSON(data []byte) error {
	var raw keyConfigJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("gcache: key config: %w", err)
	}
	if raw.TTLSec == nil && raw.Ramp == nil {
		return fmt.Errorf("gcache: key config %s has neither ttl_sec nor ramp", data)
	}
	out := KeyConfig{RefreshAt: raw.RefreshAt}
	var err error
	if out.NegativeTTL, err = seconds("negative_ttl_sec", raw.NegativeTTLSec); err != nil {
		return err
	}
	if out.Lease, err = seconds("lease_sec", raw.LeaseSec); err != nil {
		return err
	}
	for field, values := range map[string]map[string]float64{"ttl_sec": raw.TTLSec, "ramp": raw.Ramp} {
		for name, v := range values {
			var lc *LayerConfig
			switch strings.ToLower(name) {
			case "local":
				lc = &out.Local
			case "remote":
				lc = &out.Remote
			case "noop":
				continue
			default:
				return fmt.Errorf("gcache: key config: unknown layer %q in %s (have local, remote)", name, field)
			}
			if field == "ttl_sec" {
				d, err := seconds(field+"."+name, v)
				if err != nil {
					return err
				}
				lc.TTL = d
			} else {
				if v != math.Trunc(v) {
					return fmt.Errorf("gcache: key config: ramp.%s %v is not a whole percentage", name, v)
				}
				lc.Ramp = int(max(min(v, 1e9), -1e9))
			}
		}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*c = out
	return nil
}

// seconds reads the field's value, a number of seconds.
func seconds(field string, v float64) (time.Duration, error) {
	if math.Abs(v) > float64(math.MaxInt64/int64(time.Second)) {
		return 0, fmt.Errorf("gcache: key config: %s %v is too large", field, v)
	}
	return time.Duration(math.Round(v * float64(time.Second))), nil
}
