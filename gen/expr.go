package gen

import (
	"slices"

	"github.com/gcache-go/gcache/gen/internal/model"
)

// A key expression is a chain: a parameter, then selectors, method calls,
// conversions and dereferences, each applied to the one before. inner and
// withInner are the only functions that know its shape; the rest walk it
// through them.

// inner returns the expression x applies to, or nil for a parameter.
func inner(x model.Expr) model.Expr {
	switch x := x.(type) {
	case model.Selector:
		return x.X
	case model.MethodCall:
		return x.X
	case model.Conversion:
		return x.X
	case model.Deref:
		return x.X
	}
	return nil
}

// withInner returns x applied to in instead of its own inner expression.
func withInner(x, in model.Expr) model.Expr {
	switch x := x.(type) {
	case model.Selector:
		x.X = in
		return x
	case model.MethodCall:
		x.X = in
		return x
	case model.Conversion:
		x.X = in
		return x
	case model.Deref:
		x.X = in
		return x
	}
	return x
}

// paramsOf returns the parameters expression x uses.
func paramsOf(x model.Expr) []string {
	for ; x != nil; x = inner(x) {
		if p, ok := x.(model.ParamRef); ok {
			return []string{p.Name}
		}
	}
	return nil
}

// mentions reports whether the key part uses the parameter name.
func mentions(p model.KeyPart, name string) bool {
	return slices.Contains(paramsOf(p.Expr), name)
}

// isSimple reports whether evaluating x twice is as cheap and safe as
// once: no calls.
func isSimple(x model.Expr) bool {
	for ; x != nil; x = inner(x) {
		switch x.(type) {
		case model.MethodCall, model.Conversion:
			return false
		}
	}
	return true
}

// addressable reports whether the value of x is addressable, so that a
// method with a pointer receiver can be called on it: a parameter or a
// dereference, or a field of one.
func addressable(x model.Expr) bool {
	for {
		switch x.(type) {
		case model.ParamRef, model.Deref:
			return true
		case model.Selector:
			x = inner(x)
		default:
			return false
		}
	}
}

// renameExpr returns x with its parameter renamed as renames says.
func renameExpr(x model.Expr, renames map[string]string) model.Expr {
	if x == nil {
		return nil
	}
	if p, ok := x.(model.ParamRef); ok {
		if n, renamed := renames[p.Name]; renamed {
			return model.ParamRef{Name: n}
		}
		return p
	}
	return withInner(x, renameExpr(inner(x), renames))
}
