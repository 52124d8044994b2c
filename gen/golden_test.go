package gen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// fixtures are the generator's golden cases, one package each under
// testdata; each holds its sources and, committed beside them, the files
// gcachegen generates from them.
var fixtures = []string{"basic", "generic", "embedded", "aliases", "shapes", "collisions", "keys", "named", "buildtags", "features", "keyfuzz", "shop", "shop/orders", "shop/inventory"}

func TestGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each loads its packages through go list, a process of its own
			res, err := Generate(filepath.Join("..", "testdata", name), ".")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) == 0 {
				t.Fatal("nothing generated")
			}
			if len(res.Orphans) > 0 {
				t.Errorf("orphans: %v", res.Orphans)
			}
			for _, f := range res.Files {
				if *update {
					if err := os.WriteFile(f.Path, f.Content, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(f.Path)
				if err != nil {
					t.Fatalf("%v (run go test ./gen -update)", err)
				}
				if !bytes.Equal(f.Content, want) {
					t.Errorf("%s differs from what gcachegen generates now; run go test ./gen -update and review the diff", f.Path)
				}
			}
		})
	}
}

// TestDeterministic generates twice and compares: map orders and the like
// must not leak into the output.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for range 3 {
		a, err := Generate(filepath.Join("..", "testdata", "keys"), ".")
		if err != nil {
			t.Fatal(err)
		}
		b, err := Generate(filepath.Join("..", "testdata", "keys"), ".")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Files[0].Content, b.Files[0].Content) {
			t.Fatal("two runs differ")
		}
	}
}

// TestTrimpathKeepsEmbeddedAnnotations: built with -trimpath, export data
// names files relative to their module, and the annotations of an
// interface embedded from another package must still be found.
func TestTrimpathKeepsEmbeddedAnnotations(t *testing.T) {
	t.Setenv("GOFLAGS", "-trimpath")
	res, err := Generate(filepath.Join("..", "testdata", "embedded"), ".")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(res.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Files[0].Content, want) {
		t.Errorf("with -trimpath the decorator differs from the golden file:\n%s", res.Files[0].Content)
	}
}
