package scale

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcache-go/gcache/bench/scale/catalog"
	"github.com/gcache-go/gcache/runtime"
)

// database is the simulated database behind one instance: items kept in
// memory as versions, each call taking a fixed latency and counted. Each
// instance has its own, so values are not compared across instances:
// what the workload measures is how often the cache calls it.
type database struct {
	latency       time.Duration
	reads, writes atomic.Int64

	mu       sync.Mutex
	versions map[int64]int64 // only the ids ever updated
}

func newDatabase(latency time.Duration) *database {
	return &database{latency: latency, versions: map[int64]int64{}}
}

var _ catalog.Catalog = (*database)(nil)

func (d *database) GetItem(ctx context.Context, id int64) (*catalog.Item, error) {
	d.reads.Add(1)
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	v := d.versions[id]
	d.mu.Unlock()
	return catalog.NewItem(id, v), nil
}

func (d *database) UpdateItem(ctx context.Context, id int64) error {
	d.writes.Add(1)
	if err := d.wait(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.versions[id]++
	d.mu.Unlock()
	return nil
}

// wait takes the database's latency, or less if ctx ends first.
func (d *database) wait(ctx context.Context) error {
	if d.latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the database call was abandoned: %w", ctx.Err())
	}
}

// TestDatabase checks the counting and the versions, and that a cached
// read through the catalog's decorator calls the database once.
func TestDatabase(t *testing.T) {
	ctx := context.Background()
	db := newDatabase(0)
	if err := db.UpdateItem(ctx, 7); err != nil {
		t.Fatal(err)
	}
	it, err := db.GetItem(ctx, 7)
	if err != nil || it.ID != 7 || it.Version != 1 {
		t.Fatalf("item 7 after one update: %+v, %v", it, err)
	}
	if db.reads.Load() != 1 || db.writes.Load() != 1 {
		t.Fatalf("%d reads and %d writes, want 1 and 1", db.reads.Load(), db.writes.Load())
	}

	c, err := gcache.New(gcache.Config{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cat, err := catalog.NewCatalogCache(db, c)
	if err != nil {
		t.Fatal(err)
	}
	on := gcache.Enable(ctx)
	for range 3 {
		if it, err := cat.GetItem(on, 8); err != nil || it.ID != 8 {
			t.Fatalf("GetItem(8) = %+v, %v", it, err)
		}
	}
	if got := db.reads.Load(); got != 2 {
		t.Errorf("three cached reads of a new item made %d database reads in all, want 2 (the one before and one miss)", got)
	}
}

// TestItemSize keeps an item about 1 KB in the codec gcache uses.
func TestItemSize(t *testing.T) {
	b, err := gcache.CBOR.Marshal(catalog.NewItem(1234567, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 900 || len(b) > 1200 {
		t.Fatalf("an item is %d bytes in CBOR, want about 1 KB", len(b))
	}
}

func TestDatabaseAbandoned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newDatabase(time.Hour).GetItem(ctx, 1); err == nil {
		t.Fatal("a read whose context ended returned no error")
	}
}
