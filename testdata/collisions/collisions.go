// Package collisions is the generator fixture of names that collide:
// parameters named like imported packages and like the decorator's own
// identifiers, and two imported packages with one name.
package collisions

import (
	"context"
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
}
