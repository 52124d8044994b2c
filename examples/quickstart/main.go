// Quickstart caches an annotated interface with no server at all: the
// local tier alone. It shows a miss, then hits, the keys built, an
// invalidation, and the metrics.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	reg := prometheus.NewRegistry()
	c, err := gcache.New(gcache.Config{
		Registerer: reg,
		// A provider sees every key; this one only prints it and leaves
		// the decision to the annotations' defaults.
		ConfigProvider: func(ctx context.Context, key *gcache.Key) (*gcache.KeyConfig, error) {
			fmt.Fprintf(out, "    key %s\n", key)
			return nil, nil
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()

	db := &slowStore{names: map[string]string{"123": "Ada"}}
	store, err := NewUserStoreCache(db, c)
	if err != nil {
		return err
	}

	// Caching is on only where a context enables it, as
	// gcache.Middleware does for GET requests.
	ctx := gcache.Enable(context.Background())
	call := func(what string, f func() (any, error)) error {
		before, start := db.calls.Load(), time.Now()
		v, err := f()
		if err != nil {
			return err
		}
		took := time.Since(start).Round(time.Millisecond)
		source := "cache"
		if db.calls.Load() > before {
			source = "database"
		}
		fmt.Fprintf(out, "%-34s %-26v from the %s (%v)\n", what, v, source, took)
		return nil
	}
	getUser := func() (any, error) {
		u, err := store.GetUser(ctx, "123")
		if err != nil {
			return nil, err
		}
		return u.Name, nil
	}
	search := func() (any, error) {
		posts, err := store.SearchUserPosts(ctx, "123", "go", 2)
		if err != nil {
			return nil, err
		}
		return len(posts), nil
	}
	steps := []struct {
		what string
		f    func() (any, error)
	}{
		{"GetUser(123)", getUser},
		{"GetUser(123)", getUser},
		{"SearchUserPosts(123, go, 2)", search},
		{"SearchUserPosts(123, go, 2)", search},
		{"RenameUser(123, Ada Lovelace)", func() (any, error) {
			return "ok", store.RenameUser(ctx, "123", "Ada Lovelace")
		}},
		{"GetUser(123) after the rename", getUser},
		{"GetUser(123)", getUser},
	}
	for _, s := range steps {
		if err := call(s.what, s.f); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "\nmetrics:")
	families, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, f := range families {
		if !strings.HasSuffix(f.GetName(), "_total") {
			continue // the timers are too many lines for a quickstart
		}
		var b strings.Builder
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			return err
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				fmt.Fprintln(out, "  "+line)
			}
		}
	}
	return nil
}
