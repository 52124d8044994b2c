package gen

import (
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/gcache-go/gcache/gen/internal/model"
)

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
	return jen.Id(idRecv).Dot(idNext).Dot(m.Name).Call(args...)
}

func (e *emitter) method(out *jen.File, m *model.Method, body ...jen.Code) {
	params, results := signature(m)
	out.Func().Params(jen.Id(idRecv).Op("*").Add(e.self())).Id(m.Name).Params(params...).Params(results...).Block(body...)
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
	uc := jen.Id(idRecv).Dot(e.fields[m][0])
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
		get = []jen.Code{jen.Return(uc.Clone().Dot("GetRendered").Call(jen.Id(ctx), jen.Id(idKey), jen.Id(idIDLen), newFn(jen.Return(call))))}
	} else {
		// A value-only method cannot return the error a cancelled wait
		// ends with; it calls the wrapped method instead.
		get = []jen.Code{
			jen.List(jen.Id(idVal), jen.Id(idErr)).Op(":=").Add(uc.Clone().Dot("GetRendered").Call(jen.Id(ctx), jen.Id(idKey), jen.Id(idIDLen),
				newFn(jen.Return(call, jen.Nil())))),
			jen.If(jen.Id(idErr).Op("!=").Nil()).Block(fallback),
			jen.Return(jen.Id(idVal)),
		}
	}
	out.Commentf("%s serves the wrapped %s through the cache: use case %s, key type %s.", m.Name, m.Name, c.UseCase, c.KeyType)
	e.method(out, m, append([]jen.Code{
		jen.If(jen.Op("!").Add(uc.Clone().Dot("Enabled").Call(jen.Id(ctx)))).Block(fallback),
		jen.List(jen.Id(idKey), jen.Id(idIDLen), jen.Id(idErr)).Op(":=").Add(jen.Id(idRecv).Dot(e.helpers[m][0]).Call(e.helperArgs(m, cacheParts(c), jen.Make(jen.Index().Byte(), jen.Lit(0), jen.Lit(keyBufferSize)))...)),
		jen.If(jen.Id(idErr).Op("!=").Nil()).Block(uc.Clone().Dot("KeyError").Call(jen.Id(idErr)), fallback),
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
	key := jen.Func().Params(jen.Id(idBuf).Index().Byte(), jen.Id(b.Elem).Add(id.Clone())).Params(jen.Index().Byte(), jen.Int(), jen.Error()).Block(
		jen.Return(jen.Id(idRecv).Dot(e.helpers[m][0]).Call(e.helperArgs(m, cacheParts(c), jen.Id(idBuf))...)),
	)
	load := jen.Func().Params(jen.Id(ctx).Qual("context", "Context"), jen.Id(b.Param).Index().Add(id.Clone())).
		Params(jen.Map(id.Clone()).Add(typeCode(c.Value)), jen.Error()).
		Block(jen.Return(forward(m)))
	out.Commentf("%s serves the wrapped %s through the cache, id by id: use case %s, key type %s.", m.Name, m.Name, c.UseCase, c.KeyType)
	e.method(out, m, jen.Return(rt("GetBatch").Call(jen.Id(ctx), jen.Id(idRecv).Dot(e.fields[m][0]), jen.Id(b.Param), key, load)))
	e.keyHelper(out, m, e.helpers[m][0], c.ID, c.Args)
}

func (e *emitter) invalidatingMethod(out *jen.File, m *model.Method) {
	results := invalidatingResults(m)
	var body []jen.Code
	if len(results) > 0 {
		body = append(body, jen.List(results...).Op(":=").Add(forward(m)))
	} else {
		body = append(body, forward(m))
	}
	when := "after it returns"
	if m.ErrorResult {
		body = append(body, jen.If(jen.Id(idErr).Op("==").Nil()).Block(e.invalidations(m)...))
		when = "when it succeeds"
	} else {
		body = append(body, e.invalidations(m)...)
	}
	if len(results) > 0 {
		body = append(body, jen.Return(results...))
	}
	var kinds []string
	for _, inv := range m.Invalidations {
		if inv.Each {
			kinds = append(kinds, "each "+inv.KeyType)
		} else {
			kinds = append(kinds, "the "+inv.KeyType)
		}
	}
	out.Commentf("%s calls the wrapped %s and, %s, invalidates %s it names.", m.Name, m.Name, when, strings.Join(kinds, " and "))
	e.method(out, m, body...)
	for i, inv := range m.Invalidations {
		if inv.Each {
			e.eachKeyHelper(out, m, e.helpers[m][i], inv.ID)
		} else {
			e.keyHelper(out, m, e.helpers[m][i], inv.ID, nil)
		}
	}
}

// invalidatingResults names the results of an invalidating method: err
// for its error, res, res2... for the others.
func invalidatingResults(m *model.Method) []jen.Code {
	taken := newScope(nil, generatedNames...)
	for _, p := range m.Params {
		taken.take(p.Name)
	}
	var results []jen.Code
	for i := range m.Results {
		if m.ErrorResult && i == len(m.Results)-1 {
			results = append(results, jen.Id(idErr))
			continue
		}
		results = append(results, jen.Id(taken.name("res")))
	}
	return results
}

// invalidations are the statements that render the ids of an
// invalidating method's call and invalidate them.
func (e *emitter) invalidations(m *model.Method) []jen.Code {
	ctx := m.Params[0].Name
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
	var stmts []jen.Code
	for i, inv := range m.Invalidations {
		field, helper := jen.Id(idRecv).Dot(e.fields[m][i]), jen.Id(idRecv).Dot(e.helpers[m][i])
		if inv.Each {
			stmts = append(stmts,
				jen.List(jen.Id(idKeys), jen.Id(idKeyErr)).Op(assign(idKeys, idKeyErr)).Add(helper.Call(e.helperArgs(m, []model.KeyPart{inv.ID})...)),
				field.Dot("InvalidateEach").Call(jen.Id(ctx), jen.Id(idKeys), jen.Id(idKeyErr)))
		} else {
			stmts = append(stmts,
				jen.List(jen.Id(idKey), jen.Id("_"), jen.Id(idKeyErr)).Op(assign(idKey, idKeyErr)).Add(helper.Call(e.helperArgs(m, []model.KeyPart{inv.ID}, jen.Nil())...)),
				field.Dot("Invalidate").Call(jen.Id(ctx), jen.Id(idKey), jen.Id(idKeyErr)))
		}
		if i < len(m.Invalidations)-1 {
			stmts = append(stmts, jen.Line())
		}
	}
	return stmts
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
