// Package catalog is the service the scale workload runs as a fleet: a
// catalog of items read far more often than written, cached by gcache
// through the decorator generated from Catalog (catalog_gcache.go).
// Regenerate it with go generate.
package catalog

import (
	"context"
	"strconv"
	"strings"
	"time"
)

//go:generate go run github.com/gcache-go/gcache/cmd/gcachegen

// Item is the cached value: about 1 KB once encoded, like a row with a
// few text columns.
type Item struct {
	ID          int64
	Version     int64 // how many times the item was updated
	Name        string
	Description string
	Tags        []string
	Price       int64 // in cents
	Updated     time.Time
}

// NewItem builds item id at a version as a database driver would: a new
// value whose strings are its own.
func NewItem(id, version int64) *Item {
	return &Item{
		ID:          id,
		Version:     version,
		Name:        "item " + strconv.FormatInt(id, 10),
		Description: strings.Repeat("a sturdy thing of many uses, sold by the piece; ", 18),
		Tags:        []string{"hardware", "garden", "outdoor", "tools", "steel"},
		Price:       id%10_000 + 99,
		Updated:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(version) * time.Second),
	}
}

// Catalog reads and updates items.
//
//gcache:wrap
type Catalog interface {
	// GetItem reads an item. It is tracked, so that an update on any
	// instance reaches every instance's copy.
	//
	//gcache:cache key_type=item_id id=id use_case=GetItem track
	//gcache:ttl local=10m remote=10m
	GetItem(ctx context.Context, id int64) (*Item, error)

	// UpdateItem changes an item and invalidates it everywhere.
	//
	//gcache:invalidate key_type=item_id id=id
	UpdateItem(ctx context.Context, id int64) error
}
