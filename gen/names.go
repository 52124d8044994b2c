package gen

import (
	"go/token"
	"maps"
	"sort"
	"strconv"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// The identifiers generated code declares itself: the methods' receiver,
// the decorator's field of the wrapped value, and the locals of methods and
// key helpers. Imports and parameters never take them.
const (
	idRecv   = "c"      // the receiver
	idNext   = "next"   // the wrapped value
	idBuf    = "b"      // the buffer a key renders into
	idIDLen  = "idLen"  // the length of its id
	idErr    = "err"    // an error
	idKey    = "key"    // a rendered key
	idKeys   = "keys"   // rendered ids
	idKeyErr = "keyErr" // the error of rendering them
	idElem   = "v"      // a slice element
	idVal    = "val"    // a cached value
)

var generatedNames = []string{idRecv, idNext, idBuf, idIDLen, idErr, idKey, idKeys, idKeyErr, idElem, idVal}

// Packages every generated file may import.
const (
	runtimePath = "github.com/gcache-go/gcache/runtime"
	runtimeName = "gcache"
)

// name gives every import of f an alias and every parameter a name that
// collides with nothing the decorator declares or uses, rewriting the key
// expressions to match. It returns the aliases by path.
func name(f *model.File) map[string]string {
	taken := newScope(nil, generatedNames...)
	taken.take(f.Scope...)
	for _, iface := range f.Interfaces {
		for _, tp := range iface.TypeParams {
			taken.take(tp.Name)
		}
	}
	// The emitter itself uses the runtime, and time for durations; the
	// rest are the packages the types name.
	fixed := map[string]string{runtimePath: runtimeName}
	if usesTime(f) {
		fixed["time"] = "time"
	}
	if hasCached(f) {
		fixed["context"] = "context" // the closures' parameter
	}
	all := map[string]string{}
	for p, n := range f.Imports {
		all[p] = n
	}
	for p, n := range fixed {
		all[p] = n
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	// The runtime and time keep their names when they can; then paths in
	// order.
	sort.Slice(paths, func(i, j int) bool {
		fi, fj := fixed[paths[i]] != "", fixed[paths[j]] != ""
		if fi != fj {
			return fi
		}
		return paths[i] < paths[j]
	})
	aliases := map[string]string{}
	for _, p := range paths {
		aliases[p] = taken.name(all[p])
	}
	for _, iface := range f.Interfaces {
		for _, m := range iface.Methods {
			nameParams(m, taken)
		}
	}
	return aliases
}

// hasCached reports whether f has a cached method.
func hasCached(f *model.File) bool {
	for _, iface := range f.Interfaces {
		for _, m := range iface.Methods {
			if m.Cache != nil {
				return true
			}
		}
	}
	return false
}

// usesTime reports whether the decorators of f spell durations.
func usesTime(f *model.File) bool {
	for _, iface := range f.Interfaces {
		for _, m := range iface.Methods {
			if c := m.Cache; c != nil && (c.Default[0].TTL > 0 || c.Default[1].TTL > 0 || c.NegativeTTL > 0 || c.Lease > 0) {
				return true
			}
			for _, inv := range m.Invalidations {
				if inv.Buffer > 0 {
					return true
				}
			}
		}
	}
	return false
}

// A scope allocates identifiers: each distinct from those it has given
// and those it was told are taken. Every generated name comes from one.
type scope map[string]bool

// newScope returns a scope in which the names of parent and names are
// taken.
func newScope(parent scope, names ...string) scope {
	s := scope{}
	maps.Copy(s, parent)
	s.take(names...)
	return s
}

// take marks names as taken.
func (s scope) take(names ...string) {
	for _, n := range names {
		s[n] = true
	}
}

// name returns base, or base with the smallest number appended that is
// not taken, and takes it.
func (s scope) name(base string) string {
	n := base
	for i := 2; s[n] || token.IsKeyword(n); i++ {
		n = base + strconv.Itoa(i)
	}
	s[n] = true
	return n
}

// nameParams names the parameters of m: unnamed and blank ones after
// their position, colliding ones with a number; and, for a batch, the
// one id its key helper renders, after them.
func nameParams(m *model.Method, reserved scope) {
	taken := newScope(reserved)
	renames := map[string]string{}
	for i := range m.Params {
		p := &m.Params[i]
		base := p.Name
		if base == "" || base == "_" {
			base = "arg" + strconv.Itoa(i)
			if i == 0 && m.Cache != nil || i == 0 && len(m.Invalidations) > 0 {
				base = "ctx"
			}
		}
		n := taken.name(base)
		if p.Name != "" && p.Name != "_" && n != p.Name {
			renames[p.Name] = n
		}
		p.Name = n
	}
	if c := m.Cache; c != nil && c.Batch != nil {
		if n, ok := renames[c.Batch.Param]; ok {
			c.Batch.Param = n
		}
		c.Batch.Elem = taken.name(c.Batch.Elem)
		c.ID.Expr = model.ParamRef{Name: c.Batch.Elem}
	}
	if len(renames) == 0 {
		return
	}
	if m.Cache != nil {
		if m.Cache.Batch == nil {
			renamePart(&m.Cache.ID, renames)
		}
		for i := range m.Cache.Args {
			renamePart(&m.Cache.Args[i].Part, renames)
		}
	}
	for _, inv := range m.Invalidations {
		renamePart(&inv.ID, renames)
	}
}

func renamePart(p *model.KeyPart, renames map[string]string) {
	p.Expr = renameExpr(p.Expr, renames)
	for i := range p.Nil {
		p.Nil[i].Expr = renameExpr(p.Nil[i].Expr, renames)
	}
}
