// Package base declares an annotated interface that another package's
// wrapped interface embeds.
package base

import "context"

// Reader's annotations apply wherever it is embedded.
type Reader interface {
	//gcache:cache key_type=doc id=id track
	//gcache:ttl local=1m remote=1h
	Read(ctx context.Context, id string) (string, error)
}
