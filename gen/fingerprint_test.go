package gen

import (
	"math/big"
	"net/url"
	"reflect"
	"testing"

	gcache "github.com/gcache-go/gcache/runtime"
	"github.com/gcache-go/gcache/testdata/basic"
	"github.com/gcache-go/gcache/testdata/keys"
	"github.com/gcache-go/gcache/testdata/shapes"
)

// TestFingerprintsMatchTheRuntime checks that the fingerprints the
// generator computes from go/types equal those the runtime computes by
// reflection for the same types: a generated use case and a hand-written
// one of the same type read each other's values.
func TestFingerprintsMatchTheRuntime(t *testing.T) {
	want := map[string]reflect.Type{
		"GetUser":          reflect.TypeFor[*basic.User](),
		"SearchUserPosts":  reflect.TypeFor[[]basic.Post](),
		"Shapes.Struct":    reflect.TypeFor[shapes.Result](),
		"Shapes.Map":       reflect.TypeFor[map[string]*big.Int](),
		"Shapes.Pointer":   reflect.TypeFor[*url.URL](),
		"Shapes.Tree":      reflect.TypeFor[*shapes.Tree](),
		"Shapes.Variadic":  reflect.TypeFor[[]string](),
		"Shapes.ValueOnly": reflect.TypeFor[int](),
		"Scalars":          reflect.TypeFor[string](),
		"Shapes.Anonymous": reflect.TypeFor[struct {
			A int `json:"a"`
			B []byte
		}](),
	}
	_ = keys.Name("")
	files, _, err := load("../testdata", []string{"./basic", "./shapes", "./keys", "./generic"})
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
				rt, ok := want[m.Cache.UseCase]
				if !ok {
					if iface.TypeParams != nil && m.Cache.Fingerprint != 0 {
						t.Errorf("%s: fingerprint %x of a type with type parameters, want 0", m.Cache.UseCase, m.Cache.Fingerprint)
					}
					continue
				}
				seen[m.Cache.UseCase] = true
				if got, want := m.Cache.Fingerprint, gcache.TypeFingerprint(rt); got != want {
					t.Errorf("%s: generator %016x, runtime %016x for %v", m.Cache.UseCase, got, want, rt)
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
