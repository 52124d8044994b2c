// Package collisions is the generator fixture of names that collide:
// parameters named like imported packages and like the decorator's own
// identifiers, and two imported packages with one name.
package collisions

import (
	"context"
	"errors"
	htmltemplate "html/template"
	"text/template"
	"time"
)

//gcache:wrap
type Render interface {
	//gcache:cache key_type=page id=gcache
	//gcache:ttl local=1m remote=1m
	Page(context context.Context, gcache string, time time.Duration, c, b, key, err, val, idLen, next int) (string, error)

	//gcache:cache key_type=page id=id
	//gcache:ttl local=1m
	//gcache:ignore text html
	Templates(ctx context.Context, id string, text *template.Template, html *htmltemplate.Template) (string, error)

	// Next and Cache are method names that the decorator's fields could take.
	Next(ctx context.Context) error
	Cache(ctx context.Context) error

	// context is a parameter whose type spells the context package
	// through an alias.
	//gcache:cache key_type=page id=id
	//gcache:ttl local=1m
	Alias(context Ctx, id string) (string, error)

	// Failure is error under another name: Save invalidates only when it
	// returns nil.
	//gcache:invalidate key_type=page id=id external
	Save(ctx context.Context, id string) Failure

	// C and Err are named like the constructor's variables, and so is
	// the sentinel of C.
	//gcache:cache key_type=page id=id
	//gcache:ttl local=1m
	//gcache:negative err=err ttl=1s
	C(ctx context.Context, id string) (int, error)
	Err(ctx context.Context) error

	// String would make a field named like the type of the use cases
	// after it.
	//gcache:cache key_type=page id=id
	//gcache:ttl local=1m
	String(ctx context.Context, id string) (string, error)

	// Pages is a batch with a parameter named like the one id its key
	// helper renders, and one named like an import.
	//gcache:cache key_type=page id=ids batch
	//gcache:ttl local=1m
	Pages(ctx context.Context, ids []string, id int, template string) (map[string]string, error)

	// Gone caches context.Canceled, through the context package that a
	// parameter's name hides in the decorator.
	//gcache:cache key_type=page id=id
	//gcache:ttl local=1m
	//gcache:negative err=context.Canceled ttl=1s
	Gone(context context.Context, id string) (string, error)
}

// err is a sentinel named like the decorator constructor's error.
var err = errors.New("collisions: no such page")

type item struct{ N int }

// Ctx is context.Context under another name.
type Ctx = context.Context

// Failure is error under another name.
type Failure = error

// lower has an unexported cached method, whose field must not take its
// name.
//
//gcache:wrap
type lower interface {
	//gcache:cache key_type=u id=id
	//gcache:ttl local=1m
	getUser(ctx context.Context, id string) (string, error)

	// item and len are a parameter named like a type of the result and
	// one named like a builtin the key helper calls.
	//gcache:cache key_type=item id=id
	//gcache:ttl local=1m
	Item(ctx context.Context, id string, item string, len int) (*item, error)
}
