package gen

import (
	"math/big"
	"net/url"
	"reflect"
	"testing"

	"github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/basic"
	"github.com/gcache-go/gcache/testdata/features"
	"github.com/gcache-go/gcache/testdata/keys"
	"github.com/gcache-go/gcache/testdata/shapes"
)

// TestFingerprintsMatchTheRuntime checks that the fingerprints the
// generator computes from go/types equal those the runtime computes by
// reflection for the same types: a generated use case and a hand-written
// one of the same type read each other's values.
func TestFingerprintsMatchTheRuntime(t *testing.T) {
	t.Parallel()
	// By package and use case.
	want := map[string]reflect.Type{
		"basic.GetUser":                  reflect.TypeFor[*basic.User](),
		"basic.SearchUserPosts":          reflect.TypeFor[[]basic.Post](),
		"shapes.shapes.Shapes.Struct":    reflect.TypeFor[shapes.Result](),
		"shapes.shapes.Shapes.Map":       reflect.TypeFor[map[string]*big.Int](),
		"shapes.shapes.Shapes.Pointer":   reflect.TypeFor[*url.URL](),
		"shapes.shapes.Shapes.Tree":      reflect.TypeFor[*shapes.Tree](),
		"shapes.shapes.Shapes.Variadic":  reflect.TypeFor[[]string](),
		"shapes.shapes.Shapes.ValueOnly": reflect.TypeFor[int](),
		"keys.Scalars":                   reflect.TypeFor[string](),
		"shapes.shapes.Shapes.Anonymous": reflect.TypeFor[struct {
			A int `json:"a"`
			B []byte
		}](),
		"features.GetUser": reflect.TypeFor[*features.User](),
		// Batch use cases hold the values of their maps.
		"features.GetUsers":                    reflect.TypeFor[*features.User](),
		"features.features.UserStore.Balances": reflect.TypeFor[features.Balance](),
		"features.Names":                       reflect.TypeFor[string](),
	}
	_ = keys.Name("")
	files, _, err := load("../testdata", []string{"./basic", "./shapes", "./keys", "./generic", "./features"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		for _, iface := range f.Interfaces {
			for _, m := range iface.Methods {
				if m.Cache == nil {
					continue
				}
				uc := f.Package.Name + "." + m.Cache.UseCase
				rt, ok := want[uc]
				if !ok {
					if iface.TypeParams != nil && m.Cache.Fingerprint != 0 {
						t.Errorf("%s: fingerprint %x of a type with type parameters, want 0", uc, m.Cache.Fingerprint)
					}
					continue
				}
				seen[uc] = true
				if got, want := m.Cache.Fingerprint, gcache.TypeFingerprint(rt); got != want {
					t.Errorf("%s: generator %016x, runtime %016x for %v", uc, got, want, rt)
				}
			}
		}
	}
	for uc := range want {
		if !seen[uc] {
			t.Errorf("use case %s not found", uc)
		}
	}
	if gcache.TypeFingerprint(reflect.TypeFor[basic.User]()) == gcache.TypeFingerprint(reflect.TypeFor[basic.Post]()) {
		t.Error("two different structs share a fingerprint")
	}
}
