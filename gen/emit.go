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
		return runtimeName
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
	reserved scope
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
	taken := newScope(e.reserved)
	for _, tp := range e.iface.TypeParams {
		taken.take(tp.Name)
	}
	e.next, e.cache, e.err = taken.name("next"), taken.name("c"), taken.name("err")
	// The field next and the methods' receiver c are not locals of the
	// constructor; they keep their names.
	taken.take(idNext, idRecv)
	for _, m := range e.iface.Methods {
		taken.take(m.Name)
	}
	for _, m := range e.iface.Methods {
		base := lowerFirst(m.Name)
		if m.Cache != nil {
			e.fields[m] = append(e.fields[m], taken.name(base))
			e.helpers[m] = append(e.helpers[m], taken.name(base+"Key"))
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
			e.fields[m] = append(e.fields[m], taken.name(name))
			e.helpers[m] = append(e.helpers[m], taken.name(helper))
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
	fields = append(fields, jen.Id(idNext).Add(e.wrappedType()))
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
	return jen.If(jen.Id(e.err).Op("!=").Nil()).Block(jen.Return(jen.Nil(), rt("RegisterError").Call(jen.Lit("New"+e.iface.Decorator), jen.Id(e.err))))
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
