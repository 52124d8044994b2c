package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

//go:generate go run github.com/gcache-go/gcache/cmd/gcachegen

// User is what the store returns.
type User struct {
	ID   string
	Name string
}

// Post is one of a user's posts.
type Post struct {
	Title string
}

// UserStore is the interface the service depends on. Its annotations say
// how to cache it; gcachegen turns them into UserStoreCache, in
// store_gcache.go.
//
//gcache:wrap
type UserStore interface {
	//gcache:cache key_type=user_id id=userID use_case=GetUser track
	//gcache:ttl local=1m remote=5m
	GetUser(ctx context.Context, userID string) (*User, error)

	//gcache:cache key_type=user_id id=userID use_case=SearchUserPosts
	//gcache:ttl local=30s remote=5m
	SearchUserPosts(ctx context.Context, userID string, query string, page int) ([]Post, error)

	//gcache:invalidate key_type=user_id id=userID
	RenameUser(ctx context.Context, userID, name string) error
}

// slowStore stands in for a database: every call takes a while, and is
// counted.
type slowStore struct {
	calls atomic.Int64
	names map[string]string
}

func (s *slowStore) GetUser(ctx context.Context, userID string) (*User, error) {
	s.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	name, ok := s.names[userID]
	if !ok {
		return nil, fmt.Errorf("user %s not found", userID)
	}
	return &User{ID: userID, Name: name}, nil
}

func (s *slowStore) SearchUserPosts(ctx context.Context, userID, query string, page int) ([]Post, error) {
	s.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return []Post{{Title: fmt.Sprintf("%s's post about %s, page %d", s.names[userID], query, page)}}, nil
}

func (s *slowStore) RenameUser(ctx context.Context, userID, name string) error {
	s.calls.Add(1)
	s.names[userID] = name
	return nil
}
