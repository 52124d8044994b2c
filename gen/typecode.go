package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
	"github.com/gcache-go/gcache/gen/internal/model"
)

// typeCode is the Go code of a type.
func typeCode(t model.Type) *jen.Statement {
	switch t := t.(type) {
	case model.Named:
		var s *jen.Statement
		if t.Path == "" {
			s = jen.Id(t.Name)
		} else {
			s = jen.Qual(t.Path, t.Name)
		}
		if len(t.Args) > 0 {
			args := make([]jen.Code, len(t.Args))
			for i, a := range t.Args {
				args[i] = typeCode(a)
			}
			s = s.Types(args...)
		}
		return s
	case model.TypeParamRef:
		return jen.Id(t.Name)
	case model.Pointer:
		return jen.Op("*").Add(typeCode(t.Elem))
	case model.Slice:
		return jen.Index().Add(typeCode(t.Elem))
	case model.Array:
		return jen.Index(jen.Lit(int(t.Len))).Add(typeCode(t.Elem))
	case model.Map:
		return jen.Map(typeCode(t.Key)).Add(typeCode(t.Elem))
	case model.Chan:
		switch t.Dir {
		case "<-chan":
			return jen.Op("<-").Chan().Add(typeCode(t.Elem))
		case "chan<-":
			return jen.Chan().Op("<-").Add(typeCode(t.Elem))
		}
		return jen.Chan().Add(typeCode(t.Elem))
	case *model.Func:
		return jen.Func().Add(funcSig(t))
	case model.Struct:
		fields := make([]jen.Code, len(t.Fields))
		for i, f := range t.Fields {
			var s *jen.Statement
			if f.Embedded {
				s = typeCode(f.Type)
			} else {
				s = jen.Id(f.Name).Add(typeCode(f.Type))
			}
			if f.Tag != "" {
				s = s.Add(jen.Lit(f.Tag))
			}
			fields[i] = s
		}
		return jen.Struct(fields...)
	case model.InterfaceType:
		return jen.Interface(interfaceElems(t)...)
	case model.Union:
		terms := make([]jen.Code, len(t.Terms))
		for i, term := range t.Terms {
			s := typeCode(term.Type)
			if term.Tilde {
				s = jen.Op("~").Add(s)
			}
			terms[i] = s
		}
		return jen.Union(terms...)
	}
	panic(fmt.Sprintf("gen: unknown type %T", t))
}

func interfaceElems(t model.InterfaceType) []jen.Code {
	var elems []jen.Code
	for _, e := range t.Embedded {
		elems = append(elems, typeCode(e))
	}
	for _, m := range t.Methods {
		elems = append(elems, jen.Id(m.Name).Add(funcSig(m.Sig)))
	}
	return elems
}

// constraintCode is a type parameter's constraint: an implicit interface
// (~int | ~string) is written bare.
func constraintCode(t model.Type) *jen.Statement {
	if it, ok := t.(model.InterfaceType); ok && it.Implicit && len(it.Embedded) == 1 && len(it.Methods) == 0 {
		return typeCode(it.Embedded[0])
	}
	return typeCode(t)
}

func funcSig(f *model.Func) *jen.Statement {
	params := make([]jen.Code, len(f.Params))
	for i, p := range f.Params {
		if f.Variadic && i == len(f.Params)-1 {
			params[i] = jen.Op("...").Add(typeCode(p.(model.Slice).Elem))
			continue
		}
		params[i] = typeCode(p)
	}
	results := make([]jen.Code, len(f.Results))
	for i, r := range f.Results {
		results[i] = typeCode(r)
	}
	s := jen.Params(params...)
	switch len(results) {
	case 0:
		return s
	case 1:
		return s.Add(results[0])
	}
	return s.Params(results...)
}
