package gen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"strings"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// A keyScope checks the key expressions of one method.
type keyScope struct {
	l      *loader
	method string
	all    []*types.Var // every parameter, for error messages
	params []*types.Var // the parameters after the context
	pkg    *types.Package
	anchor token.Pos // where type names in conversions are resolved
	// file is the syntax of the method's file when it is in another
	// package, whose export data keeps no file scopes: names are
	// resolved through its imports.
	file *ast.File
}

func (l *loader) newKeyScope(method string, m *types.Func, sig *types.Signature) *keyScope {
	sc := &keyScope{l: l, method: method, pkg: m.Pkg()}
	for i := range sig.Params().Len() {
		p := sig.Params().At(i)
		sc.all = append(sc.all, p)
		if i > 0 {
			sc.params = append(sc.params, p)
		}
	}
	if m.Pkg() == l.pkg.Types {
		sc.anchor = m.Pos()
	} else if other := l.others[l.fset.Position(m.Pos()).Filename]; other != nil {
		sc.file = other.file
	}
	return sc
}

// typeString spells t as the source would: types of this package bare,
// others by package name.
func (l *loader) typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == l.pkg.Types {
			return ""
		}
		return p.Name()
	})
}

func (sc *keyScope) param(name string) *types.Var {
	for _, p := range sc.all {
		if p.Name() == name && name != "_" {
			return p
		}
	}
	return nil
}

func (sc *keyScope) notAParam(name string) string {
	names := make([]string, 0, len(sc.all))
	for _, p := range sc.all {
		names = append(names, p.Name())
	}
	return fmt.Sprintf("%q is not a parameter of %s (have %s)", name, sc.method, strings.Join(names, ", "))
}

// check parses and checks the key expression src, written at pos. It
// returns the key part and, when src is a bare parameter, its name.
func (sc *keyScope) check(src string, pos token.Position) (model.KeyPart, string, bool) {
	e, err := parser.ParseExpr(src)
	if err != nil || src == "" {
		sc.l.errorf(pos, "%q is not a Go expression", src)
		return model.KeyPart{}, "", false
	}
	var part model.KeyPart
	x, t, ok := sc.expr(e, &part, pos)
	if !ok {
		return model.KeyPart{}, "", false
	}
	part.Expr = x
	bare := ""
	if id, isIdent := ast.Unparen(e).(*ast.Ident); isIdent {
		bare = id.Name
	}
	var msg string
	part.Enc, msg = sc.encoder(t, addressable(x), pos)
	if part.Enc == nil {
		hint := "use //gcache:arg to render it through an expression that is"
		if bare != "" {
			hint = fmt.Sprintf("add //gcache:arg %s=EXPR or //gcache:ignore %s", bare, bare)
		}
		sc.l.errorf(pos, "%s: %s; %s", src, msg, hint)
		return model.KeyPart{}, "", false
	}
	return part, bare, true
}

// at returns the position of node n of an expression written at pos.
func at(pos token.Position, n ast.Node) token.Position { return shift(pos, int(n.Pos())-1) }

func (sc *keyScope) expr(e ast.Expr, part *model.KeyPart, pos token.Position) (model.Expr, types.Type, bool) {
	fail := func(n ast.Node, format string, args ...any) (model.Expr, types.Type, bool) {
		sc.l.errorf(at(pos, n), format, args...)
		return nil, nil, false
	}
	switch e := e.(type) {
	case *ast.ParenExpr:
		return sc.expr(e.X, part, pos)
	case *ast.Ident:
		p := sc.param(e.Name)
		if p == nil {
			return fail(e, "%s", sc.notAParam(e.Name))
		}
		return model.ParamRef{Name: e.Name}, p.Type(), true
	case *ast.StarExpr:
		x, t, ok := sc.expr(e.X, part, pos)
		if !ok {
			return nil, nil, false
		}
		p, isPtr := t.Underlying().(*types.Pointer)
		if !isPtr {
			return fail(e, "cannot dereference %s of type %s", text(e.X), sc.l.typeString(t))
		}
		part.Nil = append(part.Nil, model.NilCheck{Expr: x, Text: text(e.X)})
		return model.Deref{X: x}, p.Elem(), true
	case *ast.SelectorExpr:
		if id, ok := e.X.(*ast.Ident); ok && sc.param(id.Name) == nil {
			return fail(e, "%s: %s", text(e), sc.notAParam(id.Name))
		}
		x, t, ok := sc.expr(e.X, part, pos)
		if !ok {
			return nil, nil, false
		}
		obj, index, _ := types.LookupFieldOrMethod(t, true, sc.pkg, e.Sel.Name)
		switch obj := obj.(type) {
		case *types.Var:
			x = sc.walkEmbedded(x, t, index, part, text(e.X), true)
			return model.Selector{X: x, Name: e.Sel.Name}, obj.Type(), true
		case *types.Func:
			return fail(e.Sel, "%s is a method: call it, %s()", text(e), text(e))
		}
		return fail(e.Sel, "%s (of type %s) has no field or method %s", text(e.X), sc.l.typeString(t), e.Sel.Name)
	case *ast.CallExpr:
		if len(e.Args) == 0 {
			return sc.methodCall(e, part, pos)
		}
		if len(e.Args) == 1 && !e.Ellipsis.IsValid() {
			return sc.conversion(e, part, pos)
		}
		return fail(e, "%s: a key expression calls methods without arguments, or converts one value", text(e))
	}
	return fail(e, "%s: want a parameter, a field or method selector chain, or a conversion", text(e))
}

// walkEmbedded follows the embedded fields of a promoted field or method's
// index path from x, of type t. Every pointer it dereferences on the way
// gets a nil check; so does the final receiver when derefLast is set (a
// field, or a method that a nil receiver would make panic).
func (sc *keyScope) walkEmbedded(x model.Expr, t types.Type, index []int, part *model.KeyPart, src string, derefLast bool) model.Expr {
	for _, i := range index[:len(index)-1] {
		if isPointer(t) {
			part.Nil = append(part.Nil, model.NilCheck{Expr: x, Text: src})
		}
		st, ok := deref(t).Underlying().(*types.Struct)
		if !ok {
			break
		}
		f := st.Field(i)
		x = model.Selector{X: x, Name: f.Name()}
		src += "." + f.Name()
		t = f.Type()
	}
	if derefLast && (isPointer(t) || types.IsInterface(t)) {
		part.Nil = append(part.Nil, model.NilCheck{Expr: x, Text: src})
	}
	return x
}

func isPointer(t types.Type) bool {
	_, ok := t.Underlying().(*types.Pointer)
	return ok
}

func deref(t types.Type) types.Type {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}

func (sc *keyScope) methodCall(e *ast.CallExpr, part *model.KeyPart, pos token.Position) (model.Expr, types.Type, bool) {
	sel, ok := e.Fun.(*ast.SelectorExpr)
	if !ok {
		sc.l.errorf(at(pos, e), "%s: only methods are called in a key expression", text(e))
		return nil, nil, false
	}
	if id, ok := sel.X.(*ast.Ident); ok && sc.param(id.Name) == nil {
		sc.l.errorf(at(pos, sel), "%s: %s", text(sel), sc.notAParam(id.Name))
		return nil, nil, false
	}
	x, t, ok := sc.expr(sel.X, part, pos)
	if !ok {
		return nil, nil, false
	}
	obj, index, _ := types.LookupFieldOrMethod(t, addressable(x), sc.pkg, sel.Sel.Name)
	fn, isFunc := obj.(*types.Func)
	if !isFunc {
		if obj == nil {
			if other, _, _ := types.LookupFieldOrMethod(t, true, sc.pkg, sel.Sel.Name); other != nil {
				sc.l.errorf(at(pos, sel.Sel), "%s has a pointer receiver and %s is not addressable", text(sel), text(sel.X))
				return nil, nil, false
			}
		}
		sc.l.errorf(at(pos, sel.Sel), "%s (of type %s) has no method %s", text(sel.X), sc.l.typeString(t), sel.Sel.Name)
		return nil, nil, false
	}
	sig := fn.Type().(*types.Signature)
	if sig.Params().Len() != 0 || sig.Results().Len() != 1 {
		sc.l.errorf(at(pos, sel.Sel), "%s must take no arguments and return one value", text(sel))
		return nil, nil, false
	}
	// A method with a pointer receiver may accept nil; any other call
	// through a nil pointer or interface panics.
	_, ptrRecv := sig.Recv().Type().Underlying().(*types.Pointer)
	x = sc.walkEmbedded(x, t, index, part, text(sel.X), !ptrRecv)
	return model.MethodCall{X: x, Name: sel.Sel.Name}, sig.Results().At(0).Type(), true
}

func (sc *keyScope) conversion(e *ast.CallExpr, part *model.KeyPart, pos token.Position) (model.Expr, types.Type, bool) {
	tv, err := types.Eval(sc.l.fset, sc.pkg, sc.anchor, text(e.Fun))
	if err != nil || !tv.IsType() {
		sc.l.errorf(at(pos, e.Fun), "%s: a key expression calls methods without arguments, or converts to a type", text(e))
		return nil, nil, false
	}
	x, t, ok := sc.expr(e.Args[0], part, pos)
	if !ok {
		return nil, nil, false
	}
	if !types.ConvertibleTo(t, tv.Type) {
		sc.l.errorf(at(pos, e), "cannot convert %s (of type %s) to %s", text(e.Args[0]), sc.l.typeString(t), sc.l.typeString(tv.Type))
		return nil, nil, false
	}
	if why := lossy(t, tv.Type); why != "" {
		sc.l.errorf(at(pos, e), "%s: converting %s to %s %s, so different values would share a key; convert to a type that holds every value of %s", text(e), sc.l.typeString(t), sc.l.typeString(tv.Type), why, sc.l.typeString(t))
		return nil, nil, false
	}
	return model.Conversion{To: sc.l.typeOf(tv.Type, pos), X: x}, tv.Type, true
}

func text(n ast.Node) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, token.NewFileSet(), n)
	return b.String()
}

// encoder returns how a value of type t renders into a key, or nil and the
// reason it cannot.
func (sc *keyScope) encoder(t types.Type, addr bool, pos token.Position) (*model.Encoder, string) {
	if e := timeEncoder(t); e != nil {
		return e, ""
	}
	if p, ok := t.Underlying().(*types.Pointer); ok && timeEncoder(p.Elem()) != nil {
		// Before the methods: *time.Time has MarshalText, which would keep
		// the time's zone in the key.
		return &model.Encoder{Kind: model.EncNilable, Elem: timeEncoder(p.Elem()), Deref: true}, ""
	}
	if e, msg, found := sc.methodEncoder(t, addr); found {
		return e, msg
	}
	if tp, ok := t.(*types.TypeParam); ok {
		core := coreType(tp)
		if core == nil {
			return nil, fmt.Sprintf("type parameter %s has no single underlying type nor a CacheKey or MarshalText method", sc.l.typeString(tp))
		}
		e, msg := sc.encoder(core, addr, pos)
		if e != nil {
			e.Conv = true
		}
		return e, msg
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if e := sc.basicEncoder(t, u, addr); e != nil {
			return e, ""
		}
	case *types.Slice:
		return sc.sliceEncoder(t, u, pos)
	case *types.Pointer:
		elem, msg := sc.encoder(u.Elem(), true, pos)
		if elem == nil {
			return nil, msg
		}
		// A pointee that can itself be nil is marked, so that the nil
		// pointer and the pointer to nil render apart.
		return &model.Encoder{Kind: model.EncNilable, Elem: elem, Deref: true, Marked: elem.Kind == model.EncNilable}, ""
	}
	return nil, fmt.Sprintf("type %s is not key-encodable (want a string, bool, number, []byte, time.Time, time.Duration, a pointer or slice of those, or a type with CacheKey() string or MarshalText)", sc.l.typeString(t))
}

// timeEncoder returns the encoder of time.Time or time.Duration, or nil
// when t is neither.
func timeEncoder(t types.Type) *model.Encoder {
	switch {
	case isNamed(t, "time", "Time"):
		return &model.Encoder{Kind: model.EncTime}
	case isNamed(t, "time", "Duration"):
		return &model.Encoder{Kind: model.EncDuration}
	}
	return nil
}

// methodEncoder returns the encoder of a type that renders itself, with
// CacheKey or MarshalText; found is false when t has neither.
func (sc *keyScope) methodEncoder(t types.Type, addr bool) (e *model.Encoder, msg string, found bool) {
	_, isIface := t.Underlying().(*types.Interface)
	_, isPtr := t.Underlying().(*types.Pointer)
	if _, isTP := t.(*types.TypeParam); isTP {
		isIface = false
	}
	for _, m := range []struct {
		name string
		kind model.EncKind
		ok   func(*types.Signature) bool
	}{
		{"CacheKey", model.EncCacheKey, returnsString},
		{"MarshalText", model.EncText, returnsBytesError},
	} {
		has, via := sc.lookupMethod(t, m.name, m.ok, addr)
		switch {
		case !has:
			continue
		case via != "":
			return nil, fmt.Sprintf("type %s has %s only through its embedded field %s, so its keys would render %s alone and drop its other fields; declare %s on %s itself", sc.l.typeString(t), m.name, via, via, m.name, sc.l.typeString(deref(t))), true
		case isIface || isPtr:
			// A nil interface or pointer renders "nil" rather than panic.
			return &model.Encoder{Kind: model.EncNilable, Elem: &model.Encoder{Kind: m.kind}}, "", true
		}
		return &model.Encoder{Kind: m.kind}, "", true
	}
	return nil, "", false
}

// basicEncoder returns the encoder of t, whose underlying type is u, or
// nil when it has none (complex numbers, uintptr).
func (sc *keyScope) basicEncoder(t types.Type, u *types.Basic, addr bool) *model.Encoder {
	enc := func(kind model.EncKind, target types.BasicKind) *model.Encoder {
		return &model.Encoder{Kind: kind, Conv: !types.Identical(t, types.Typ[target])}
	}
	switch info := u.Info(); {
	case u.Kind() == types.String:
		return enc(model.EncString, types.String)
	case u.Kind() == types.Bool:
		return enc(model.EncBool, types.Bool)
	case info&types.IsInteger != 0 && isStringer(sc, t, addr):
		// Keyed by name, so that renumbering the constants keeps what
		// the keys mean.
		return &model.Encoder{Kind: model.EncStringer}
	case info&types.IsInteger != 0 && info&types.IsUnsigned == 0:
		return enc(model.EncInt, types.Int64)
	case info&types.IsInteger != 0 && u.Kind() != types.Uintptr:
		return enc(model.EncUint, types.Uint64)
	case u.Kind() == types.Float32:
		return &model.Encoder{Kind: model.EncFloat32, Conv: true}
	case u.Kind() == types.Float64:
		return enc(model.EncFloat64, types.Float64)
	}
	return nil
}

// sliceEncoder returns the encoder of t, a slice type whose underlying
// type is u: []byte renders as its text, any other slice element by
// element.
func (sc *keyScope) sliceEncoder(t types.Type, u *types.Slice, pos token.Position) (*model.Encoder, string) {
	if types.Identical(u.Elem(), types.Typ[types.Uint8]) {
		return &model.Encoder{Kind: model.EncBytes, Conv: !types.Identical(t, types.NewSlice(types.Typ[types.Uint8]))}, ""
	}
	elem, msg := sc.encoder(u.Elem(), true, pos)
	if elem == nil {
		return nil, "its elements are not key-encodable: " + msg
	}
	elem.Type = sc.l.typeOf(u.Elem(), pos)
	return &model.Encoder{Kind: model.EncSlice, Elem: elem}, ""
}

// isStringer reports whether t is a defined type with a String() string
// method of its own.
func isStringer(sc *keyScope, t types.Type, addr bool) bool {
	if _, named := types.Unalias(t).(*types.Named); !named {
		return false
	}
	found, via := sc.lookupMethod(t, "String", returnsString, addr)
	return found && via == ""
}

// lookupMethod reports whether t has method name with a signature ok accepts;
// with addr, pointer-receiver methods count too. When the method is
// promoted from an embedded field, via names that field.
func (sc *keyScope) lookupMethod(t types.Type, name string, ok func(*types.Signature) bool, addr bool) (found bool, via string) {
	obj, index, _ := types.LookupFieldOrMethod(t, addr, sc.pkg, name)
	fn, isFunc := obj.(*types.Func)
	if !isFunc || !ok(fn.Type().(*types.Signature)) {
		return false, ""
	}
	if len(index) > 1 {
		if st, isStruct := deref(t).Underlying().(*types.Struct); isStruct {
			return true, st.Field(index[0]).Name()
		}
	}
	return true, ""
}

func returnsString(sig *types.Signature) bool {
	return sig.Params().Len() == 0 && sig.Results().Len() == 1 && types.Identical(sig.Results().At(0).Type(), types.Typ[types.String])
}

func returnsBytesError(sig *types.Signature) bool {
	return sig.Params().Len() == 0 && sig.Results().Len() == 2 &&
		types.Identical(sig.Results().At(0).Type(), types.NewSlice(types.Typ[types.Uint8])) && isError(sig.Results().At(1).Type())
}

// coreType returns the one underlying type of a type parameter's type set,
// or nil when there is none.
func coreType(tp *types.TypeParam) types.Type {
	iface, ok := tp.Constraint().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var core types.Type
	for i := range iface.NumEmbeddeds() {
		terms := []types.Type{iface.EmbeddedType(i)}
		if u, ok := iface.EmbeddedType(i).(*types.Union); ok {
			terms = terms[:0]
			for j := range u.Len() {
				terms = append(terms, u.Term(j).Type())
			}
		}
		for _, term := range terms {
			under := term.Underlying()
			if _, isIface := under.(*types.Interface); isIface {
				return nil
			}
			if core != nil && !types.Identical(core, under) {
				return nil
			}
			core = under
		}
	}
	return core
}

// lossy says how converting a value of type from to type to loses
// information, or returns "" when every value converts to a distinct one.
// int, uint and uintptr count as 64 bits converted from and 32 bits
// converted to, so that a conversion is lossless on every platform.
func lossy(from, to types.Type) string {
	if isRunes(from) && isString(to) || isString(from) && isRunes(to) {
		return "replaces invalid UTF-8 and code points with U+FFFD"
	}
	f, fok := from.Underlying().(*types.Basic)
	t, tok := to.Underlying().(*types.Basic)
	if !fok || !tok || f.Kind() == t.Kind() {
		return ""
	}
	fi, ti := f.Info(), t.Info()
	switch {
	case fi&types.IsInteger != 0 && ti&types.IsString != 0:
		return "keeps one code point and turns invalid ones into U+FFFD"
	case fi&types.IsInteger != 0 && ti&types.IsInteger != 0 && intBits(t, 32) < intBits(f, 64):
		return "drops high bits"
	case fi&types.IsInteger != 0 && ti&types.IsFloat != 0 && magnitude(f) > mantissa(t):
		return "rounds large integers"
	case fi&types.IsFloat != 0 && ti&types.IsInteger != 0:
		return "drops the fraction"
	case f.Kind() == types.Float64 && t.Kind() == types.Float32:
		return "rounds to 32 bits"
	}
	return ""
}

// magnitude is the number of bits of an integer kind's absolute value.
func magnitude(b *types.Basic) int {
	if b.Info()&types.IsUnsigned != 0 {
		return intBits(b, 64)
	}
	return intBits(b, 64) - 1
}

// mantissa is the number of bits a float kind holds integers in exactly.
func mantissa(b *types.Basic) int {
	if b.Kind() == types.Float32 {
		return 24
	}
	return 53
}

// intBits is the size of an integer kind; platform is the size taken for
// int, uint and uintptr.
func intBits(b *types.Basic, platform int) int {
	switch b.Kind() {
	case types.Int8, types.Uint8:
		return 8
	case types.Int16, types.Uint16:
		return 16
	case types.Int32, types.Uint32:
		return 32
	case types.Int64, types.Uint64:
		return 64
	}
	return platform
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

func isRunes(t types.Type) bool {
	s, ok := t.Underlying().(*types.Slice)
	return ok && types.Identical(s.Elem().Underlying(), types.Typ[types.Int32])
}
