// Package typeid defines the fingerprint of a Go type's structure, the
// check that keeps a value encoded for one version of a type from being
// decoded into another.
//
// The fingerprint is an FNV-1a hash of a canonical description. The runtime
// describes a type through reflect and the generator through go/types; both
// emit the same tokens through a Writer, so the grammar lives here alone:
//
//   - a predeclared type is its kind: bool, int, ..., uint8, string, unsafe.Pointer
//   - a defined type is its underlying type; a defined type met again inside
//     itself is ^N, N being its depth in the stack of defined types
//   - composites read like Go: *T, []T, [N]T, map[K]V, chan T, <-chan T,
//     chan<- T, func(T, ...T) (T), struct{name T "tag"; embedded Name T}, and
//     interface{M func(...)} with its methods sorted by name
//
// Names of defined types take no part, so a type moved or renamed keeps its
// fingerprint; field names (embedded fields' too), field tags and element
// types do.
package typeid

import (
	"hash/fnv"
	"io"
	"strconv"
)

// A Writer accumulates the description of one type.
type Writer struct {
	w io.Writer
	h interface{ Sum64() uint64 }
}

// NewWriter returns a Writer.
func NewWriter() *Writer {
	h := fnv.New64a()
	return &Writer{w: h, h: h}
}

// Token writes a piece of the description.
func (w *Writer) Token(s string) {
	_, _ = io.WriteString(w.w, s)
}

// BackRef writes a reference to the defined type at depth n.
func (w *Writer) BackRef(n int) { w.Token("^" + strconv.Itoa(n)) }

// Array writes the head of an array type of length n.
func (w *Writer) Array(n int64) { w.Token("[" + strconv.FormatInt(n, 10) + "]") }

// Field writes the head of a struct field; its type follows. An embedded
// field is named too: codecs key it by the name of its type.
func (w *Writer) Field(name string, embedded bool) {
	if embedded {
		w.Token("embedded ")
	}
	w.Token(name + " ")
}

// Tag writes a struct field's tag, after its type.
func (w *Writer) Tag(tag string) {
	if tag != "" {
		w.Token(" " + strconv.Quote(tag))
	}
	w.Token(";")
}

// Sum returns the fingerprint. It is never 0, which means "unknown".
func (w *Writer) Sum() uint64 {
	if s := w.h.Sum64(); s != 0 {
		return s
	}
	return 1
}
