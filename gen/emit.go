package gen

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"
	"time"
	"unicode"

	"github.com/dave/jennifer/jen"
	"github.com/gcache-go/gcache/gen/internal/model"
)

// keyBufferSize is the stack buffer a decorator renders keys into; longer
// keys move to the heap.
const keyBufferSize = 128

// emit renders the Go source of f.
func emit(f *model.File) ([]byte, error) {
	aliases := name(f)
	out := jen.NewFilePathName(f.Package.Path, f.Package.Name)
	out.HeaderComment(header)
	for _, line := range f.BuildLines {
		out.HeaderComment(line)
	}
	for path, alias := range aliases {
		if alias == packageName(f, path) {
			out.ImportName(path, alias)
		} else {
			out.ImportAlias(path, alias)
		}
	}
	// The constructor declares the decorator's fields as locals: they
	// must not shadow the imports or the package's names it may use.
	reserved := map[string]bool{}
	for _, n := range f.Scope {
		reserved[n] = true
	}
	for _, alias := range aliases {
		reserved[alias] = true
	}
	for _, iface := range f.Interfaces {
		(&emitter{iface: iface, reserved: reserved}).decorator(out)
	}
	var buf bytes.Buffer
	if err := out.Render(&buf); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", f.Path, err)
	}
	return groupImports(buf.Bytes())
}

// groupImports puts the standard library's imports of src first and the
// others after a blank line, as goimports would.
func groupImports(src []byte) ([]byte, error) {
	start := bytes.Index(src, []byte("\nimport (\n"))
	if start < 0 {
		return src, nil
	}
	start += len("\nimport (\n")
	end := start + bytes.Index(src[start:], []byte("\n)\n"))
	var std, others []string
	for _, line := range strings.Split(string(src[start:end]), "\n") {
		path := line[strings.IndexByte(line, '"')+1:]
		if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
			others = append(others, line)
		} else {
			std = append(std, line)
		}
	}
	block := strings.Join(std, "\n")
	if len(std) > 0 && len(others) > 0 {
		block += "\n\n"
	}
	block += strings.Join(others, "\n")
	out := append(append(append([]byte(nil), src[:start]...), block...), src[end:]...)
	return format.Source(out)
}

func packageName(f *model.File, path string) string {
	switch path {
	case runtimePath:
		return "runtime"
	case "time", "context":
		return path
	}
	return f.Imports[path]
}

func rt(name string) *jen.Statement { return jen.Qual(runtimePath, name) }

// emitter writes the decorator of one interface.
type emitter struct {
	iface *model.Interface
	// reserved are the names the constructor's locals must not take: the
	// package's declarations, the predeclared identifiers and the
	// imports.
	reserved map[string]bool
	// Per method: the decorator's field and key helpers, in the order of
	// the method's use case, then invalidations.
	fields  map[*model.Method][]string
	helpers map[*model.Method][]string
	// The constructor's parameters and error variable: next, c and err,
	// unless the package declares those names, which the specs the
	// constructor builds may use (a negative sentinel).
	next, cache, err string
}

// names allocates the constructor's variables, and the decorator's field
// and helper names: distinct from each other, from the methods, from the
// constructor's variables, and from the names the constructor uses, since
// its locals take the fields' names.
func (e *emitter) names() {
	e.fields, e.helpers = map[*model.Method][]string{}, map[*model.Method][]string{}
	taken := map[string]bool{}
	for n := range e.reserved {
		taken[n] = true
	}
	for _, tp := range e.iface.TypeParams {
		taken[tp.Name] = true
	}
	e.next, e.cache, e.err = unique("next", taken), unique("c", taken), unique("err", taken)
	// The field next and the methods' receiver c are not locals of the
	// constructor; they keep their names.
	taken["next"], taken["c"] = true, true
	for _, m := range e.iface.Methods {
		taken[m.Name] = true
	}
	for _, m := range e.iface.Methods {
		base := lowerFirst(m.Name)
		if m.Cache != nil {
			e.fields[m] = append(e.fields[m], unique(base, taken))
			e.helpers[m] = append(e.helpers[m], unique(base+"Key", taken))
		}
		for _, inv := range m.Invalidations {
			name := base
			if len(m.Invalidations) > 1 {
				name += camel(inv.KeyType)
			}
			helper := name + "Key"
			if inv.Each {
				helper += "s"
			}
			e.fields[m] = append(e.fields[m], unique(name, taken))
			e.helpers[m] = append(e.helpers[m], unique(helper, taken))
		}
	}
}

// camel spells a key type as part of an identifier: user_id → UserID,
// page.v2 → PageV2.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '.' || r == '-' }) {
		if w == "id" {
			b.WriteString("ID")
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func lowerFirst(s string) string {
	r := []rune(s)
	i := 0
	for i < len(r) && unicode.IsUpper(r[i]) {
		i++
	}
	if i > 1 && i < len(r) {
		i-- // keep the capital that starts the next word: URLPath → urlPath
	}
	return strings.ToLower(string(r[:i])) + string(r[i:])
}

// typeParams returns the decorator's type parameter list and arguments.
func (e *emitter) typeParams() (params, args []jen.Code) {
	for _, tp := range e.iface.TypeParams {
		params = append(params, jen.Id(tp.Name).Add(constraintCode(tp.Constraint)))
		args = append(args, jen.Id(tp.Name))
	}
	return params, args
}

// self is the decorator type with its type arguments.
func (e *emitter) self() *jen.Statement {
	_, args := e.typeParams()
	s := jen.Id(e.iface.Decorator)
	if len(args) > 0 {
		s = s.Types(args...)
	}
	return s
}

func (e *emitter) wrappedType() *jen.Statement {
	_, args := e.typeParams()
	s := jen.Id(e.iface.Name)
	if len(args) > 0 {
		s = s.Types(args...)
	}
	return s
}

func (e *emitter) decorator(out *jen.File) {
	e.names()
	d, iface := e.iface.Decorator, e.iface.Name
	tparams, _ := e.typeParams()

	var cached, fields []jen.Code
	fields = append(fields, jen.Id("next").Add(e.wrappedType()))
	for _, m := range e.iface.Methods {
		names := e.fields[m]
		if m.Cache != nil {
			fields = append(fields, jen.Id(names[0]).Op("*").Add(rt("UseCase")).Types(typeCode(m.Cache.Value)))
			cached = append(cached, jen.Lit(m.Cache.UseCase))
			names = names[1:]
		}
		for _, n := range names {
			fields = append(fields, jen.Id(n).Op("*").Add(rt("Invalidator")))
		}
	}
	out.Commentf("%s is a caching decorator of %s, made from its //gcache:", d, iface)
	out.Commentf("annotations. Methods without annotations call the wrapped %s.", iface)
	out.Type().Id(d).Types(tparams...).Struct(fields...)
	out.Line()

	e.constructor(out)
	if len(tparams) == 0 {
		out.Var().Id("_").Id(iface).Op("=").Parens(jen.Op("*").Id(d)).Parens(jen.Nil())
		out.Line()
	}
	for _, m := range e.iface.Methods {
		switch {
		case m.Cache != nil && m.Cache.Batch != nil:
			e.batchMethod(out, m)
		case m.Cache != nil:
			e.cachedMethod(out, m)
		case len(m.Invalidations) > 0:
			e.invalidatingMethod(out, m)
		default:
			e.passThrough(out, m)
		}
	}
}

func (e *emitter) constructor(out *jen.File) {
	d := e.iface.Decorator
	tparams, _ := e.typeParams()
	var useCases []string
	for _, m := range e.iface.Methods {
		if m.Cache != nil {
			useCases = append(useCases, m.Cache.UseCase)
		}
	}
	out.Commentf("New%s returns a decorator of %s that caches through %s.", d, e.next, e.cache)
	switch {
	case len(useCases) > 0 && len(tparams) > 0:
		out.Commentf("It registers its use cases on %s, which takes one decorator of each instantiation.", e.cache)
	case len(useCases) > 0:
		out.Commentf("It registers its use cases on %s, which takes one decorator of %s.", e.cache, e.iface.Name)
	}
	body := []jen.Code{}
	if len(tparams) > 0 {
		body = append(body, jen.Var().Id("_").Add(e.wrappedType()).Op("=").Parens(jen.Op("*").Add(e.self())).Parens(jen.Nil()))
	}
	values := []kv{{"next", jen.Id(e.next)}}
	for _, m := range e.iface.Methods {
		names := e.fields[m]
		if m.Cache != nil {
			n := names[0]
			names = names[1:]
			values = append(values, kv{n, jen.Id(n)})
			body = append(body,
				jen.List(jen.Id(n), jen.Id(e.err)).Op(":=").Add(rt("NewUseCase")).Types(typeCode(m.Cache.Value)).Call(jen.Id(e.cache), e.spec(m.Cache)),
				e.ifErrReturn())
		}
		for i, n := range names {
			inv := m.Invalidations[i]
			args := []jen.Code{jen.Id(e.cache), jen.Lit(inv.KeyType)}
			if inv.Buffer > 0 {
				args = append(args, rt("WithFutureBuffer").Call(durationCode(inv.Buffer)))
			}
			values = append(values, kv{n, jen.Id(n)})
			body = append(body, jen.List(jen.Id(n), jen.Id(e.err)).Op(":=").Add(rt("NewInvalidator")).Call(args...), e.ifErrReturn())
		}
	}
	body = append(body, jen.Return(jen.Op("&").Add(literal(e.self(), values...)), jen.Nil()))
	out.Func().Id("New"+d).Types(tparams...).
		Params(jen.Id(e.next).Add(e.wrappedType()), jen.Id(e.cache).Op("*").Add(rt("Cache"))).
		Params(jen.Op("*").Add(e.self()), jen.Error()).
		Block(body...)
	out.Line()
}

// kv is one field of a composite literal.
type kv struct {
	key   string
	value jen.Code
}

// literal is a composite literal with its fields in the order given, one
// per line.
func literal(typ *jen.Statement, fields ...kv) *jen.Statement {
	items := make([]jen.Code, len(fields))
	for i, f := range fields {
		items[i] = jen.Id(f.key).Op(":").Add(f.value)
	}
	return typ.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...)
}

// ifErrReturn is the constructor's return of a failed registration.
func (e *emitter) ifErrReturn() jen.Code {
	return jen.If(jen.Id(e.err).Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id(e.err)))
}

// spec is the UseCaseSpec literal of a use case.
func (e *emitter) spec(c *model.Cache) jen.Code {
	fields := []kv{{"Name", e.useCaseName(c)}, {"KeyType", jen.Lit(c.KeyType)}}
	if c.Tracked {
		fields = append(fields, kv{"Tracked", jen.True()})
	}
	var layers []kv
	for i, name := range []string{"Local", "Remote"} {
		if l := c.Default[i]; l.TTL > 0 || l.Ramp > 0 {
			layers = append(layers, kv{name, rt("LayerConfig").Values(
				jen.Id("TTL").Op(":").Add(durationCode(l.TTL)),
				jen.Id("Ramp").Op(":").Lit(l.Ramp),
			)})
		}
	}
	if c.RefreshAt > 0 {
		layers = append(layers, kv{"RefreshAt", jen.Lit(c.RefreshAt)})
	}
	if c.NegativeTTL > 0 {
		layers = append(layers, kv{"NegativeTTL", durationCode(c.NegativeTTL)})
	}
	if c.Lease > 0 {
		layers = append(layers, kv{"Lease", durationCode(c.Lease)})
	}
	if len(layers) > 0 {
		fields = append(fields, kv{"Default", literal(rt("KeyConfig"), layers...)})
	}
	if c.Fingerprint != 0 {
		fields = append(fields, kv{"Fingerprint", jen.Op(fmt.Sprintf("0x%016x", c.Fingerprint))})
	}
	if c.Negative != nil {
		fields = append(fields, kv{"Negative", jen.Qual(c.Negative.Path, c.Negative.Name)})
	}
	return literal(rt("UseCaseSpec"), fields...)
}

// useCaseName is the name a use case registers: a generic decorator's
// carries its type arguments, so that its instantiations coexist.
func (e *emitter) useCaseName(c *model.Cache) jen.Code {
	if len(e.iface.TypeParams) == 0 {
		return jen.Lit(c.UseCase)
	}
	args := []jen.Code{jen.Lit(c.UseCase)}
	for _, tp := range e.iface.TypeParams {
		args = append(args, rt("TypeName").Types(jen.Id(tp.Name)).Call())
	}
	return rt("InstanceName").Call(args...)
}

// durationCode spells d in its largest whole unit: 5 * time.Minute.
func durationCode(d time.Duration) jen.Code {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}} {
		if d%u.d == 0 {
			if d == u.d {
				return jen.Qual("time", u.name)
			}
			return jen.Lit(int(d/u.d)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Call(jen.Lit(int(d)))
}

// signature returns the method's parameters and results as the decorator
// declares them.
func signature(m *model.Method) (params, results []jen.Code) {
	for i, p := range m.Params {
		t := typeCode(p.Type)
		if m.Variadic && i == len(m.Params)-1 {
			t = jen.Op("...").Add(typeCode(p.Type.(model.Slice).Elem))
		}
		params = append(params, jen.Id(p.Name).Add(t))
	}
	for _, r := range m.Results {
		results = append(results, typeCode(r))
	}
	return params, results
}

// forward is the call of the wrapped method with the decorator's
// arguments.
func forward(m *model.Method) *jen.Statement {
	var args []jen.Code
	for i, p := range m.Params {
		a := jen.Id(p.Name)
		if m.Variadic && i == len(m.Params)-1 {
			a = a.Op("...")
		}
		args = append(args, a)
	}
	return jen.Id("c").Dot("next").Dot(m.Name).Call(args...)
}

func (e *emitter) method(out *jen.File, m *model.Method, body ...jen.Code) {
	params, results := signature(m)
	out.Func().Params(jen.Id("c").Op("*").Add(e.self())).Id(m.Name).Params(params...).Params(results...).Block(body...)
	out.Line()
}

func (e *emitter) passThrough(out *jen.File, m *model.Method) {
	out.Commentf("%s calls the wrapped %s.", m.Name, m.Name)
	call := forward(m)
	if len(m.Results) > 0 {
		e.method(out, m, jen.Return(call))
	} else {
		e.method(out, m, call)
	}
}

func (e *emitter) cachedMethod(out *jen.File, m *model.Method) {
	c := m.Cache
	uc := jen.Id("c").Dot(e.fields[m][0])
	ctx := m.Params[0].Name
	call := forward(m)
	// fallback serves the call uncached.
	fallback := jen.Return(call)
	// The runtime makes the function only when it needs it, so that a
	// hit allocates no closure.
	fnType := jen.Func().Params(jen.Qual("context", "Context")).Params(typeCode(c.Value), jen.Error())
	newFn := func(ret jen.Code) jen.Code {
		fn := jen.Func().Params(jen.Id(ctx).Qual("context", "Context")).Params(typeCode(c.Value), jen.Error()).Block(ret)
		return jen.Func().Params().Add(fnType).Block(jen.Return(fn))
	}
	var get []jen.Code
	if c.ReturnsError {
		get = []jen.Code{jen.Return(uc.Clone().Dot("GetRendered").Call(jen.Id(ctx), jen.Id("key"), jen.Id("idLen"), newFn(jen.Return(call))))}
	} else {
		// A value-only method cannot return the error a cancelled wait
		// ends with; it calls the wrapped method instead.
		get = []jen.Code{
			jen.List(jen.Id("val"), jen.Err()).Op(":=").Add(uc.Clone().Dot("GetRendered").Call(jen.Id(ctx), jen.Id("key"), jen.Id("idLen"),
				newFn(jen.Return(call, jen.Nil())))),
			jen.If(jen.Err().Op("!=").Nil()).Block(fallback),
			jen.Return(jen.Id("val")),
		}
	}
	out.Commentf("%s serves the wrapped %s through the cache: use case %s, key type %s.", m.Name, m.Name, c.UseCase, c.KeyType)
	e.method(out, m, append([]jen.Code{
		jen.If(jen.Op("!").Add(uc.Clone().Dot("Enabled").Call(jen.Id(ctx)))).Block(fallback),
		jen.List(jen.Id("key"), jen.Id("idLen"), jen.Err()).Op(":=").Add(jen.Id("c").Dot(e.helpers[m][0]).Call(e.helperArgs(m, cacheParts(c), jen.Make(jen.Index().Byte(), jen.Lit(0), jen.Lit(keyBufferSize)))...)),
		jen.If(jen.Err().Op("!=").Nil()).Block(uc.Clone().Dot("KeyError").Call(jen.Err()), fallback),
	}, get...)...)
	e.keyHelper(out, m, e.helpers[m][0], c.ID, c.Args)
}

// batchMethod writes a batch method, which leaves the ids it gets to
// GetBatch with two closures: one that renders the key of one id, and one
// that calls the wrapped method with the ids the cache does not hold.
func (e *emitter) batchMethod(out *jen.File, m *model.Method) {
	c, b := m.Cache, m.Cache.Batch
	ctx := m.Params[0].Name
	id := typeCode(b.ID)
	key := jen.Func().Params(jen.Id("b").Index().Byte(), jen.Id(b.Elem).Add(id.Clone())).Params(jen.Index().Byte(), jen.Int(), jen.Error()).Block(
		jen.Return(jen.Id("c").Dot(e.helpers[m][0]).Call(e.helperArgs(m, cacheParts(c), jen.Id("b"))...)),
	)
	load := jen.Func().Params(jen.Id(ctx).Qual("context", "Context"), jen.Id(b.Param).Index().Add(id.Clone())).
		Params(jen.Map(id.Clone()).Add(typeCode(c.Value)), jen.Error()).
		Block(jen.Return(forward(m)))
	out.Commentf("%s serves the wrapped %s through the cache, id by id: use case %s, key type %s.", m.Name, m.Name, c.UseCase, c.KeyType)
	e.method(out, m, jen.Return(rt("GetBatch").Call(jen.Id(ctx), jen.Id("c").Dot(e.fields[m][0]), jen.Id(b.Param), key, load)))
	e.keyHelper(out, m, e.helpers[m][0], c.ID, c.Args)
}

func (e *emitter) invalidatingMethod(out *jen.File, m *model.Method) {
	ctx := m.Params[0].Name
	taken := map[string]bool{}
	for _, p := range m.Params {
		taken[p.Name] = true
	}
	for _, n := range generatedNames {
		taken[n] = true
	}
	var results []jen.Code
	for i := range m.Results {
		if m.ErrorResult && i == len(m.Results)-1 {
			results = append(results, jen.Err())
			continue
		}
		results = append(results, jen.Id(unique("res", taken)))
	}
	var invalidate []jen.Code
	var kinds []string
	declared := map[string]bool{}
	// assign declares the names on its left that are new.
	assign := func(names ...string) string {
		op := "="
		for _, n := range names {
			if !declared[n] {
				declared[n], op = true, ":="
			}
		}
		return op
	}
	for i, inv := range m.Invalidations {
		kinds = append(kinds, inv.KeyType)
		helper := jen.Id("c").Dot(e.helpers[m][i]).Call(e.helperArgs(m, []model.KeyPart{inv.ID}, jen.Nil())...)
		if inv.Each {
			helper = jen.Id("c").Dot(e.helpers[m][i]).Call(e.helperArgs(m, []model.KeyPart{inv.ID})...)
			invalidate = append(invalidate,
				jen.List(jen.Id("keys"), jen.Id("keyErr")).Op(assign("keys", "keyErr")).Add(helper),
				jen.Id("c").Dot(e.fields[m][i]).Dot("InvalidateEach").Call(jen.Id(ctx), jen.Id("keys"), jen.Id("keyErr")))
		} else {
			invalidate = append(invalidate,
				jen.List(jen.Id("key"), jen.Id("_"), jen.Id("keyErr")).Op(assign("key", "keyErr")).Add(helper),
				jen.Id("c").Dot(e.fields[m][i]).Dot("Invalidate").Call(jen.Id(ctx), jen.Id("key"), jen.Id("keyErr")))
		}
		if i < len(m.Invalidations)-1 {
			invalidate = append(invalidate, jen.Line())
		}
	}
	var body []jen.Code
	if len(results) > 0 {
		body = append(body, jen.List(results...).Op(":=").Add(forward(m)))
	} else {
		body = append(body, forward(m))
	}
	when := "after it returns"
	if m.ErrorResult {
		body = append(body, jen.If(jen.Err().Op("==").Nil()).Block(invalidate...))
		when = "when it succeeds"
	} else {
		body = append(body, invalidate...)
	}
	if len(results) > 0 {
		body = append(body, jen.Return(results...))
	}
	out.Commentf("%s calls the wrapped %s and, %s, invalidates the %s it names.", m.Name, m.Name, when, strings.Join(kinds, " and "))
	e.method(out, m, body...)
	for i, inv := range m.Invalidations {
		if inv.Each {
			e.eachKeyHelper(out, m, e.helpers[m][i], inv.ID)
		} else {
			e.keyHelper(out, m, e.helpers[m][i], inv.ID, nil)
		}
	}
}

// helperArgs are the arguments of a key helper: buf, if given, then the
// parameters its parts use.
func (e *emitter) helperArgs(m *model.Method, parts []model.KeyPart, buf ...jen.Code) []jen.Code {
	args := buf
	for _, p := range keyParams(m, parts) {
		args = append(args, jen.Id(p.Name))
	}
	return args
}

// keyParams are the parameters of a key helper after its buffer: those
// its parts use, in order; for a batch, the one id first.
func keyParams(m *model.Method, parts []model.KeyPart) []model.Param {
	used := map[string]bool{}
	for _, p := range parts {
		for _, n := range paramsOf(p.Expr) {
			used[n] = true
		}
		for _, c := range p.Nil {
			for _, n := range paramsOf(c.Expr) {
				used[n] = true
			}
		}
	}
	var params []model.Param
	if c := m.Cache; c != nil && c.Batch != nil {
		params = append(params, model.Param{Name: c.Batch.Elem, Type: c.Batch.ID})
	}
	for _, p := range m.Params[1:] {
		if used[p.Name] {
			params = append(params, p)
		}
	}
	return params
}

// cacheParts are the key parts of a cached method.
func cacheParts(c *model.Cache) []model.KeyPart {
	parts := []model.KeyPart{c.ID}
	for _, a := range c.Args {
		parts = append(parts, a.Part)
	}
	return parts
}

// keyHelper writes the method that renders a call's id and arguments: the
// layout UseCase.GetRendered and Invalidator.Invalidate take.
func (e *emitter) keyHelper(out *jen.File, m *model.Method, name string, id model.KeyPart, args []model.KeyArg) {
	params := []jen.Code{jen.Id("b").Index().Byte()}
	parts := []model.KeyPart{id}
	for _, a := range args {
		parts = append(parts, a.Part)
	}
	for _, p := range keyParams(m, parts) {
		params = append(params, jen.Id(p.Name).Add(typeCode(p.Type)))
	}
	fail := func(err jen.Code) jen.Code { return jen.Return(jen.Id("b"), jen.Lit(0), err) }
	r := &renderer{fail: fail}
	r.part(id)
	if len(args) > 0 {
		r.add(jen.Id("idLen").Op(":=").Len(jen.Id("b")))
		for i, a := range args {
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			r.add(jen.Id("b").Op("=").Append(jen.Id("b"), jen.Lit(sep+a.Name+"=").Op("...")))
			r.part(a.Part)
		}
	}
	idLen := jen.Id("idLen")
	if len(args) == 0 {
		idLen = jen.Len(jen.Id("b"))
	}
	body := r.stmts
	if r.fallible {
		body = append([]jen.Code{jen.Var().Err().Error()}, body...)
	}
	body = append(body, jen.Return(jen.Id("b"), idLen, jen.Nil()))
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
	inner.value(id.Enc, jen.Id("v"), true)
	inner.add(jen.Id("keys").Op("=").Append(jen.Id("keys"), jen.Id("b")))
	body := outer.stmts
	if inner.fallible {
		body = append(body, jen.Var().Err().Error())
	}
	body = append(body,
		jen.Id("keys").Op(":=").Make(jen.Index().Index().Byte(), jen.Lit(0), jen.Len(exprCode(id.Expr))),
		jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Add(exprCode(id.Expr))).Block(inner.stmts...),
		jen.Return(jen.Id("keys"), jen.Nil()))
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

// isSimple reports whether evaluating x twice is as cheap and safe as
// once: no calls.
func isSimple(x model.Expr) bool {
	switch x := x.(type) {
	case model.ParamRef:
		return true
	case model.Selector:
		return isSimple(x.X)
	case model.Deref:
		return isSimple(x.X)
	}
	return false
}

// value appends the statements that render v with enc.
func (r *renderer) value(enc *model.Encoder, v *jen.Statement, simple bool) {
	switch enc.Kind {
	case model.EncNilable:
		if !simple {
			// Evaluate once: v is used twice.
			inner := &renderer{fail: r.fail}
			inner.add(jen.Id("v").Op(":=").Add(v))
			inner.value(enc, jen.Id("v"), true)
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
			inner.add(jen.Id("b").Op("=").Append(jen.Id("b"), jen.LitRune('*')))
		}
		inner.value(enc.Elem, elem, true)
		r.fallible = r.fallible || inner.fallible
		r.add(jen.If(v.Clone().Op("==").Nil()).Block(
			jen.Id("b").Op("=").Add(rt("AppendNil")).Call(jen.Id("b")),
		).Else().Block(inner.stmts...))
	case model.EncText:
		r.fallible = true
		r.add(jen.If(jen.List(jen.Id("b"), jen.Err()).Op("=").Add(rt("AppendText")).Call(jen.Id("b"), v), jen.Err().Op("!=").Nil()).Block(r.fail(jen.Err())))
	case model.EncSlice:
		if enc.Elem.Fallible() {
			r.fallible = true
			r.add(jen.If(jen.List(jen.Id("b"), jen.Err()).Op("=").Add(rt("AppendSliceErr")).Call(jen.Id("b"), v, elemFunc(enc.Elem)), jen.Err().Op("!=").Nil()).Block(r.fail(jen.Err())))
			return
		}
		r.add(jen.Id("b").Op("=").Add(rt("AppendSlice")).Call(jen.Id("b"), v, elemFunc(enc.Elem)))
	default:
		r.add(jen.Id("b").Op("=").Add(appendCall(enc, v)))
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

// appendCall is the call of the Append function of an infallible scalar.
func appendCall(enc *model.Encoder, v *jen.Statement) *jen.Statement {
	conv := func(t string) *jen.Statement {
		if enc.Conv {
			return jen.Id(t).Call(v)
		}
		return v
	}
	b := jen.Id("b")
	switch enc.Kind {
	case model.EncString:
		return rt("AppendString").Call(b, conv("string"))
	case model.EncBytes:
		if enc.Conv {
			return rt("AppendBytes").Call(b, jen.Index().Byte().Call(v))
		}
		return rt("AppendBytes").Call(b, v)
	case model.EncBool:
		return rt("AppendBool").Call(b, conv("bool"))
	case model.EncInt:
		return rt("AppendInt").Call(b, conv("int64"))
	case model.EncUint:
		return rt("AppendUint").Call(b, conv("uint64"))
	case model.EncFloat32:
		return rt("AppendFloat").Call(b, jen.Float64().Call(v), jen.Lit(32))
	case model.EncFloat64:
		return rt("AppendFloat").Call(b, conv("float64"), jen.Lit(64))
	case model.EncTime:
		return rt("AppendTime").Call(b, v)
	case model.EncDuration:
		return rt("AppendDuration").Call(b, v)
	case model.EncCacheKey:
		return rt("AppendString").Call(b, v.Clone().Dot("CacheKey").Call())
	case model.EncStringer:
		return rt("AppendString").Call(b, v.Clone().Dot("String").Call())
	}
	panic(fmt.Sprintf("gen: no Append function for encoder kind %d", enc.Kind))
}

// elemFunc is the function that renders one slice element: an Append
// function itself when its signature fits, or a literal.
func elemFunc(enc *model.Encoder) jen.Code {
	if !enc.Conv {
		switch enc.Kind {
		case model.EncString:
			return rt("AppendString")
		case model.EncBytes:
			return rt("AppendBytes")
		case model.EncBool:
			return rt("AppendBool")
		case model.EncInt:
			return rt("AppendInt")
		case model.EncUint:
			return rt("AppendUint")
		case model.EncTime:
			return rt("AppendTime")
		case model.EncDuration:
			return rt("AppendDuration")
		case model.EncText:
			return rt("AppendText").Types(typeCode(enc.Type))
		}
	}
	params := jen.Params(jen.Id("b").Index().Byte(), jen.Id("v").Add(typeCode(enc.Type)))
	if enc.Fallible() {
		inner := &renderer{fail: func(err jen.Code) jen.Code { return jen.Return(jen.Id("b"), err) }}
		inner.value(enc, jen.Id("v"), true)
		body := append([]jen.Code{jen.Var().Err().Error()}, inner.stmts...)
		body = append(body, jen.Return(jen.Id("b"), jen.Nil()))
		return jen.Func().Add(params).Params(jen.Index().Byte(), jen.Error()).Block(body...)
	}
	inner := &renderer{fail: func(err jen.Code) jen.Code { return jen.Return(jen.Id("b")) }}
	inner.value(enc, jen.Id("v"), true)
	if len(inner.stmts) == 1 && enc.Kind != model.EncNilable && enc.Kind != model.EncSlice {
		return jen.Func().Add(params).Index().Byte().Block(jen.Return(appendCall(enc, jen.Id("v"))))
	}
	return jen.Func().Add(params).Index().Byte().Block(append(inner.stmts, jen.Return(jen.Id("b")))...)
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
