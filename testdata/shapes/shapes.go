// Package shapes is the generator fixture of method shapes: variadic
// parameters, named and unnamed results, value-only results, and value
// types from other packages.
package shapes

import (
	"context"
	"math/big"
	"net/url"
	"time"
)

// Result is a struct value type, with an embedded field.
type Result struct {
	URL   url.URL
	Stamp time.Time
	Meta
}

// Meta is embedded in Result.
type Meta struct{ Tag string }

// Tree is recursive: its fingerprint refers back to itself.
type Tree struct {
	Name     string
	Children []*Tree
	Meta     map[string]any
	Next     func(*Tree) error `json:"-"`
}

//gcache:wrap
type Shapes interface {
	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Tree(ctx context.Context, q string) (*Tree, error)

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Variadic(ctx context.Context, q string, opts ...int) (res []string, err error)

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	ValueOnly(ctx context.Context, q string) int

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Pointer(ctx context.Context, q string) (*url.URL, error)

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Map(ctx context.Context, q string) (map[string]*big.Int, error)

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Struct(ctx context.Context, q string) (Result, error)

	//gcache:cache key_type=q id=q
	//gcache:ttl local=1m
	Anonymous(ctx context.Context, q string) (struct {
		A int `json:"a"`
		B []byte
	}, error)

	// Unnamed parameters and several results pass through.
	Pair(context.Context, string, ...byte) (int, string, error)
	Chan(ctx context.Context) (<-chan int, chan<- string)
	Func(ctx context.Context, f func(int, ...string) error) func() bool

	//gcache:invalidate key_type=q id=q external
	//gcache:invalidate key_type=r id=q buffer=5s external
	Update(ctx context.Context, q string) (n int, err error)

	//gcache:invalidate key_type=q id=q external
	Touch(ctx context.Context, q string)
}
