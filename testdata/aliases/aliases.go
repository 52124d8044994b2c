// Package aliases is the generator fixture of type aliases: a wrapped
// alias of an interface of another package, and aliases in signatures.
package aliases

import (
	"context"

	"github.com/gcache-go/gcache/testdata/embedded/base"
)

// UserID is an alias: keys render it as the string it is.
type UserID = string

type profile struct{ Name string }

// Profile is an alias of an unexported type of this package.
type Profile = profile

// Reader wraps another package's interface under a name of this one.
//
//gcache:wrap name=ReaderCache
type Reader = base.Reader

type users interface {
	//gcache:cache key_type=user id=id use_case=AliasProfile
	//gcache:ttl local=1m
	Profile(ctx context.Context, id UserID) (Profile, error)
}

// Users wraps an alias of an unexported interface.
//
//gcache:wrap
type Users = users
