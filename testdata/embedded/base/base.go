// Package base declares an annotated interface that another package's
// wrapped interface embeds.
package base

import (
	"context"
	"errors"
	"io/fs"
)

// ErrGone says that a document was deleted.
var ErrGone = errors.New("base: document gone")

// Reader's annotations apply wherever it is embedded, and name the
// sentinels of this package and of its imports.
type Reader interface {
	//gcache:cache key_type=doc id=id track
	//gcache:ttl local=1m remote=1h
	//gcache:negative err=ErrGone ttl=1m
	Read(ctx context.Context, id string) (string, error)

	//gcache:cache key_type=doc id=id
	//gcache:ttl local=1m
	//gcache:negative err=fs.ErrNotExist ttl=1m
	Mode(ctx context.Context, id string) (fs.FileMode, error)
}
