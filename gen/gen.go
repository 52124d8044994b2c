// Package gen generates caching decorators from //gcache: annotations. It
// is the library behind the gcachegen command: it loads the packages,
// reads the annotations into a model, and emits one file per source file
// that declares a wrapped interface. It writes nothing itself.
package gen

import (
	"sort"
)

// An Output is one generated file.
type Output struct {
	Path    string // where it goes: the source file's path with _gcache.go
	Source  string // the source file it is generated from
	Content []byte // gofmt-clean Go source
}

// A Result is what one run generates.
type Result struct {
	Files []Output // sorted by path
	// Orphans are generated files whose source no longer declares a
	// wrapped interface; they should be deleted.
	Orphans []string
}

// Generate loads the packages matching patterns, resolved in dir ("" is
// the current directory), and returns their decorators. Mistakes in the
// annotations are returned together as Errors, each at its position;
// nothing is returned then.
func Generate(dir string, patterns ...string) (*Result, error) {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	files, orphans, err := load(dir, patterns)
	if err != nil {
		return nil, err
	}
	res := &Result{Orphans: orphans}
	for _, f := range files {
		content, err := emit(f)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, Output{Path: f.Path, Source: f.Source, Content: content})
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	sort.Strings(res.Orphans)
	return res, nil
}
