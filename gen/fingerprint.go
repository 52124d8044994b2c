package gen

import (
	"go/types"
	"sort"

	"github.com/gcache-go/gcache/internal/typeid"
)

// fingerprint returns the fingerprint of t's structure, equal to the one
// the runtime computes by reflection for the same type, or 0 when t has
// type parameters: the runtime then computes it for each instantiation.
func fingerprint(t types.Type) uint64 {
	w := typeid.NewWriter()
	if !describe(w, t, nil) {
		return 0
	}
	return w.Sum()
}

// describe writes the description of t; it returns false when t has type
// parameters.
func describe(w *typeid.Writer, t types.Type, stack []*types.Named) bool {
	t = types.Unalias(t)
	if _, ok := t.(*types.TypeParam); ok {
		return false // its Underlying is the constraint, not the type
	}
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil {
		for i, s := range stack {
			if types.Identical(s, n) {
				w.BackRef(i)
				return true
			}
		}
		stack = append(stack, n)
	}
	switch t := t.Underlying().(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			w.Token("unsafe.Pointer")
			return true
		}
		w.Token(basicKinds[t.Kind()])
		return basicKinds[t.Kind()] != ""
	case *types.Pointer:
		w.Token("*")
		return describe(w, t.Elem(), stack)
	case *types.Slice:
		w.Token("[]")
		return describe(w, t.Elem(), stack)
	case *types.Array:
		w.Array(t.Len())
		return describe(w, t.Elem(), stack)
	case *types.Map:
		w.Token("map[")
		ok := describe(w, t.Key(), stack)
		w.Token("]")
		return describe(w, t.Elem(), stack) && ok
	case *types.Chan:
		w.Token(map[types.ChanDir]string{types.SendRecv: "chan ", types.RecvOnly: "<-chan ", types.SendOnly: "chan<- "}[t.Dir()])
		return describe(w, t.Elem(), stack)
	case *types.Signature:
		return describeFunc(w, t, stack)
	case *types.Struct:
		w.Token("struct{")
		ok := true
		for i := range t.NumFields() {
			f := t.Field(i)
			w.Field(f.Name(), f.Embedded())
			ok = describe(w, f.Type(), stack) && ok
			w.Tag(t.Tag(i))
		}
		w.Token("}")
		return ok
	case *types.Interface:
		methods := make([]*types.Func, t.NumMethods())
		for i := range methods {
			methods[i] = t.Method(i)
		}
		sort.Slice(methods, func(i, j int) bool { return methods[i].Name() < methods[j].Name() })
		w.Token("interface{")
		ok := true
		for _, m := range methods {
			w.Token(m.Name() + " ")
			ok = describeFunc(w, m.Type().(*types.Signature), stack) && ok
			w.Token(";")
		}
		w.Token("}")
		return ok && t.IsMethodSet()
	}
	return false
}

func describeFunc(w *typeid.Writer, sig *types.Signature, stack []*types.Named) bool {
	ok := true
	w.Token("func(")
	for i := range sig.Params().Len() {
		if i > 0 {
			w.Token(", ")
		}
		pt := sig.Params().At(i).Type()
		if sig.Variadic() && i == sig.Params().Len()-1 {
			w.Token("...")
			pt = pt.(*types.Slice).Elem()
		}
		ok = describe(w, pt, stack) && ok
	}
	w.Token(")")
	if sig.Results().Len() > 0 {
		w.Token(" (")
		for i := range sig.Results().Len() {
			if i > 0 {
				w.Token(", ")
			}
			ok = describe(w, sig.Results().At(i).Type(), stack) && ok
		}
		w.Token(")")
	}
	return ok
}

// basicKinds names the kinds as reflect.Kind.String does.
var basicKinds = map[types.BasicKind]string{
	types.Bool: "bool", types.Int: "int", types.Int8: "int8", types.Int16: "int16", types.Int32: "int32", types.Int64: "int64",
	types.Uint: "uint", types.Uint8: "uint8", types.Uint16: "uint16", types.Uint32: "uint32", types.Uint64: "uint64",
	types.Uintptr: "uintptr", types.Float32: "float32", types.Float64: "float64",
	types.Complex64: "complex64", types.Complex128: "complex128", types.String: "string",
}
