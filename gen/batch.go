package gen

import (
	"go/ast"
	"go/parser"
	"go/types"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// batchOf reads the ids and results of a method cached with the batch
// flag of d: id= names a parameter of type []K (or ...K), and the method
// returns (map[K]V, error). Each id is cached under its own key, the one a
// call with that id alone would have, so c.ID renders one id and c.Value
// is V. It returns the ids' parameter.
func (mc *methodCtx) batchOf(c *model.Cache, d *directive, o map[string]option, flag option) (string, bool) {
	l, method, sc, sig := mc.loader, mc.method, mc.sc, mc.sig
	id, ok := o["id"]
	if !ok {
		l.required(d, "id", "id=PARAM, the parameter that holds the ids")
		return "", false
	}
	e, err := parser.ParseExpr(id.value)
	ident, isIdent := e.(*ast.Ident)
	if err != nil || !isIdent {
		l.errorf(id.valuePos, "id=%s: the id of a batch method is the parameter that holds the ids, not an expression", id.value)
		return "", false
	}
	p := sc.param(ident.Name)
	if p == nil {
		l.errorf(id.valuePos, "%s", sc.notAParam(ident.Name))
		return "", false
	}
	slice, isSlice := p.Type().Underlying().(*types.Slice)
	if !isSlice {
		l.errorf(id.valuePos, "%s has type %s; the ids of a batch method are a slice, []K or ...K", p.Name(), l.typeString(p.Type()))
		return "", false
	}
	k := slice.Elem()
	enc, msg := sc.encoder(k, true, id.valuePos)
	if enc == nil {
		l.errorf(id.valuePos, "the ids in %s are not key-encodable: %s", p.Name(), msg)
		return "", false
	}
	if !types.Comparable(k) {
		l.errorf(id.valuePos, "the ids in %s, of type %s, are not comparable, so they cannot key the map a batch method returns", p.Name(), l.typeString(k))
		return "", false
	}
	res := sig.Results()
	var m *types.Map
	if res.Len() == 2 && isError(res.At(1).Type()) {
		m, _ = res.At(0).Type().Underlying().(*types.Map)
	}
	if m == nil {
		l.errorf(flag.pos, "%s returns %s; a batch method returns (map[%s]V, error)", method.Name, l.typeString(res), l.typeString(k))
		return "", false
	}
	if !types.Identical(m.Key(), k) {
		l.errorf(flag.pos, "%s returns a map keyed by %s; a batch method's map is keyed by its ids' type, %s", method.Name, l.typeString(m.Key()), l.typeString(k))
		return "", false
	}
	c.Batch = &model.Batch{Param: p.Name(), Elem: "id", ID: l.typeOf(k, d.pos)}
	c.ID = model.KeyPart{Expr: model.ParamRef{Name: c.Batch.Elem}, Enc: enc}
	c.Value, c.ReturnsError = l.typeOf(m.Elem(), d.pos), true
	c.Fingerprint = fingerprint(m.Elem())
	return p.Name(), true
}
