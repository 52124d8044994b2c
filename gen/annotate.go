package gen

import (
	"fmt"
	"go/token"
	"go/types"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcache-go/gcache/gen/internal/model"
	"github.com/gcache-go/gcache/internal/names"
)

// methodDirectives are the directives a method takes.
var methodDirectives = strings.Join(slices.DeleteFunc(slices.Clone(directiveNames), func(n string) bool { return n == "wrap" }), ", ")

// methodDirs are the directives of one method, by kind.
type methodDirs struct {
	cache, ttl, ramp         *directive
	refresh, negative, lease *directive
	adapters, ignores        []option
	invalidations            []*directive
}

// A methodCtx is what reading the directives of one method needs.
type methodCtx struct {
	*loader
	iface  *model.Interface
	method *model.Method
	sig    *types.Signature
	sc     *keyScope
	dirs   methodDirs
}

// annotate applies the directives of a method's doc comment.
func (l *loader) annotate(iface *model.Interface, method *model.Method, m *types.Func, sig *types.Signature, ds []*directive) {
	mc := &methodCtx{loader: l, iface: iface, method: method, sig: sig, dirs: l.sortDirectives(method.Name, ds)}
	md := &mc.dirs
	if md.cache == nil {
		mc.reportUncached()
	}
	if md.cache != nil && len(md.invalidations) > 0 {
		l.errorf(md.invalidations[0].pos, "%s is both cached and invalidating; a method is one or the other", method.Name)
		return
	}
	if md.cache == nil && len(md.invalidations) == 0 {
		return
	}
	mc.sc = l.newKeyScope(method.Name, m, sig)
	if !l.checkContext(md.cache, md.invalidations, method, sig) {
		return
	}
	if md.cache != nil {
		method.Cache = mc.cacheOf()
	}
	for _, d := range md.invalidations {
		if inv := l.invalidateOf(mc.sc, d); inv != nil {
			method.Invalidations = append(method.Invalidations, inv)
		}
	}
}

// sortDirectives sorts the directives of method by kind, reporting those
// that a method does not take or takes once and has twice.
func (l *loader) sortDirectives(method string, ds []*directive) methodDirs {
	var md methodDirs
	once := func(slot **directive, d *directive) {
		if *slot != nil {
			l.errorf(d.pos, "second //gcache:%s on %s (the first is at line %d)", d.name, method, (*slot).pos.Line)
			return
		}
		*slot = d
	}
	for _, d := range ds {
		switch d.name {
		case "cache":
			once(&md.cache, d)
		case "ttl":
			once(&md.ttl, d)
		case "ramp":
			once(&md.ramp, d)
		case "refresh":
			once(&md.refresh, d)
		case "negative":
			once(&md.negative, d)
		case "lease":
			once(&md.lease, d)
		case "arg":
			if len(d.opts) == 0 {
				l.errorf(d.pos, "//gcache:arg needs PARAM=EXPR")
			}
			md.adapters = append(md.adapters, d.opts...)
		case "ignore":
			if len(d.opts) == 0 {
				l.errorf(d.pos, "//gcache:ignore needs the parameters to leave out")
			}
			md.ignores = append(md.ignores, d.opts...)
		case "invalidate":
			md.invalidations = append(md.invalidations, d)
		case "wrap":
			l.errorf(d.pos, "//gcache:wrap goes on the interface type, not on a method")
		default:
			l.errorf(d.pos, "unknown directive //gcache:%s (a method takes %s)", d.name, methodDirectives)
		}
	}
	return md
}

// reportUncached reports the directives that go with //gcache:cache on a
// method without it.
func (mc *methodCtx) reportUncached() {
	md := &mc.dirs
	for _, d := range []*directive{md.ttl, md.ramp, md.refresh, md.negative, md.lease} {
		if d != nil {
			mc.errorf(d.pos, "//gcache:%s without //gcache:cache on %s", d.name, mc.method.Name)
		}
	}
	for _, o := range append(md.adapters, md.ignores...) {
		mc.errorf(o.pos, "%s: //gcache:arg and //gcache:ignore need //gcache:cache on %s", o.key, mc.method.Name)
	}
}

// checkContext checks that a cached or invalidating method takes a context
// first.
func (l *loader) checkContext(cache *directive, invs []*directive, method *model.Method, sig *types.Signature) bool {
	if sig.Params().Len() > 0 && isContext(sig.Params().At(0).Type()) {
		return true
	}
	d := cache
	if d == nil {
		d = invs[0]
	}
	l.errorf(d.pos, "%s must take a context.Context as its first parameter", method.Name)
	return false
}

func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }

func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

func isError(t types.Type) bool { return types.Identical(t, types.Universe.Lookup("error").Type()) }

// opts reads the options of a directive: those in keys take a value,
// those in flags do not; anything else is an error.
func (l *loader) opts(d *directive, keys, flags []string) map[string]option {
	got := map[string]option{}
	for _, o := range d.opts {
		isKey, isFlag := slices.Contains(keys, o.key), slices.Contains(flags, o.key)
		switch {
		case !isKey && !isFlag:
			l.errorf(o.pos, "unknown option %q of //gcache:%s (have %s)", o.key, d.name, strings.Join(append(keys, flags...), ", "))
			continue
		case isKey && !o.hasValue:
			l.errorf(o.pos, "option %s of //gcache:%s needs a value: %s=...", o.key, d.name, o.key)
			continue
		case isFlag && o.hasValue:
			l.errorf(o.pos, "option %s of //gcache:%s takes no value", o.key, d.name)
			continue
		}
		if prev, dup := got[o.key]; dup {
			l.errorf(o.pos, "option %s given twice (first at column %d)", o.key, prev.pos.Column)
			continue
		}
		got[o.key] = o
	}
	return got
}

// required reports a missing option, unless opts has reported it given
// wrongly already.
func (l *loader) required(d *directive, key, form string) {
	for _, o := range d.opts {
		if o.key == key {
			return
		}
	}
	l.errorf(d.pos, "//gcache:%s needs %s", d.name, form)
}

// keyType reads a key_type option.
func (l *loader) keyType(d *directive, o map[string]option) (string, bool) {
	kt, ok := o["key_type"]
	if !ok {
		l.required(d, "key_type", "key_type=")
		return "", false
	}
	if !names.Valid(kt.value) {
		l.errorf(kt.valuePos, "key_type %q: %s", kt.value, names.Want)
		return "", false
	}
	return kt.value, true
}

// cacheOf reads how a method is cached: its //gcache:cache and the
// directives that go with it.
func (mc *methodCtx) cacheOf() *model.Cache {
	d := mc.dirs.cache
	o := mc.opts(d, []string{"key_type", "id", "use_case"}, []string{"track", "batch"})
	c := &model.Cache{}
	_, c.Tracked = o["track"]
	var ok bool
	if c.KeyType, ok = mc.keyType(d, o); !ok {
		return nil
	}
	if c.UseCase, ok = mc.useCase(d, o); !ok {
		return nil
	}
	idParam, ok := mc.result(c, d, o)
	if !ok || !mc.concrete(mc.sig, mc.method.Name, d) {
		return nil
	}
	if !mc.defaults(c, mc.dirs.ttl, mc.dirs.ramp) || !mc.features(c) {
		return nil
	}
	if c.Batch == nil {
		if c.ID, idParam, ok = mc.idOf(d, o, mc.sc); !ok {
			return nil
		}
	}
	c.Args = mc.keyArgs(c, idParam)
	return c
}

// useCase reads the use case's name, by default package.Interface.Method:
// the package's name keeps interfaces that share a name (every package
// has a Store) apart in one binary.
func (mc *methodCtx) useCase(d *directive, o map[string]option) (string, bool) {
	name := mc.pkg.Name + "." + mc.iface.Name + "." + mc.method.Name
	if uc, ok := o["use_case"]; ok {
		name = uc.value
		switch {
		case uc.value == names.Reserved:
			mc.errorf(uc.valuePos, "use_case %q is reserved", uc.value)
			return "", false
		case !names.Valid(uc.value):
			mc.errorf(uc.valuePos, "use_case %q: %s", uc.value, names.Want)
			return "", false
		}
	}
	if prev, dup := mc.useCases[name]; dup {
		mc.errorf(d.pos, "use_case %q is already used at %s; use cases are unique per package and per Cache: give this method a use_case= of its own", name, relative(prev))
		return "", false
	}
	mc.useCases[name] = d.pos
	return name, true
}

// result reads what the method returns into c. For a batch, whose ids
// and results depend on each other, it reads the ids too and returns the
// parameter that holds them.
func (mc *methodCtx) result(c *model.Cache, d *directive, o map[string]option) (idParam string, ok bool) {
	if batch, isBatch := o["batch"]; isBatch {
		return mc.batchOf(c, d, o, batch)
	}
	switch res := mc.sig.Results(); {
	case res.Len() == 1 && !isError(res.At(0).Type()):
		c.Value = mc.method.Results[0]
	case res.Len() == 2 && isError(res.At(1).Type()):
		c.Value, c.ReturnsError = mc.method.Results[0], true
	default:
		mc.errorf(d.pos, "%s returns %s; a cached method returns T or (T, error)", mc.method.Name, mc.typeString(res))
		return "", false
	}
	c.Fingerprint = fingerprint(mc.sig.Results().At(0).Type())
	return "", true
}

// keyArgs returns the key arguments of a cached method whose id is the
// parameter idParam, if it is one: every parameter after the context
// that is not ignored, adapted by //gcache:arg or the id itself, sorted by
// name.
func (mc *methodCtx) keyArgs(c *model.Cache, idParam string) []model.KeyArg {
	adapted := mc.adapted(c.Batch != nil, idParam)
	ignored := mc.ignored(idParam, adapted)
	var args []model.KeyArg
	for _, p := range mc.sc.params {
		name := p.Name()
		var arg *model.KeyArg
		switch a, isAdapted := adapted[name]; {
		case ignored[name], !isAdapted && name == idParam:
			continue
		case isAdapted:
			arg = mc.adaptedArg(a, c.Batch != nil, idParam)
		default:
			arg = mc.paramArg(p)
		}
		if arg != nil {
			args = append(args, *arg)
		}
	}
	sort.Slice(args, func(i, j int) bool { return args[i].Name < args[j].Name })
	return args
}

// adapted returns the //gcache:arg adapters by parameter.
func (mc *methodCtx) adapted(batch bool, idParam string) map[string]option {
	adapted := map[string]option{}
	for _, a := range mc.dirs.adapters {
		switch {
		case batch && a.key == idParam:
			mc.errorf(a.pos, "//gcache:arg %s: %s holds the ids of the batch, and each key renders one of them as its id", a.key, a.key)
		case !a.hasValue:
			mc.errorf(a.pos, "//gcache:arg %s needs an expression: %s=EXPR", a.key, a.key)
		case mc.sc.param(a.key) == nil:
			mc.errorf(a.pos, "//gcache:arg %s: %s", a.key, mc.sc.notAParam(a.key))
		case adapted[a.key].key != "":
			mc.errorf(a.pos, "//gcache:arg %s given twice", a.key)
		default:
			adapted[a.key] = a
		}
	}
	return adapted
}

// ignored returns the parameters //gcache:ignore leaves out of the key.
func (mc *methodCtx) ignored(idParam string, adapted map[string]option) map[string]bool {
	ignored := map[string]bool{}
	for _, ig := range mc.dirs.ignores {
		switch {
		case ig.hasValue:
			mc.errorf(ig.pos, "//gcache:ignore takes parameter names, not %s=...", ig.key)
		case mc.sc.param(ig.key) == nil:
			mc.errorf(ig.pos, "//gcache:ignore %s: %s", ig.key, mc.sc.notAParam(ig.key))
		case ig.key == idParam:
			mc.errorf(ig.pos, "//gcache:ignore %s: it is the id; the key cannot leave it out", ig.key)
		case adapted[ig.key].key != "":
			mc.errorf(ig.pos, "%s is both adapted (//gcache:arg) and ignored", ig.key)
		default:
			ignored[ig.key] = true
		}
	}
	return ignored
}

// adaptedArg is the key argument of a parameter rendered through the
// expression of //gcache:arg a, or nil when it cannot be.
func (mc *methodCtx) adaptedArg(a option, batch bool, idParam string) *model.KeyArg {
	name := a.key
	part, _, ok := mc.sc.check(a.value, a.valuePos)
	switch {
	case !ok:
		return nil
	case batch && mentions(part, idParam):
		mc.errorf(a.valuePos, "//gcache:arg %s=%s uses %s, the ids of the batch; each key holds one id, rendered as its id", name, a.value, idParam)
		return nil
	case !mentions(part, name):
		mc.errorf(a.valuePos, "//gcache:arg %s=%s does not use %s, so calls that differ in %s would share a key; render %s itself (%s=%s.Field), or //gcache:ignore %s", name, a.value, name, name, name, name, name, name)
		return nil
	}
	return &model.KeyArg{Name: name, Part: part}
}

// paramArg is the key argument of a parameter rendered as it is, or nil
// when it cannot be.
func (mc *methodCtx) paramArg(p *types.Var) *model.KeyArg {
	name, d := p.Name(), mc.dirs.cache
	if name == "" || name == "_" {
		mc.errorf(d.pos, "%s has an unnamed parameter of type %s; a cached method names every parameter that is part of its key", mc.method.Name, mc.typeString(p.Type()))
		return nil
	}
	enc, msg := mc.sc.encoder(p.Type(), true, d.pos)
	if enc == nil {
		mc.errorf(d.pos, "parameter %s of %s: %s; add //gcache:arg %s=EXPR or //gcache:ignore %s", name, mc.method.Name, msg, name, name)
		return nil
	}
	return &model.KeyArg{Name: name, Part: model.KeyPart{Expr: model.ParamRef{Name: name}, Enc: enc}}
}

// concrete reports whether the value a cached method returns (for a
// batch, its map's values) has a concrete type: a value of an interface
// type comes back from Redis as whatever the codec makes of it, not as
// the type it had.
func (l *loader) concrete(sig *types.Signature, method string, d *directive) bool {
	t := sig.Results().At(0).Type()
	if _, isBatch := d.opt("batch"); isBatch {
		if m, ok := t.Underlying().(*types.Map); ok {
			t = m.Elem()
		}
	}
	if _, isTP := types.Unalias(t).(*types.TypeParam); isTP || !types.IsInterface(t) {
		return true
	}
	l.errorf(d.pos, "%s returns values of %s, an interface type, which would not come back from Redis as the type they had; return a concrete type, or cache it by hand with gcache.NewUseCase and a UseCaseSpec.Codec that restores the type", method, l.typeString(t))
	return false
}

// defaults reads //gcache:ttl and //gcache:ramp into the use case's default
// config. A layer with a TTL and no ramp is ramped to 100.
func (l *loader) defaults(c *model.Cache, ttl, ramp *directive) bool {
	if ttl == nil {
		if ramp != nil {
			l.errorf(ramp.pos, "//gcache:ramp without //gcache:ttl has no effect; add //gcache:ttl")
			return false
		}
		return true
	}
	layers := []string{"local", "remote"}
	ok := true
	to := l.opts(ttl, layers, nil)
	if len(to) == 0 && len(ttl.opts) == 0 {
		l.errorf(ttl.pos, "//gcache:ttl needs local=DURATION, remote=DURATION or both")
		return false
	}
	for i, layer := range layers {
		o, set := to[layer]
		if !set {
			continue
		}
		d, err := time.ParseDuration(o.value)
		switch {
		case err != nil:
			l.errorf(o.valuePos, "ttl %s=%s: not a duration (want 30s, 5m, 1h30m)", layer, o.value)
			ok = false
		case d < 0:
			l.errorf(o.valuePos, "ttl %s=%s is negative", layer, o.value)
			ok = false
		default:
			c.Default[i] = model.LayerDefault{TTL: d, Ramp: 100}
		}
	}
	if ramp == nil {
		return ok
	}
	ro := l.opts(ramp, layers, nil)
	for i, layer := range layers {
		o, set := ro[layer]
		if !set {
			continue
		}
		n, err := strconv.Atoi(o.value)
		if err != nil || n < 0 || n > 100 {
			l.errorf(o.valuePos, "ramp %s=%s: want a whole percentage from 0 to 100", layer, o.value)
			ok = false
			continue
		}
		if c.Default[i].TTL == 0 {
			l.errorf(o.pos, "ramp %s=%s without a %s TTL has no effect; add %s= to //gcache:ttl", layer, o.value, layer, layer)
			ok = false
			continue
		}
		c.Default[i].Ramp = n
	}
	return ok
}

func (l *loader) invalidateOf(sc *keyScope, d *directive) *model.Invalidate {
	o := l.opts(d, []string{"key_type", "id", "buffer"}, []string{"external"})
	kt, ok := l.keyType(d, o)
	if !ok {
		return nil
	}

	inv := &model.Invalidate{KeyType: kt}
	if b, ok := o["buffer"]; ok {
		d, err := time.ParseDuration(b.value)
		if err != nil || d < 0 {
			l.errorf(b.valuePos, "buffer=%s: want a duration of 0 or more (5s, 1m)", b.value)
			return nil
		}
		inv.Buffer = d
	}
	part, _, ok := l.idOf(d, o, sc)
	if !ok {
		return nil
	}
	if part.Enc.Kind == model.EncSlice {
		// A slice of ids: each is invalidated.
		part.Enc, inv.Each = part.Enc.Elem, true
	}
	inv.ID = part
	if _, external := o["external"]; !external {
		l.invalidations = append(l.invalidations, pendingInvalidation{keyType: kt, pos: d.pos})
	}
	return inv
}

// idOf reads and checks the id= option of a directive; param is set when
// the id is a parameter alone.
func (l *loader) idOf(d *directive, o map[string]option, sc *keyScope) (part model.KeyPart, param string, ok bool) {
	id, ok := o["id"]
	if !ok {
		l.required(d, "id", "id=EXPR, the entity's id")
		return model.KeyPart{}, "", false
	}
	return sc.check(id.value, id.valuePos)
}

// A pendingInvalidation is an //gcache:invalidate whose key type a tracked
// use case of the package must have, which is known once the whole
// package is loaded.
type pendingInvalidation struct {
	keyType string
	pos     token.Position
}

// checkInvalidations reports the invalidations of the package that reach
// no tracked use case of it, unless marked external.
func (l *loader) checkInvalidations(files []*model.File) {
	tracked, untracked := map[string]bool{}, map[string]string{}
	for _, f := range files {
		for _, iface := range f.Interfaces {
			for _, m := range iface.Methods {
				switch c := m.Cache; {
				case c == nil:
				case c.Tracked:
					tracked[c.KeyType] = true
				default:
					untracked[c.KeyType] = iface.Name + "." + m.Name
				}
			}
		}
	}
	for _, inv := range l.invalidations {
		if tracked[inv.keyType] {
			continue
		}
		why := "no tracked use case of this package has it"
		if m, ok := untracked[inv.keyType]; ok {
			why = fmt.Sprintf("%s caches it but is not tracked (add track to its //gcache:cache)", m)
		}
		l.errorf(inv.pos, "//gcache:invalidate key_type=%s reaches nothing: %s; if the use cases it invalidates live in another package or service, say so with external", inv.keyType, why)
	}
}
