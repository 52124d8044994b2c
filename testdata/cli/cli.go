// Package cli is the fixture of gcachegen's own tests, which rewrite its
// generated file and restore it.
package cli

import "context"

//gcache:wrap
type Clock interface {
	//gcache:cache key_type=zone id=zone
	//gcache:ttl local=1s
	Now(ctx context.Context, zone string) (int64, error)
}
