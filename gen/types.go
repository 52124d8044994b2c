package gen

import (
	"go/token"
	"go/types"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// typeOf returns the model of t, recording the packages it names. A type
// the decorator could not name (unexported, in another package) is an
// error at pos.
func (l *loader) typeOf(t types.Type, pos token.Position) model.Type {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.Invalid {
			l.errorf(pos, "the interface uses a type that does not compile; fix the package first")
			return model.Named{Name: "invalid"}
		}
		if t.Kind() == types.UnsafePointer {
			l.imports["unsafe"] = "unsafe"
			return model.Named{Path: "unsafe", Name: "Pointer"}
		}
		return model.Named{Name: t.Name()}
	case *types.Alias:
		return l.named(t.Obj(), t.TypeArgs(), pos)
	case *types.Named:
		return l.named(t.Obj(), t.TypeArgs(), pos)
	case *types.TypeParam:
		return model.TypeParamRef{Name: t.Obj().Name()}
	case *types.Pointer:
		return model.Pointer{Elem: l.typeOf(t.Elem(), pos)}
	case *types.Slice:
		return model.Slice{Elem: l.typeOf(t.Elem(), pos)}
	case *types.Array:
		return model.Array{Len: t.Len(), Elem: l.typeOf(t.Elem(), pos)}
	case *types.Map:
		return model.Map{Key: l.typeOf(t.Key(), pos), Elem: l.typeOf(t.Elem(), pos)}
	case *types.Chan:
		dir := map[types.ChanDir]string{types.SendRecv: "chan", types.SendOnly: "chan<-", types.RecvOnly: "<-chan"}[t.Dir()]
		return model.Chan{Dir: dir, Elem: l.typeOf(t.Elem(), pos)}
	case *types.Signature:
		return l.funcOf(t, pos)
	case *types.Struct:
		var s model.Struct
		for i := range t.NumFields() {
			f := t.Field(i)
			if !f.Exported() && f.Pkg() != nil && f.Pkg().Path() != l.pkg.PkgPath {
				l.errorf(pos, "a struct type has the unexported field %s of package %s, which the decorator cannot name", f.Name(), f.Pkg().Path())
			}
			s.Fields = append(s.Fields, model.Field{Name: f.Name(), Type: l.typeOf(f.Type(), pos), Embedded: f.Embedded(), Tag: t.Tag(i)})
		}
		return s
	case *types.Interface:
		var it model.InterfaceType
		it.Implicit = t.IsImplicit()
		for i := range t.NumExplicitMethods() {
			m := t.ExplicitMethod(i)
			it.Methods = append(it.Methods, model.InterfaceMethod{Name: m.Name(), Sig: l.funcOf(m.Type().(*types.Signature), pos)})
		}
		for i := range t.NumEmbeddeds() {
			it.Embedded = append(it.Embedded, l.typeOf(t.EmbeddedType(i), pos))
		}
		return it
	case *types.Union:
		var u model.Union
		for i := range t.Len() {
			term := t.Term(i)
			u.Terms = append(u.Terms, model.Term{Tilde: term.Tilde(), Type: l.typeOf(term.Type(), pos)})
		}
		return u
	}
	l.errorf(pos, "unsupported type %s", t)
	return model.Named{Name: "invalid"}
}

func (l *loader) named(obj *types.TypeName, args *types.TypeList, pos token.Position) model.Type {
	n := model.Named{Name: obj.Name()}
	if obj.Pkg() != nil {
		n.Path = obj.Pkg().Path()
		if n.Path != l.pkg.PkgPath {
			if !obj.Exported() {
				l.errorf(pos, "type %s.%s is not exported, so the decorator cannot name it", obj.Pkg().Name(), obj.Name())
			}
			l.imports[n.Path] = obj.Pkg().Name()
		}
	}
	for i := range args.Len() {
		n.Args = append(n.Args, l.typeOf(args.At(i), pos))
	}
	return n
}

func (l *loader) funcOf(sig *types.Signature, pos token.Position) *model.Func {
	f := &model.Func{Variadic: sig.Variadic()}
	for i := range sig.Params().Len() {
		f.Params = append(f.Params, l.typeOf(sig.Params().At(i).Type(), pos))
	}
	for i := range sig.Results().Len() {
		f.Results = append(f.Results, l.typeOf(sig.Results().At(i).Type(), pos))
	}
	return f
}
