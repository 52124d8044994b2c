package gen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/testdata/keyfuzz"
)

// argOf returns the rendering of argument name in key.
func argOf(t *testing.T, key, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(key, "?")
	if !ok {
		t.Fatalf("key %q has no arguments", key)
	}
	rest, _, _ = strings.Cut(rest, "#")
	for _, kv := range strings.Split(rest, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	t.Fatalf("key %q has no argument %s", key, name)
	return ""
}

// TestNestedNilsRenderApart: a nil pointer and a pointer to a nil
// interface, pointer or type parameter value render apart.
func TestNestedNilsRenderApart(t *testing.T) {
	h := newKeyHarness(t)
	var (
		nilCK   keyfuzz.CK
		nilTM   keyfuzz.TM
		nilInt  *int
		five    = 5
		fivePtr = &five
	)
	pointers := func(pc *keyfuzz.CK, pm *keyfuzz.TM, pp **int) string {
		if _, err := h.keys.Pointers(on, "id", nil, nil, nil, pc, pm, nil, nil, pp); err != nil {
			t.Fatal(err)
		}
		return h.last
	}
	var ck keyfuzz.CK = keyfuzz.Code{S: "x"}
	var tm keyfuzz.TM = keyfuzz.Word("nil")
	for _, tc := range []struct {
		arg  string
		key  string
		want string
	}{
		{"pc", pointers(nil, nil, nil), "nil"},
		{"pc", pointers(&nilCK, nil, nil), "*nil"},
		{"pc", pointers(&ck, nil, nil), "*x"},
		{"pm", pointers(nil, nil, nil), "nil"},
		{"pm", pointers(nil, &nilTM, nil), "*nil"},
		{"pm", pointers(nil, &tm, nil), "*%6Eil"},
		{"pp", pointers(nil, nil, nil), "nil"},
		{"pp", pointers(nil, nil, &nilInt), "*nil"},
		{"pp", pointers(nil, nil, &fivePtr), "*5"},
	} {
		if got := argOf(t, tc.key, tc.arg); got != tc.want {
			t.Errorf("%s renders %q in %s, want %q", tc.arg, got, tc.key, tc.want)
		}
	}

	generic := func(p *string, pp **string) string {
		if _, err := h.generic.Pointers(on, "id", p, pp); err != nil {
			t.Fatal(err)
		}
		return h.last
	}
	var nilString *string
	s := "nil"
	sp := &s
	for _, tc := range []struct {
		arg  string
		key  string
		want string
	}{
		{"p", generic(nil, nil), "nil"},
		{"p", generic(sp, nil), "%6Eil"},
		{"pp", generic(nil, nil), "nil"},
		{"pp", generic(nil, &nilString), "*nil"},
		{"pp", generic(nil, &sp), "*%6Eil"},
	} {
		if got := argOf(t, tc.key, tc.arg); got != tc.want {
			t.Errorf("generic %s renders %q in %s, want %q", tc.arg, got, tc.key, tc.want)
		}
	}
}

// TestAcceptedShapesRender: the shapes that generated code which did not
// compile render their values.
func TestAcceptedShapesRender(t *testing.T) {
	h := newKeyHarness(t)
	if _, err := h.keys.Bytes(on, "id", nil, nil, []keyfuzz.MyByte{1, 2, 255}, ""); err != nil {
		t.Fatal(err)
	}
	if got := argOf(t, h.last, "mine"); got != "[1,2,255]" {
		t.Errorf("[]MyByte renders %q, want [1,2,255]", got)
	}
	var ck keyfuzz.CK = keyfuzz.Code{S: "a,b"}
	if _, err := h.keys.Pointers(on, "id", nil, nil, nil, &ck, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := argOf(t, h.last, "pc"); got != "*a,b" {
		t.Errorf("a pointer to a CacheKey interface renders %q, want *a,b", got)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	if _, err := h.keys.Pointers(on, "id", nil, nil, &at, nil, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := argOf(t, h.last, "pt"); got != "2024-01-02T02%3A04%3A05.000000006Z" {
		t.Errorf("a *time.Time renders %q", got)
	}
}
