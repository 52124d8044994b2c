// Package model is what the generator's loader makes of the annotated
// source and all its emitter sees: no go/types or go/ast value gets past
// the loader.
package model

import "time"

// A File is one generated file: the decorators of the wrapped interfaces
// declared in one source file.
type File struct {
	Source     string // the source file's path
	Path       string // the generated file's path
	Package    Package
	BuildLines []string // //go:build lines copied from the source
	Interfaces []*Interface
	Imports    map[string]string // path → package name of every package the types name
	// Scope is every name the file sees besides its imports: the
	// package's declarations and the predeclared identifiers, which
	// parameters must not shadow.
	Scope []string
}

// A Package is the package being generated.
type Package struct {
	Path, Name string
}

// An Interface is a wrapped interface.
type Interface struct {
	Name       string      // the interface, as the source names it
	Decorator  string      // the decorator type: UserStoreCache
	TypeParams []TypeParam // of a generic interface
	Methods    []*Method   // the whole method set, sorted by name
}

// A TypeParam is a type parameter with its constraint.
type TypeParam struct {
	Name       string
	Constraint Type
}

// A Method is one method of a wrapped interface.
type Method struct {
	Name     string
	Params   []Param // named, collision-free; Params[0] is the context when cached or invalidating
	Results  []Type
	Variadic bool
	// ErrorResult is true when the last result is an error: an
	// invalidating method invalidates only when it is nil.
	ErrorResult bool

	Cache         *Cache        // nil: not cached
	Invalidations []*Invalidate // after a successful call
}

// A Param is a method parameter under the name the decorator gives it.
type Param struct {
	Name string
	Type Type
}

// Cache is how a method is cached.
type Cache struct {
	UseCase, KeyType string
	Tracked          bool
	Default          [2]LayerDefault // Local, Remote

	// The opt-in features of the default config, each off at its zero
	// value.
	RefreshAt   float64       // early refresh, after this fraction of the TTL
	NegativeTTL time.Duration // how long Negative is cached
	Lease       time.Duration // single flight across instances
	// Negative is the sentinel error by which the method says "not
	// found"; nil when it has none.
	Negative *Var

	ID           KeyPart  // for a batch, the key part of one id, named Batch.Elem
	Args         []KeyArg // sorted by name
	Value        Type     // the cached result; for a batch, the map's value type
	ReturnsError bool     // results are (Value, error), not Value alone
	Fingerprint  uint64   // 0 when the value type has type parameters
	Batch        *Batch   // nil: one id per call
}

// A Var is a package-level variable.
type Var struct {
	Path, Name string // the declaring package's import path, and the name
}

// A Batch is how a batch method takes its ids: a slice parameter, whose
// ids each have the key a call with that id alone would have. The method
// returns a map from id to Value.
type Batch struct {
	Param string // the parameter that holds the ids
	// Elem names one id in the key helper and in the closure that calls
	// it; the namer makes it distinct from the parameters and imports.
	Elem string
	ID   Type // the type of one id
}

// LayerDefault is a layer's default TTL and ramp.
type LayerDefault struct {
	TTL  time.Duration
	Ramp int
}

// A KeyArg is a named argument of a key.
type KeyArg struct {
	Name string
	Part KeyPart
}

// A KeyPart is a value rendered into a key: an expression over the
// parameters and how to encode its value.
type KeyPart struct {
	Expr Expr
	Enc  *Encoder
	Nil  []NilCheck // pointers the expression goes through
}

// A NilCheck is a pointer that must not be nil to evaluate an expression.
type NilCheck struct {
	Expr Expr
	Text string // as the annotation spells it, for the error
}

// An Invalidate is one //gcache:invalidate of a method.
type Invalidate struct {
	KeyType string
	// ID is the id of the entity; when Each is set, ID.Expr is a slice
	// and ID.Enc renders one of its elements, each an id.
	ID     KeyPart
	Each   bool
	Buffer time.Duration
}

// An Expr is a key expression over the parameters.
type Expr interface{ isExpr() }

type (
	// ParamRef is a parameter.
	ParamRef struct{ Name string }
	// Selector selects a field: X.Name.
	Selector struct {
		X    Expr
		Name string
	}
	// MethodCall calls a method without arguments: X.Name().
	MethodCall struct {
		X    Expr
		Name string
	}
	// Conversion converts X to type To.
	Conversion struct {
		To Type
		X  Expr
	}
	// Deref is *X.
	Deref struct{ X Expr }
)

func (ParamRef) isExpr()   {}
func (Selector) isExpr()   {}
func (MethodCall) isExpr() {}
func (Conversion) isExpr() {}
func (Deref) isExpr()      {}

// An EncKind is how a value is rendered into a key; each is one Append
// function of the runtime, or a composition of them.
type EncKind int

const (
	EncString   EncKind = iota // AppendString(b, string(v))
	EncBytes                   // AppendBytes(b, []byte(v))
	EncBool                    // AppendBool(b, bool(v))
	EncInt                     // AppendInt(b, int64(v))
	EncUint                    // AppendUint(b, uint64(v))
	EncFloat32                 // AppendFloat(b, float64(v), 32)
	EncFloat64                 // AppendFloat(b, float64(v), 64)
	EncTime                    // AppendTime(b, v)
	EncDuration                // AppendDuration(b, v)
	EncText                    // AppendText(b, v), which can fail
	EncCacheKey                // AppendString(b, v.CacheKey())
	EncStringer                // AppendString(b, v.String()), for named integers
	EncNilable                 // nil renders "nil", else Elem (pointers, interfaces)
	EncSlice                   // AppendSlice(b, v, Elem)
)

// An Encoder renders a value.
type Encoder struct {
	Kind EncKind
	Type Type     // the value's type, for slice elements only
	Conv bool     // the value must be converted to the Append function's type
	Elem *Encoder // for EncNilable (the pointee, or the interface itself) and EncSlice
	// Deref is true for a pointer: Elem encodes *v.
	Deref bool
	// Marked is true for a pointer to something that can itself be nil:
	// a non-nil pointer renders "*" before its pointee, so that it never
	// renders like the nil pointer.
	Marked bool
}

// Fallible reports whether rendering can fail (a MarshalText error).
func (e *Encoder) Fallible() bool {
	return e.Kind == EncText || e.Elem != nil && e.Elem.Fallible()
}

// A Type is a Go type, as the decorator spells it.
type Type interface{ isType() }

type (
	// Named is a named type, or an alias; Path is "" for predeclared
	// types (error, any, comparable, int...).
	Named struct {
		Path, Name string
		Args       []Type
	}
	Pointer struct{ Elem Type }
	Slice   struct{ Elem Type }
	Array   struct {
		Len  int64
		Elem Type
	}
	Map struct{ Key, Elem Type }
	// Chan is a channel; Dir is "chan", "<-chan" or "chan<-".
	Chan struct {
		Dir  string
		Elem Type
	}
	Func struct {
		Params, Results []Type
		Variadic        bool
	}
	Struct struct{ Fields []Field }
	// InterfaceType is an interface literal: methods and embedded types
	// (unions among them, for constraints).
	InterfaceType struct {
		Methods  []InterfaceMethod
		Embedded []Type
		Implicit bool // a bare constraint such as ~int | ~string
	}
	Union struct{ Terms []Term }
	// TypeParamRef is a type parameter of the interface.
	TypeParamRef struct{ Name string }
)

// A Field is a field of a struct literal.
type Field struct {
	Name     string
	Type     Type
	Embedded bool
	Tag      string
}

// An InterfaceMethod is a method of an interface literal.
type InterfaceMethod struct {
	Name string
	Sig  *Func
}

// A Term is a term of a union.
type Term struct {
	Tilde bool
	Type  Type
}

func (Named) isType()         {}
func (Pointer) isType()       {}
func (Slice) isType()         {}
func (Array) isType()         {}
func (Map) isType()           {}
func (Chan) isType()          {}
func (*Func) isType()         {}
func (Struct) isType()        {}
func (InterfaceType) isType() {}
func (Union) isType()         {}
func (TypeParamRef) isType()  {}
