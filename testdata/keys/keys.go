// Package keys is the generator fixture of key rendering: every
// key-encodable type, key expressions and arg adapters.
package keys

import (
	"context"
	"net/netip"
	"time"
)

type (
	Level int8
	Name  string
	Tags  []string
	Blob  []byte
)

type Geo struct{ Lat, Lng float64 }

type Home struct {
	City string
	Geo  *Geo
}

// Account embeds a pointer: keys that reach through it check it.
type Account struct {
	*Home
	Email string
}

// Query renders itself, through a pointer receiver.
type Query struct{ Terms []string }

func (q *Query) CacheKey() string {
	if q == nil {
		return "none"
	}
	return "q:" + q.Terms[0]
}

// Region renders itself through a value receiver.
type Region struct{ Code string }

func (r Region) CacheKey() string { return r.Code }

func (a *Account) Domain() string { return a.Email[len(a.Email)-3:] }

//gcache:wrap
type Keys interface {
	//gcache:cache key_type=k id=id use_case=Scalars
	//gcache:ttl local=1m remote=1m
	Scalars(ctx context.Context, id int64, i int, i8 int8, u uint, u16 uint16, f32 float32, f64 float64, ok bool, name Name, lvl Level, raw []byte, blob Blob, at time.Time, wait time.Duration) (string, error)

	//gcache:cache key_type=k id=id use_case=Containers
	//gcache:ttl local=1m remote=1m
	Containers(ctx context.Context, id string, p *int, ps *string, tags []string, named Tags, ptrs []*int, nested [][]string, levels []Level, ips []netip.Addr) (string, error)

	//gcache:cache key_type=account id=acct.Email use_case=Exprs
	//gcache:ttl local=1m remote=1m
	//gcache:arg acct=acct.Domain()
	//gcache:arg home=home.Geo.Lat
	//gcache:arg lvl=int64(lvl)
	Exprs(ctx context.Context, acct *Account, home *Home, q *Query, r Region, rp *Region, lvl Level) (string, error)

	//gcache:cache key_type=city id=acct.City use_case=Embedded
	//gcache:ttl local=1m remote=1m
	//gcache:ignore acct
	Embedded(ctx context.Context, acct Account) (string, error)

	//gcache:cache key_type=ip id=ip use_case=Text
	//gcache:ttl local=1m remote=1m
	Text(ctx context.Context, ip netip.Addr, prefix *netip.Prefix, since *time.Time) (string, error)

	//gcache:cache key_type=name id=string(n) use_case=Conv
	//gcache:ttl local=1m remote=1m
	//gcache:arg n=n
	Conv(ctx context.Context, n Name) (string, error)

	//gcache:cache key_type=ptr id=*p use_case=Deref
	//gcache:ttl local=1m remote=1m
	//gcache:ignore p
	Deref(ctx context.Context, p *string) (string, error)
}
