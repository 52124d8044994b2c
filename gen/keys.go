package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
	"github.com/gcache-go/gcache/gen/internal/model"
)

// keyHelper writes the method that renders a call's id and arguments: the
// layout UseCase.GetRendered and Invalidator.Invalidate take.
func (e *emitter) keyHelper(out *jen.File, m *model.Method, name string, id model.KeyPart, args []model.KeyArg) {
	params := []jen.Code{jen.Id(idBuf).Index().Byte()}
	parts := []model.KeyPart{id}
	for _, a := range args {
		parts = append(parts, a.Part)
	}
	for _, p := range keyParams(m, parts) {
		params = append(params, jen.Id(p.Name).Add(typeCode(p.Type)))
	}
	fail := func(err jen.Code) jen.Code { return jen.Return(jen.Id(idBuf), jen.Lit(0), err) }
	r := &renderer{fail: fail}
	r.part(id)
	if len(args) > 0 {
		r.add(jen.Id(idIDLen).Op(":=").Len(jen.Id(idBuf)))
		for i, a := range args {
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			r.add(jen.Id(idBuf).Op("=").Append(jen.Id(idBuf), jen.Lit(sep+a.Name+"=").Op("...")))
			r.part(a.Part)
		}
	}
	idLen := jen.Id(idIDLen)
	if len(args) == 0 {
		idLen = jen.Len(jen.Id(idBuf))
	}
	body := r.stmts
	if r.fallible {
		body = append([]jen.Code{jen.Var().Err().Error()}, body...)
	}
	body = append(body, jen.Return(jen.Id(idBuf), idLen, jen.Nil()))
	out.Commentf("%s renders the id and arguments of %s calls after b.", name, m.Name)
	out.Func().Params(jen.Op("*").Add(e.self())).Id(name).Params(params...).Params(jen.Index().Byte(), jen.Int(), jen.Error()).Block(body...)
	out.Line()
}

// eachKeyHelper writes the method that renders each id of a slice of
// them, the layout Invalidator.InvalidateEach takes.
func (e *emitter) eachKeyHelper(out *jen.File, m *model.Method, name string, id model.KeyPart) {
	var params []jen.Code
	for _, p := range keyParams(m, []model.KeyPart{id}) {
		params = append(params, jen.Id(p.Name).Add(typeCode(p.Type)))
	}
	outer := &renderer{fail: func(err jen.Code) jen.Code { return jen.Return(jen.Nil(), err) }}
	for _, n := range id.Nil {
		outer.add(jen.If(exprCode(n.Expr).Op("==").Nil()).Block(outer.fail(rt("NilKeyError").Call(jen.Lit(n.Text)))))
	}
	inner := &renderer{fail: outer.fail}
	inner.add(jen.Var().Id("b").Index().Byte())
	inner.value(id.Enc, jen.Id(idElem), true)
	inner.add(jen.Id(idKeys).Op("=").Append(jen.Id(idKeys), jen.Id(idBuf)))
	body := outer.stmts
	if inner.fallible {
		body = append(body, jen.Var().Err().Error())
	}
	body = append(body,
		jen.Id(idKeys).Op(":=").Make(jen.Index().Index().Byte(), jen.Lit(0), jen.Len(exprCode(id.Expr))),
		jen.For(jen.List(jen.Id("_"), jen.Id(idElem)).Op(":=").Range().Add(exprCode(id.Expr))).Block(inner.stmts...),
		jen.Return(jen.Id(idKeys), jen.Nil()))
	out.Commentf("%s renders each id of %s calls.", name, m.Name)
	out.Func().Params(jen.Op("*").Add(e.self())).Id(name).Params(params...).Params(jen.Index().Index().Byte(), jen.Error()).Block(body...)
	out.Line()
}

// A renderer accumulates the statements that append key parts to b.
type renderer struct {
	stmts    []jen.Code
	fail     func(err jen.Code) jen.Code // the return of a failed rendering
	fallible bool                        // an err variable is needed
}

func (r *renderer) add(c jen.Code) { r.stmts = append(r.stmts, c) }

// part appends a key part: its nil checks, then its value.
func (r *renderer) part(p model.KeyPart) {
	for _, n := range p.Nil {
		r.add(jen.If(exprCode(n.Expr).Op("==").Nil()).Block(r.fail(rt("NilKeyError").Call(jen.Lit(n.Text)))))
	}
	r.value(p.Enc, exprCode(p.Expr), isSimple(p.Expr))
}

// value appends the statements that render v with enc.
func (r *renderer) value(enc *model.Encoder, v *jen.Statement, simple bool) {
	switch enc.Kind {
	case model.EncNilable:
		if !simple {
			// Evaluate once: v is used twice.
			inner := &renderer{fail: r.fail}
			inner.add(jen.Id(idElem).Op(":=").Add(v))
			inner.value(enc, jen.Id(idElem), true)
			r.fallible = r.fallible || inner.fallible
			r.add(jen.Block(inner.stmts...))
			return
		}
		elem := v.Clone()
		if enc.Deref {
			elem = jen.Op("*").Add(v.Clone())
			if callsMethod(enc.Elem) {
				elem = jen.Parens(elem)
			}
		}
		inner := &renderer{fail: r.fail}
		if enc.Marked {
			inner.add(jen.Id(idBuf).Op("=").Append(jen.Id(idBuf), jen.LitRune('*')))
		}
		inner.value(enc.Elem, elem, true)
		r.fallible = r.fallible || inner.fallible
		r.add(jen.If(v.Clone().Op("==").Nil()).Block(
			jen.Id(idBuf).Op("=").Add(rt("AppendNil")).Call(jen.Id(idBuf)),
		).Else().Block(inner.stmts...))
	case model.EncText:
		r.fallible = true
		r.add(jen.If(jen.List(jen.Id(idBuf), jen.Id(idErr)).Op("=").Add(rt("AppendText")).Call(jen.Id(idBuf), v), jen.Id(idErr).Op("!=").Nil()).Block(r.fail(jen.Id(idErr))))
	case model.EncSlice:
		if enc.Elem.Fallible() {
			r.fallible = true
			r.add(jen.If(jen.List(jen.Id(idBuf), jen.Id(idErr)).Op("=").Add(rt("AppendSliceErr")).Call(jen.Id(idBuf), v, elemFunc(enc.Elem)), jen.Id(idErr).Op("!=").Nil()).Block(r.fail(jen.Id(idErr))))
			return
		}
		r.add(jen.Id(idBuf).Op("=").Add(rt("AppendSlice")).Call(jen.Id(idBuf), v, elemFunc(enc.Elem)))
	default:
		r.add(jen.Id(idBuf).Op("=").Add(appendCall(enc, v)))
	}
}

// callsMethod reports whether rendering a value with enc calls a method
// on it, which a dereference needs parentheses for: (*p).CacheKey().
func callsMethod(enc *model.Encoder) bool {
	switch enc.Kind {
	case model.EncCacheKey, model.EncStringer:
		return true
	case model.EncNilable:
		return !enc.Deref && callsMethod(enc.Elem)
	}
	return false
}

// An appendFunc is the runtime's Append function of an encoder kind.
type appendFunc struct {
	name    string // AppendString
	conv    string // the type a value converts to, when the encoder says so
	method  string // the method whose result it renders: CacheKey, String
	bits    int    // a float's size, its last argument
	generic bool   // instantiated with the value's type
}

// appendFuncs are the Append functions by encoder kind.
var appendFuncs = map[model.EncKind]appendFunc{
	model.EncString:   {name: "AppendString", conv: "string"},
	model.EncBytes:    {name: "AppendBytes", conv: "[]byte"},
	model.EncBool:     {name: "AppendBool", conv: "bool"},
	model.EncInt:      {name: "AppendInt", conv: "int64"},
	model.EncUint:     {name: "AppendUint", conv: "uint64"},
	model.EncFloat32:  {name: "AppendFloat", conv: "float64", bits: 32},
	model.EncFloat64:  {name: "AppendFloat", conv: "float64", bits: 64},
	model.EncTime:     {name: "AppendTime"},
	model.EncDuration: {name: "AppendDuration"},
	model.EncText:     {name: "AppendText", generic: true},
	model.EncCacheKey: {name: "AppendString", method: "CacheKey"},
	model.EncStringer: {name: "AppendString", method: "String"},
}

// appendCall is the call of the Append function of an infallible scalar.
func appendCall(enc *model.Encoder, v *jen.Statement) *jen.Statement {
	f, ok := appendFuncs[enc.Kind]
	if !ok {
		panic(fmt.Sprintf("gen: no Append function for encoder kind %d", enc.Kind))
	}
	arg := v
	switch {
	case f.method != "":
		arg = v.Clone().Dot(f.method).Call()
	case enc.Conv && f.conv == "[]byte":
		arg = jen.Index().Byte().Call(v)
	case enc.Conv:
		arg = jen.Id(f.conv).Call(v)
	}
	args := []jen.Code{jen.Id(idBuf), arg}
	if f.bits != 0 {
		args = append(args, jen.Lit(f.bits))
	}
	return rt(f.name).Call(args...)
}

// elemFunc is the function that renders one slice element: an Append
// function itself when its signature fits, or a literal.
func elemFunc(enc *model.Encoder) jen.Code {
	if f, ok := appendFuncs[enc.Kind]; ok && !enc.Conv && f.method == "" && f.bits == 0 {
		if f.generic {
			return rt(f.name).Types(typeCode(enc.Type))
		}
		return rt(f.name)
	}
	params := jen.Params(jen.Id(idBuf).Index().Byte(), jen.Id(idElem).Add(typeCode(enc.Type)))
	if enc.Fallible() {
		inner := &renderer{fail: func(err jen.Code) jen.Code { return jen.Return(jen.Id(idBuf), err) }}
		inner.value(enc, jen.Id(idElem), true)
		body := append([]jen.Code{jen.Var().Err().Error()}, inner.stmts...)
		body = append(body, jen.Return(jen.Id(idBuf), jen.Nil()))
		return jen.Func().Add(params).Params(jen.Index().Byte(), jen.Error()).Block(body...)
	}
	inner := &renderer{fail: func(err jen.Code) jen.Code { return jen.Return(jen.Id(idBuf)) }}
	inner.value(enc, jen.Id(idElem), true)
	if len(inner.stmts) == 1 && enc.Kind != model.EncNilable && enc.Kind != model.EncSlice {
		return jen.Func().Add(params).Index().Byte().Block(jen.Return(appendCall(enc, jen.Id(idElem))))
	}
	return jen.Func().Add(params).Index().Byte().Block(append(inner.stmts, jen.Return(jen.Id(idBuf)))...)
}

// exprCode is the Go code of a key expression.
func exprCode(x model.Expr) *jen.Statement {
	switch x := x.(type) {
	case model.ParamRef:
		return jen.Id(x.Name)
	case model.Selector:
		return operand(x.X).Dot(x.Name)
	case model.MethodCall:
		return operand(x.X).Dot(x.Name).Call()
	case model.Conversion:
		switch x.To.(type) {
		case model.Pointer, *model.Func, model.Chan:
			return jen.Parens(typeCode(x.To)).Call(exprCode(x.X))
		}
		return typeCode(x.To).Call(exprCode(x.X))
	case model.Deref:
		return jen.Op("*").Add(exprCode(x.X))
	}
	panic(fmt.Sprintf("gen: unknown expression %T", x))
}

// operand is x as the operand of a selector: a dereference needs
// parentheses there.
func operand(x model.Expr) *jen.Statement {
	if _, ok := x.(model.Deref); ok {
		return jen.Parens(exprCode(x))
	}
	return exprCode(x)
}
