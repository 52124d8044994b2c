package gen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorCases are annotation mistakes, one package each. « marks where the
// error points; want is in its message.
var errorCases = []struct {
	name, src, want string
}{
	{"unknown directive", `
//gcache:wrap
type S interface {
	«//gcache:cached key_type=k id=id
	Get(ctx context.Context, id string) (int, error)
}`, "unknown directive //gcache:cached"},
	{"unknown option", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id «tracked
	Get(ctx context.Context, id string) (int, error)
}`, `unknown option "tracked" of //gcache:cache (have key_type, id, use_case, track)`},
	{"missing key_type", `
//gcache:wrap
type S interface {
	«//gcache:cache id=id
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:cache needs key_type="},
	{"missing id", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:cache needs id=EXPR"},
	{"id names no parameter", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=user_id id=«usrID
	GetUser(ctx context.Context, userID string) (int, error)
}`, `"usrID" is not a parameter of GetUser (have ctx, userID)`},
	{"arg names no parameter", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg «pgae=page
	Get(ctx context.Context, id string, page int) (int, error)
}`, `//gcache:arg pgae: "pgae" is not a parameter of Get`},
	{"expression does not type-check", `
type User struct{ Name string }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=u.«Nmae
	Get(ctx context.Context, u *User) (int, error)
}`, "u (of type *User) has no field or method Nmae"},
	{"expression is not a selector chain", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«a+b
	Get(ctx context.Context, a, b string) (int, error)
}`, "a + b: want a parameter, a field or method selector chain, or a conversion"},
	{"unencodable parameter", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string, opts map[string]int) (int, error)
}`, "parameter opts of Get: type map[string]int is not key-encodable (want a string, bool, number, []byte, time.Time, time.Duration, a pointer or slice of those, or a type with CacheKey() string or MarshalText); add //gcache:arg opts=EXPR or //gcache:ignore opts"},
	{"unencodable id", `
type User struct{ Name string }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«u
	Get(ctx context.Context, u User) (int, error)
}`, "u: type User is not key-encodable"},
	{"pointer to pointer", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«p
	Get(ctx context.Context, p **string) (int, error)
}`, "is a pointer to a pointer"},
	{"duplicate use case", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id use_case=Get
	A(ctx context.Context, id string) (int, error)
	«//gcache:cache key_type=k id=id use_case=Get
	B(ctx context.Context, id string) (int, error)
}`, `use_case "Get" is already used at`},
	{"reserved use case", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id use_case=«watermark
	Get(ctx context.Context, id string) (int, error)
}`, `use_case "watermark" is reserved`},
	{"malformed use case", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id use_case=«a/b
	Get(ctx context.Context, id string) (int, error)
}`, `use_case "a/b": want letters, digits and "_.-"`},
	{"malformed key type", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=«user:id id=id
	Get(ctx context.Context, id string) (int, error)
}`, `key_type "user:id": want letters, digits and "_.-"`},
	{"bad duration", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=«5 remote=1m
	Get(ctx context.Context, id string) (int, error)
}`, "ttl local=5: not a duration (want 30s, 5m, 1h30m)"},
	{"ramp above 100", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:ramp local=«150
	Get(ctx context.Context, id string) (int, error)
}`, "ramp local=150: want a whole percentage from 0 to 100"},
	{"negative ramp", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl remote=1m
	//gcache:ramp remote=«-1
	Get(ctx context.Context, id string) (int, error)
}`, "ramp remote=-1"},
	{"ramp of a layer without ttl", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:ramp local=100 «remote=50
	Get(ctx context.Context, id string) (int, error)
}`, "ramp remote=50 without a remote TTL has no effect"},
	{"ramp without ttl", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	«//gcache:ramp local=10
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:ramp without //gcache:ttl has no effect"},
	{"first parameter not a context", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(id string) (int, error)
}`, "Get must take a context.Context as its first parameter"},
	{"unsupported results", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string) (int, string, error)
}`, "Get returns (int, string, error); a cached method returns T or (T, error)"},
	{"error-only result", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string) error
}`, "a cached method returns T or (T, error)"},
	{"wrap on a struct", `
«//gcache:wrap
type S struct{}`, "//gcache:wrap is for interfaces; S is a struct"},
	{"ignore of the id", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ignore «id
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:ignore id: it is the id; the key cannot leave it out"},
	{"ttl without cache", `
//gcache:wrap
type S interface {
	«//gcache:ttl local=1m
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:ttl without //gcache:cache on Get"},
	{"cached and invalidating", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	«//gcache:invalidate key_type=k id=id
	Get(ctx context.Context, id string) (int, error)
}`, "Get is both cached and invalidating"},
	{"misplaced directive", `
«//gcache:cache key_type=k id=id
func F() {}`, "directive //gcache:cache is not in the doc comment of a type or of an interface method"},
	{"cache on a type", `
//gcache:wrap
«//gcache:cache key_type=k id=id
type S interface {
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:cache goes on a method; a type takes only //gcache:wrap"},
	{"option without value", `
//gcache:wrap
type S interface {
	//gcache:cache «key_type id=id
	Get(ctx context.Context, id string) (int, error)
}`, "option key_type of //gcache:cache needs a value"},
	{"duplicate option", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id «key_type=j
	Get(ctx context.Context, id string) (int, error)
}`, "option key_type given twice"},
	{"invalidate bad buffer", `
//gcache:wrap
type S interface {
	//gcache:invalidate key_type=k id=id buffer=«-5s
	Put(ctx context.Context, id string) error
}`, "buffer=-5s: want a duration of 0 or more"},
	{"unnamed key parameter", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string, _ int) (int, error)
}`, "Get has an unnamed parameter of type int"},
	{"method reference without call", `
type User struct{ Name string }

func (User) Key() string { return "" }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=u.«Key
	Get(ctx context.Context, u User) (int, error)
}`, "u.Key is a method: call it, u.Key()"},
	{"bad wrap name", `
//gcache:wrap name=«1x
type S interface {
	Get(ctx context.Context, id string) (int, error)
}`, `name "1x" is not a Go identifier`},
	{"decorator name taken", `
type SCache struct{}

«//gcache:wrap
type S interface {
	Get(ctx context.Context, id string) (int, error)
}`, "the decorator's name SCache is already declared"},
}

// TestErrors generates a module holding one package per error case, and
// checks that each reports its mistake, and only it, at its position.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), "module example.com/errs\n\ngo 1.26\n")
	wantPos := map[string]string{}
	for i, tc := range errorCases {
		src := "package p\n\nimport \"context\"\n\nvar _ context.Context\n" + tc.src + "\n"
		mark := strings.Index(src, "«")
		if mark < 0 {
			t.Fatalf("%s: no « in the source", tc.name)
		}
		line := strings.Count(src[:mark], "\n") + 1
		col := mark - strings.LastIndex(src[:mark], "\n")
		src = strings.Replace(src, "«", "", 1)
		file := filepath.Join(dir, fmt.Sprintf("e%02d", i), "x.go")
		write(file, src)
		wantPos[file] = fmt.Sprintf("%s:%d:%d", file, line, col)
	}
	_, err := Generate(dir, "./...")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Generate = %v, want Errors", err)
	}
	got := map[string][]*Error{}
	for _, e := range errs {
		got[e.Pos.Filename] = append(got[e.Pos.Filename], e)
	}
	for i, tc := range errorCases {
		file := filepath.Join(dir, fmt.Sprintf("e%02d", i), "x.go")
		es := got[file]
		if len(es) != 1 {
			t.Errorf("%s: %d errors, want 1: %v", tc.name, len(es), es)
			continue
		}
		e := es[0]
		if pos := e.Pos.String(); pos != wantPos[file] {
			t.Errorf("%s: error at %s, want %s (%s)", tc.name, pos, wantPos[file], e.Msg)
		}
		if !strings.Contains(e.Msg, tc.want) {
			t.Errorf("%s: %q does not say %q", tc.name, e.Msg, tc.want)
		}
		if s := e.Error(); !strings.HasPrefix(s, wantPos[file]+": gcache: ") {
			t.Errorf("%s: %q is not in the compiler's format", tc.name, s)
		}
	}
}
