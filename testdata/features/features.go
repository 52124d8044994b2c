// Package features is the generator fixture of the opt-in features: early
// refresh, leases and negative caching on a cached method, and batch
// methods, which cache each of their ids under its own key.
package features

import (
	"context"
	"database/sql"
	"errors"

	storesql "github.com/gcache-go/gcache/testdata/features/sql"
)

// DB is the database a UserStore reads.
type DB = sql.DB

// ErrDeleted is the store's word for a row that was deleted.
var ErrDeleted = storesql.ErrDeleted

// ErrNotFound is how UserStore says that a user does not exist.
var ErrNotFound = errors.New("features: user not found")

type User struct {
	ID   string
	Name string
}

type Balance struct {
	Currency string
	Cents    int64
}

// UserIDs and Users are a batch's ids and results under names of their
// own.
type (
	UserIDs []string
	Users   map[string]*User
)

//gcache:wrap
type UserStore interface {
	//gcache:cache key_type=user_id id=userID use_case=GetUser track
	//gcache:ttl local=1m remote=5m
	//gcache:refresh at=0.8
	//gcache:lease ttl=2s
	//gcache:negative err=ErrNotFound ttl=30s
	GetUser(ctx context.Context, userID string) (*User, error)

	// GetUsers caches each user under the key GetUser would give it,
	// but for the use case and fields.
	//gcache:cache key_type=user_id id=ids use_case=GetUsers batch track
	//gcache:ttl local=1m remote=5m
	GetUsers(ctx context.Context, ids []string, fields string) (map[string]*User, error)

	// Balances has ids that are not strings, and a parameter left out
	// of its keys.
	//gcache:cache key_type=account_id id=accounts batch
	//gcache:ttl remote=10m
	//gcache:ignore trace
	Balances(ctx context.Context, currency string, accounts []int64, trace string) (map[int64]Balance, error)

	// Names takes its ids variadic.
	//gcache:cache key_type=user_id id=ids use_case=Names batch
	//gcache:ttl local=30s
	Names(ctx context.Context, ids ...string) (map[string]string, error)

	// Profiles names its ids' and results' types.
	//gcache:cache key_type=user_id id=ids use_case=Profiles batch
	//gcache:ttl local=30s
	Profiles(ctx context.Context, ids UserIDs) (Users, error)

	// Row caches sql.ErrNoRows, the sentinel of another package.
	//gcache:cache key_type=row id=id
	//gcache:ttl local=1m remote=1m
	//gcache:negative err=sql.ErrNoRows ttl=1m30s
	Row(ctx context.Context, id int64) ([]byte, error)

	// Deleted caches a sentinel of a package named like database/sql.
	//gcache:cache key_type=row id=id
	//gcache:ttl local=1m
	//gcache:negative err=storesql.ErrDeleted ttl=1m
	Deleted(ctx context.Context, id int64) (*User, error)
}
