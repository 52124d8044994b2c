//go:build linux || darwin

// Package buildtags is the generator fixture of build constraints: the
// decorator carries its source's.
package buildtags

import "context"

//gcache:wrap
type Host interface {
	//gcache:cache key_type=host id=name
	//gcache:ttl local=1m
	Lookup(ctx context.Context, name string) ([]string, error)
}
