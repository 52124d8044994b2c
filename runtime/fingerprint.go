package gcache

import (
	"reflect"
	"sort"

	"github.com/gcache-go/gcache/internal/typeid"
)

// TypeFingerprint returns the fingerprint of t's structure, the one the
// generator emits for the same type. Values are stored with the fingerprint
// of their type, and a value whose fingerprint differs from the reader's is
// a miss: a deploy that changes a cached type never decodes old bytes into
// the new one.
func TypeFingerprint(t reflect.Type) uint64 {
	w := typeid.NewWriter()
	describeType(w, t, nil)
	return w.Sum()
}

func describeType(w *typeid.Writer, t reflect.Type, stack []reflect.Type) {
	if t.PkgPath() != "" && t.Name() != "" {
		for i, s := range stack {
			if s == t {
				w.BackRef(i)
				return
			}
		}
		stack = append(stack, t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.Token("*")
		describeType(w, t.Elem(), stack)
	case reflect.Slice:
		w.Token("[]")
		describeType(w, t.Elem(), stack)
	case reflect.Array:
		w.Array(int64(t.Len()))
		describeType(w, t.Elem(), stack)
	case reflect.Map:
		w.Token("map[")
		describeType(w, t.Key(), stack)
		w.Token("]")
		describeType(w, t.Elem(), stack)
	case reflect.Chan:
		switch t.ChanDir() {
		case reflect.RecvDir:
			w.Token("<-chan ")
		case reflect.SendDir:
			w.Token("chan<- ")
		default:
			w.Token("chan ")
		}
		describeType(w, t.Elem(), stack)
	case reflect.Func:
		w.Token("func(")
		for i := range t.NumIn() {
			if i > 0 {
				w.Token(", ")
			}
			if t.IsVariadic() && i == t.NumIn()-1 {
				w.Token("...")
				describeType(w, t.In(i).Elem(), stack)
				continue
			}
			describeType(w, t.In(i), stack)
		}
		w.Token(")")
		if t.NumOut() > 0 {
			w.Token(" (")
			for i := range t.NumOut() {
				if i > 0 {
					w.Token(", ")
				}
				describeType(w, t.Out(i), stack)
			}
			w.Token(")")
		}
	case reflect.Struct:
		w.Token("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			w.Field(f.Name, f.Anonymous)
			describeType(w, f.Type, stack)
			w.Tag(string(f.Tag))
		}
		w.Token("}")
	case reflect.Interface:
		methods := make([]reflect.Method, t.NumMethod())
		for i := range methods {
			methods[i] = t.Method(i)
		}
		sort.Slice(methods, func(i, j int) bool { return methods[i].Name < methods[j].Name })
		w.Token("interface{")
		for _, m := range methods {
			w.Token(m.Name + " ")
			describeType(w, m.Type, stack)
			w.Token(";")
		}
		w.Token("}")
	case reflect.UnsafePointer:
		w.Token("unsafe.Pointer")
	default:
		w.Token(t.Kind().String())
	}
}
