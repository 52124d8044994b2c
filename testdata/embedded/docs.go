// Package embedded is the generator fixture of embedded interfaces: from
// this package, from another one, and from the standard library.
package embedded

import (
	"context"
	"io"

	"github.com/gcache-go/gcache/testdata/embedded/base"
)

// Writer is embedded below, with its annotation.
type Writer interface {
	//gcache:invalidate key_type=doc id=id
	Write(ctx context.Context, id string, body string) error
}

//gcache:wrap
type Docs interface {
	base.Reader
	Writer
	io.Closer

	//gcache:cache key_type=doc id=id use_case=DocsSize
	//gcache:ttl remote=1h
	Size(ctx context.Context, id string) (int64, error)
}
