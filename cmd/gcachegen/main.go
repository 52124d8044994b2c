// Gcachegen generates caching decorators for Go interfaces annotated with
// //gcache: directives.
//
// Usage:
//
//	gcachegen [-check] [-v] [packages]
//
// For each source file of the packages (default ".") that declares an
// interface annotated //gcache:wrap, gcachegen writes <file>_gcache.go
// beside it, holding a decorator that implements the interface, caches the
// methods annotated //gcache:cache and invalidates after the methods
// annotated //gcache:invalidate. A generated file whose source no longer
// declares a wrapped interface is deleted. Files whose content would not
// change are not touched.
//
// Add it to a module as a tool (go get -tool
// github.com/gcache-go/gcache/cmd/gcachegen), which keeps its dependencies
// through go mod tidy, and run it from go generate:
//
//	//go:generate go tool gcachegen
//
// Mistakes in the annotations are reported in the compiler's format,
// file:line:col: message, and nothing is written. With -check, gcachegen
// writes nothing and lists the generated files that are out of date.
//
// Exit status: 0 on success, 1 on annotation mistakes or out-of-date files,
// 2 on usage errors.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gcache-go/gcache/gen"
)

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// cli runs gcachegen with args and returns its exit status.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gcachegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "write nothing; list the generated files that are out of date and exit 1 if any")
	verbose := fs.Bool("v", false, "print the files written and deleted")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gcachegen [-check] [-v] [packages]\n\n")
		fmt.Fprintf(fs.Output(), "Generates <file>_gcache.go caching decorators for interfaces annotated //gcache:wrap.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	return run(options{patterns: fs.Args(), check: *check, verbose: *verbose}, stdout, stderr)
}

type options struct {
	dir      string // "" is the current directory
	patterns []string
	check    bool
	verbose  bool
}

// run generates, and returns the exit status.
func run(o options, stdout, stderr io.Writer) int {
	res, err := gen.Generate(o.dir, o.patterns...)
	if err != nil {
		var errs gen.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				e.Pos.Filename = relative(e.Pos.Filename)
				fmt.Fprintln(stderr, e)
			}
			return 1
		}
		fmt.Fprintf(stderr, "gcachegen: %v\n", err)
		return 1
	}
	if o.check {
		return checkFiles(res, stderr)
	}
	return writeFiles(res, o.verbose, stdout, stderr)
}

func checkFiles(res *gen.Result, stderr io.Writer) int {
	stale := 0
	for _, f := range res.Files {
		old, err := os.ReadFile(f.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stderr, "gcachegen: %s is missing; run go generate\n", relative(f.Path))
			stale++
		case err != nil:
			fmt.Fprintf(stderr, "gcachegen: %v\n", err)
			stale++
		case !bytes.Equal(old, f.Content):
			fmt.Fprintf(stderr, "gcachegen: %s is out of date; run go generate\n", relative(f.Path))
			stale++
		}
	}
	for _, o := range res.Orphans {
		fmt.Fprintf(stderr, "gcachegen: %s has no wrapped interface left in its source; delete it or run go generate\n", relative(o))
		stale++
	}
	if stale > 0 {
		return 1
	}
	return 0
}

func writeFiles(res *gen.Result, verbose bool, stdout, stderr io.Writer) int {
	status := 0
	for _, f := range res.Files {
		if old, err := os.ReadFile(f.Path); err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		if err := writeAtomic(f.Path, f.Content); err != nil {
			fmt.Fprintf(stderr, "gcachegen: %v\n", err)
			status = 1
			continue
		}
		if verbose {
			fmt.Fprintf(stdout, "wrote %s\n", relative(f.Path))
		}
	}
	for _, o := range res.Orphans {
		if err := os.Remove(o); err != nil {
			fmt.Fprintf(stderr, "gcachegen: %v\n", err)
			status = 1
			continue
		}
		if verbose {
			fmt.Fprintf(stdout, "deleted %s\n", relative(o))
		}
	}
	return status
}

// writeAtomic writes a file through a temporary one, so that a reader
// never sees half of it.
func writeAtomic(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gcachegen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// relative returns path relative to the working directory when it is
// below it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
