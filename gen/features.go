package gen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"strconv"
	"time"

	"github.com/gcache-go/gcache/gen/internal/model"
	"golang.org/x/tools/go/packages"
)

// features reads //gcache:refresh, //gcache:negative and //gcache:lease
// into the use case's default config. Each tunes how the layers of that
// config cache, so each needs a TTL; none applies to a batch, whose ids
// the runtime loads together.
func (mc *methodCtx) features(c *model.Cache) bool {
	l, md := mc.loader, &mc.dirs
	ok := true
	for _, d := range []*directive{md.refresh, md.negative, md.lease} {
		switch {
		case d == nil:
			continue
		case c.Batch != nil:
			l.errorf(d.pos, "//gcache:%s is not supported on batch methods", d.name)
			ok = false
			continue
		case c.Default[0].TTL == 0 && c.Default[1].TTL == 0:
			l.errorf(d.pos, "//gcache:%s without a TTL has no effect; add //gcache:ttl", d.name)
			ok = false
			continue
		}
		switch d.name {
		case "refresh":
			ok = l.refresh(c, d) && ok
		case "negative":
			ok = mc.negative(c, d) && ok
		case "lease":
			ok = l.lease(c, d) && ok
		}
	}
	return ok
}

// refresh reads //gcache:refresh at=F.
func (l *loader) refresh(c *model.Cache, d *directive) bool {
	o := l.opts(d, []string{"at"}, nil)
	at, set := o["at"]
	if !set {
		l.required(d, "at", "at=FRACTION, the share of the TTL after which a hit refreshes (at=0.8)")
		return false
	}
	f, err := strconv.ParseFloat(at.value, 64)
	switch {
	case err != nil:
		l.errorf(at.valuePos, "refresh at=%s: not a number (want a fraction of the TTL, such as 0.8)", at.value)
		return false
	case !(f > 0 && f < 1):
		l.errorf(at.valuePos, "refresh at=%s: want a fraction of the TTL above 0 and below 1, such as 0.8", at.value)
		return false
	}
	c.RefreshAt = f
	return true
}

// lease reads //gcache:lease ttl=DUR.
func (l *loader) lease(c *model.Cache, d *directive) bool {
	o := l.opts(d, []string{"ttl"}, nil)
	ttl, set := o["ttl"]
	if !set {
		l.required(d, "ttl", "ttl=DURATION, how long the lease holds (a little above the method's usual time)")
		return false
	}
	dur, ok := l.positiveDuration("lease", ttl)
	if !ok {
		return false
	}
	if c.Default[1].TTL == 0 {
		l.errorf(d.pos, "//gcache:lease without a remote TTL has no effect: the lease is taken in Redis on a remote miss; add remote= to //gcache:ttl")
		return false
	}
	c.Lease = dur
	return true
}

// negative reads //gcache:negative err=EXPR ttl=DUR.
func (mc *methodCtx) negative(c *model.Cache, d *directive) bool {
	l, method, sc := mc.loader, mc.method, mc.sc
	if !c.ReturnsError {
		l.errorf(d.pos, "//gcache:negative needs %s to return (T, error), the error saying \"not found\"; it returns a value alone", method.Name)
		return false
	}
	o := l.opts(d, []string{"err", "ttl"}, nil)
	errOpt, hasErr := o["err"]
	ttl, hasTTL := o["ttl"]
	if !hasErr {
		l.required(d, "err", "err=NAME, the sentinel error that says \"not found\" (err=ErrNotFound, err=sql.ErrNoRows)")
	}
	if !hasTTL {
		l.required(d, "ttl", "ttl=DURATION, how long a \"not found\" is cached")
	}
	if !hasErr || !hasTTL {
		return false
	}
	dur, ok := l.positiveDuration("negative", ttl)
	sentinel, found := sc.sentinel(errOpt.value, errOpt.valuePos)
	if !ok || !found {
		return false
	}
	c.Negative, c.NegativeTTL = sentinel, dur
	return true
}

// positiveDuration reads the duration of option o of directive name,
// which must be above 0.
func (l *loader) positiveDuration(name string, o option) (time.Duration, bool) {
	dur, err := time.ParseDuration(o.value)
	switch {
	case err != nil:
		l.errorf(o.valuePos, "%s %s=%s: not a duration (want 500ms, 30s, 5m)", name, o.key, o.value)
		return 0, false
	case dur <= 0:
		l.errorf(o.valuePos, "%s %s=%s: want a duration above 0", name, o.key, o.value)
		return 0, false
	}
	return dur, true
}

// sentinel resolves the err= of //gcache:negative, written at pos: a
// package-level variable of an error type, named as the method's file
// names it: ErrNotFound, or sql.ErrNoRows through the file's imports.
func (sc *keyScope) sentinel(src string, pos token.Position) (*model.Var, bool) {
	fail := func(n ast.Node, format string, args ...any) (*model.Var, bool) {
		sc.l.errorf(at(pos, n), format, args...)
		return nil, false
	}
	e, err := parser.ParseExpr(src)
	if err != nil || src == "" {
		sc.l.errorf(pos, "negative err=%s: want the name of a package-level error variable, such as ErrNotFound or sql.ErrNoRows", src)
		return nil, false
	}
	var obj types.Object
	switch e := e.(type) {
	case *ast.Ident:
		obj = sc.lookup(e.Name)
		switch obj.(type) {
		case nil:
			return fail(e, "negative err=%s: %s is not declared in package %s", src, e.Name, sc.pkg.Name())
		case *types.PkgName:
			return fail(e, "negative err=%s: %s is a package; name a variable of it, such as %s.ErrNotFound", src, e.Name, e.Name)
		}
	case *ast.SelectorExpr:
		x, isIdent := e.X.(*ast.Ident)
		if !isIdent {
			return fail(e, "negative err=%s: want the name of a package-level error variable, such as ErrNotFound or sql.ErrNoRows", src)
		}
		pkg, isPkg := sc.lookup(x.Name).(*types.PkgName)
		if !isPkg {
			return fail(x, "negative err=%s: %s is not an imported package", src, x.Name)
		}
		if !token.IsExported(e.Sel.Name) {
			return fail(e.Sel, "negative err=%s: %s is not exported by package %s", src, e.Sel.Name, pkg.Imported().Path())
		}
		obj = pkg.Imported().Scope().Lookup(e.Sel.Name)
		if obj == nil && sc.file != nil {
			// An import of a package read from export data holds only
			// what that package uses of it.
			obj = sc.l.wholePackage(pkg.Imported().Path()).Scope().Lookup(e.Sel.Name)
		}
		if obj == nil {
			return fail(e.Sel, "negative err=%s: %s is not declared in package %s", src, e.Sel.Name, pkg.Imported().Path())
		}
	default:
		return fail(e, "negative err=%s: want the name of a package-level error variable, such as ErrNotFound or sql.ErrNoRows", src)
	}
	v, isVar := obj.(*types.Var)
	if !isVar || v.Parent() != v.Pkg().Scope() {
		return fail(e, "negative err=%s: %s is %s; want the package-level variable that holds the sentinel error", src, src, objectKind(obj))
	}
	errType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	if !types.Implements(v.Type(), errType) {
		return fail(e, "negative err=%s: %s has type %s, which is not an error", src, src, sc.l.typeString(v.Type()))
	}
	if v.Pkg() != sc.l.pkg.Types {
		if !v.Exported() {
			return fail(e, "negative err=%s: %s is not exported by package %s, so the decorator cannot name it", src, v.Name(), v.Pkg().Path())
		}
		sc.l.imports[v.Pkg().Path()] = v.Pkg().Name()
	}
	return &model.Var{Path: v.Pkg().Path(), Name: v.Name()}, true
}

// objectKind says what obj is, with an article.
func objectKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "a function"
	case *types.TypeName:
		return "a type"
	case *types.Const:
		return "a constant"
	case *types.Builtin:
		return "a builtin function"
	case *types.Nil:
		return "untyped nil"
	}
	return "not a package-level variable"
}

// lookup resolves name as the file that declares the method sees it: a
// declaration of its package, or one of the file's imports.
func (sc *keyScope) lookup(name string) types.Object {
	if sc.anchor.IsValid() {
		if s := sc.pkg.Scope().Innermost(sc.anchor); s != nil {
			_, obj := s.LookupParent(name, sc.anchor)
			return obj
		}
	}
	if obj := sc.pkg.Scope().Lookup(name); obj != nil {
		return obj
	}
	if sc.file == nil {
		return nil
	}
	// A method of another package, whose file's scope export data does
	// not keep: its imports are read from its syntax.
	for _, spec := range sc.file.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue
		}
		// The export data of the method's package holds the packages
		// its API uses; any other is loaded.
		imported := findImport(sc.pkg, path, map[*types.Package]bool{})
		var local string
		if spec.Name != nil {
			local = spec.Name.Name
		} else {
			if imported == nil {
				imported = sc.l.wholePackage(path)
			}
			local = imported.Name()
		}
		if local != name {
			continue
		}
		if imported == nil {
			imported = sc.l.wholePackage(path)
		}
		return types.NewPkgName(spec.Pos(), sc.pkg, local, imported)
	}
	return nil
}

// wholePackage returns the types of the package path, read whole, or an
// empty package when it cannot be loaded.
func (l *loader) wholePackage(path string) *types.Package {
	if pkg, ok := l.loaded[path]; ok {
		return pkg
	}
	pkg := types.NewPackage(path, "")
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: l.dir}, path)
	if err == nil && len(pkgs) == 1 && pkgs[0].Types != nil {
		pkg = pkgs[0].Types
	}
	if l.loaded == nil {
		l.loaded = map[string]*types.Package{}
	}
	l.loaded[path] = pkg
	return pkg
}

// findImport returns the package of path among those pkg imports,
// directly or not, or nil.
func findImport(pkg *types.Package, path string, seen map[*types.Package]bool) *types.Package {
	if seen[pkg] {
		return nil
	}
	seen[pkg] = true
	for _, p := range pkg.Imports() {
		if p.Path() == path {
			return p
		}
	}
	for _, p := range pkg.Imports() {
		if found := findImport(p, path, seen); found != nil {
			return found
		}
	}
	return nil
}
