// Package basic is the generator fixture of the design's example: cached
// reads, tracked and not, with and without arguments, and a write that
// invalidates.
package basic

import (
	"context"
	"time"
)

type User struct {
	ID    string
	Name  string
	Email string
}

type Post struct {
	ID    int64
	Title string
	At    time.Time
}

// Filter is rendered into keys by its CacheKey method.
type Filter struct {
	Tag   string
	Limit int
}

func (f Filter) CacheKey() string { return f.Tag }

//gcache:wrap
type UserStore interface {
	//gcache:cache key_type=user_id id=userID use_case=GetUser track
	//gcache:ttl local=1m remote=5m
	GetUser(ctx context.Context, userID string) (*User, error)

	//gcache:cache key_type=user_id id=userID use_case=SearchUserPosts
	//gcache:ttl local=30s remote=10m
	//gcache:ramp local=50 remote=100
	//gcache:ignore trace
	SearchUserPosts(ctx context.Context, userID string, page int, filter Filter, trace string) ([]Post, error)

	//gcache:invalidate key_type=user_id id=userID
	UpdateUser(ctx context.Context, userID string, u User) error

	// Ping is not annotated: it passes through.
	Ping(ctx context.Context) error
}
