package gen

import (
	"go/token"
	"sort"
	"strconv"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// Identifiers of the generated code, which imports and parameters must not
// shadow: the receiver and constructor parameters, and the key helpers'
// locals.
var generatedNames = []string{"c", "next", "b", "idLen", "err", "key", "keys", "keyErr", "v", "val"}

// Packages every generated file may import.
const (
	runtimePath = "github.com/gcache-go/gcache/runtime"
	runtimeName = "gcache"
)

// name gives every import of f an alias and every parameter a name that
// collides with nothing the decorator declares or uses, rewriting the key
// expressions to match. It returns the aliases by path.
func name(f *model.File) map[string]string {
	taken := map[string]bool{}
	for _, n := range generatedNames {
		taken[n] = true
	}
	for _, n := range f.Scope {
		taken[n] = true
	}
	for _, iface := range f.Interfaces {
		for _, tp := range iface.TypeParams {
			taken[tp.Name] = true
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
		aliases[p] = unique(all[p], taken)
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

// unique returns base, or base with the smallest number appended that is
// not taken, and takes it.
func unique(base string, taken map[string]bool) string {
	n := base
	for i := 2; taken[n] || token.IsKeyword(n); i++ {
		n = base + strconv.Itoa(i)
	}
	taken[n] = true
	return n
}

// nameParams names the parameters of m: unnamed and blank ones after
// their position, colliding ones with a number; and, for a batch, the
// one id its key helper renders, after them.
func nameParams(m *model.Method, reserved map[string]bool) {
	taken := map[string]bool{}
	for n := range reserved {
		taken[n] = true
	}
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
		n := unique(base, taken)
		if p.Name != "" && p.Name != "_" && n != p.Name {
			renames[p.Name] = n
		}
		p.Name = n
	}
	if c := m.Cache; c != nil && c.Batch != nil {
		if n, ok := renames[c.Batch.Param]; ok {
			c.Batch.Param = n
		}
		c.Batch.Elem = unique(c.Batch.Elem, taken)
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
