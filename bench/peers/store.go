// Package peers runs the same workloads through gcache (a generated
// decorator) and through other Go caches with a local and a Redis tier,
// against one private redis-server: local hits, remote hits, misses,
// stampedes, reads mixed with invalidations, and memory per entry.
//
// Everything is in the tests; this file holds the annotated interface
// whose decorator, store_gcache.go, is what gcache is measured through.
// Regenerate it with go generate (or gcachegen . from this directory).
package peers

import (
	"context"
	"time"
)

//go:generate go run github.com/gcache-go/gcache/cmd/gcachegen

// User is the cached value: about 1 KB once encoded.
type User struct {
	ID        int64
	Name      string
	Email     string
	Bio       string
	Tags      []string
	Addresses []Address
	Manager   *Contact
	Created   time.Time
	Updated   time.Time
	Active    bool
	Score     float64
}

// Address is a postal address of a User.
type Address struct{ Street, City, Zip, Country string }

// Contact is someone a User reports to.
type Contact struct{ Name, Email, Phone string }

// UserStore is the backend the benchmarks cache. Each workload reads
// through the method whose annotations configure gcache for it.
//
//gcache:wrap
type UserStore interface {
	// GetUser is cached in both tiers and not tracked: local hits,
	// misses, stampedes and memory.
	//
	//gcache:cache key_type=user_id id=id use_case=GetUser
	//gcache:ttl local=10m remote=10m
	GetUser(ctx context.Context, id string) (*User, error)

	// GetUserTracked is GetUser with invalidation: reads mixed with
	// UpdateUser.
	//
	//gcache:cache key_type=user_id id=id use_case=GetUserTracked track
	//gcache:ttl local=10m remote=10m
	GetUserTracked(ctx context.Context, id string) (*User, error)

	// GetUserRemote has no local tier (its local TTL is 0): remote hits.
	//
	//gcache:cache key_type=user_id id=id use_case=GetUserRemote
	//gcache:ttl remote=10m
	GetUserRemote(ctx context.Context, id string) (*User, error)

	// GetUserRemoteTracked is GetUserRemote with invalidation: the remote
	// hit that also reads the entity's watermark.
	//
	//gcache:cache key_type=user_id id=id use_case=GetUserRemoteTracked track
	//gcache:ttl remote=10m
	GetUserRemoteTracked(ctx context.Context, id string) (*User, error)

	// UpdateUser writes a user and invalidates every tracked entry of it.
	//
	//gcache:invalidate key_type=user_id id=id
	UpdateUser(ctx context.Context, id string, u *User) error
}
