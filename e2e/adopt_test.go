package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdoptInAModule sets gcache up in a module of its own, testdata/shop,
// the way the README's "Use it in your module" says, and runs in order:
//
//	go get -tool github.com/gcache-go/gcache/cmd/gcachegen
//	go generate ./...
//	go mod tidy
//	go vet ./...
//	go test ./...
//	go tool gcachegen -check ./...
//
// The shop's module requires gcache at v0.0.0, replaced by this
// repository, and starts from this repository's go.sum: the module proxy
// has no version of this working tree, so the go command runs with
// GOPROXY=off and finds every module in the module cache. go mod tidy
// needs the modules of the dependencies' tests too, which building gcache
// never downloads: `make modules` (part of `make test`) fetches them.
func TestAdoptInAModule(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/shop")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "go.mod"), "\nrequire github.com/gcache-go/gcache v0.0.0\n\nreplace github.com/gcache-go/gcache => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}

	goCmd(t, dir, "get", "-tool", "github.com/gcache-go/gcache/cmd/gcachegen")
	goCmd(t, dir, "generate", "./...")
	for _, f := range []string{"catalog/catalog_gcache.go", "orders/orders_gcache.go", "inventory/inventory_gcache.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("go generate wrote no %s: %v", f, err)
		}
	}
	goCmd(t, dir, "mod", "tidy")
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(mod), "tool github.com/gcache-go/gcache/cmd/gcachegen") {
		t.Errorf("go mod tidy dropped the tool line:\n%s", mod)
	}
	goCmd(t, dir, "vet", "./...")
	out := goCmd(t, dir, "test", "-count=1", "-v", "./...")
	for _, test := range []string{"TestCatalog", "TestTwoStoresOnOneCache"} {
		if !strings.Contains(out, "--- PASS: "+test) {
			t.Errorf("%s did not pass:\n%s", test, out)
		}
	}
	// After tidy the generator still runs: its dependencies stayed.
	goCmd(t, dir, "generate", "./...")
	goCmd(t, dir, "tool", "gcachegen", "-check", "./...")
}

// goCmd runs the go command in dir and returns its output; it fails the
// test when the command fails.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
