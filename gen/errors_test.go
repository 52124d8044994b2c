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
}`, `unknown option "tracked" of //gcache:cache (have key_type, id, use_case, track, batch)`},
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
	{"promoted CacheKey", `
type CK struct{ S string }

func (c CK) CacheKey() string { return c.S }

type T struct {
	CK
	Extra string
}

//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string, t T) (int, error)
}`, "parameter t of Get: type T has CacheKey only through its embedded field CK, so its keys would render CK alone and drop its other fields; declare CacheKey on T itself; add //gcache:arg t=EXPR or //gcache:ignore t"},
	{"promoted CacheKey through an embedded pointer", `
type CK struct{ S string }

func (c *CK) CacheKey() string { return c.S }

type T struct {
	*CK
	X string
}

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«t
	Get(ctx context.Context, t *T) (int, error)
}`, "type *T has CacheKey only through its embedded field CK"},
	{"promoted MarshalText of an embedded time", `
type Stamp struct {
	time.Time
	Zone string
}

//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string, at Stamp) (int, error)
}`, "type Stamp has MarshalText only through its embedded field Time"},
	{"arg through another parameter", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg page=«size
	Get(ctx context.Context, id string, page, size int) (int, error)
}`, "//gcache:arg page=size does not use page, so calls that differ in page would share a key"},
	{"narrowing integer conversion", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg wide=«int8(wide)
	Get(ctx context.Context, id string, wide int) (int, error)
}`, "int8(wide): converting int to int8 drops high bits, so different values would share a key"},
	{"narrowing to int", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg n=«int(n)
	Get(ctx context.Context, id string, n int64) (int, error)
}`, "converting int64 to int drops high bits"},
	{"float to integer", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg f=«int64(f)
	Get(ctx context.Context, id string, f float64) (int, error)
}`, "converting float64 to int64 drops the fraction"},
	{"integer to float", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg n=«float64(n)
	Get(ctx context.Context, id string, n int64) (int, error)
}`, "converting int64 to float64 rounds large integers"},
	{"float64 to float32", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg f=«float32(f)
	Get(ctx context.Context, id string, f float64) (int, error)
}`, "converting float64 to float32 rounds to 32 bits"},
	{"integer to string", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«string(n)
	Get(ctx context.Context, n int) (int, error)
}`, "converting int to string keeps one code point"},
	{"string to runes", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:arg s=«[]rune(s)
	Get(ctx context.Context, id string, s string) (int, error)
}`, "converting string to []rune replaces invalid UTF-8"},
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
	{"refresh at not a number", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:refresh at=«soon
	Get(ctx context.Context, id string) (int, error)
}`, "refresh at=soon: not a number (want a fraction of the TTL, such as 0.8)"},
	{"refresh at 1", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:refresh at=«1
	Get(ctx context.Context, id string) (int, error)
}`, "refresh at=1: want a fraction of the TTL above 0 and below 1"},
	{"refresh at 0", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:refresh at=«0
	Get(ctx context.Context, id string) (int, error)
}`, "refresh at=0: want a fraction of the TTL above 0 and below 1"},
	{"refresh without at", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	«//gcache:refresh
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:refresh needs at=FRACTION"},
	{"refresh unknown option", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:refresh at=0.8 «jitter=0.1
	Get(ctx context.Context, id string) (int, error)
}`, `unknown option "jitter" of //gcache:refresh (have at)`},
	{"second refresh", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:refresh at=0.8
	«//gcache:refresh at=0.5
	Get(ctx context.Context, id string) (int, error)
}`, "second //gcache:refresh on Get"},
	{"refresh without cache", `
//gcache:wrap
type S interface {
	«//gcache:refresh at=0.8
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:refresh without //gcache:cache on Get"},
	{"refresh without ttl", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	«//gcache:refresh at=0.8
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:refresh without a TTL has no effect; add //gcache:ttl"},
	{"lease without ttl option", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl remote=1m
	«//gcache:lease
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:lease needs ttl=DURATION"},
	{"lease of zero", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl remote=1m
	//gcache:lease ttl=«0s
	Get(ctx context.Context, id string) (int, error)
}`, "lease ttl=0s: want a duration above 0"},
	{"lease not a duration", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl remote=1m
	//gcache:lease ttl=«2
	Get(ctx context.Context, id string) (int, error)
}`, "lease ttl=2: not a duration"},
	{"lease without a remote ttl", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	«//gcache:lease ttl=2s
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:lease without a remote TTL has no effect"},
	{"lease without cache", `
//gcache:wrap
type S interface {
	«//gcache:lease ttl=2s
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:lease without //gcache:cache on Get"},
	{"negative without ttl", `
var ErrNotFound = errors.New("not found")

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	«//gcache:negative err=ErrNotFound
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:negative needs ttl=DURATION"},
	{"negative without err", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	«//gcache:negative ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:negative needs err=NAME"},
	{"negative ttl of zero", `
var ErrNotFound = errors.New("not found")

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=ErrNotFound ttl=«0
	Get(ctx context.Context, id string) (int, error)
}`, "negative ttl=0: want a duration above 0"},
	{"negative err is a function", `
func ErrNotFound() error { return nil }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«ErrNotFound ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "negative err=ErrNotFound: ErrNotFound is a function; want the package-level variable that holds the sentinel error"},
	{"negative err is a type", `
type NotFound struct{}

func (NotFound) Error() string { return "not found" }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«NotFound ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "NotFound is a type"},
	{"negative err is a constant", `
const ErrNotFound = "not found"

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«ErrNotFound ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "ErrNotFound is a constant"},
	{"negative err is not an error", `
var ErrNotFound = 404

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«ErrNotFound ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "ErrNotFound has type int, which is not an error"},
	{"negative err unknown", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«ErrNotFuond ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "negative err=ErrNotFuond: ErrNotFuond is not declared in package p"},
	{"negative err unknown in an import", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=context.«Cancelled ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "negative err=context.Cancelled: Cancelled is not declared in package context"},
	{"negative err a function of an import", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«context.Background ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "context.Background is a function"},
	{"negative err unexported in an import", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=context.«canceled ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "canceled is not exported by package context"},
	{"negative err of no package", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«sql.ErrNoRows ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "sql is not an imported package"},
	{"negative err is a package", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«context ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "context is a package"},
	{"negative err an expression", `
var Errs = []error{errors.New("not found")}

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	//gcache:negative err=«Errs[0] ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "want the name of a package-level error variable"},
	{"negative on a method without an error", `
var ErrNotFound = errors.New("not found")

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=id
	//gcache:ttl local=1m
	«//gcache:negative err=ErrNotFound ttl=1m
	Get(ctx context.Context, id string) int
}`, "//gcache:negative needs Get to return (T, error)"},
	{"negative without cache", `
var ErrNotFound = errors.New("not found")

//gcache:wrap
type S interface {
	«//gcache:negative err=ErrNotFound ttl=1m
	Get(ctx context.Context, id string) (int, error)
}`, "//gcache:negative without //gcache:cache on Get"},
	{"batch id not a slice", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«id batch
	Get(ctx context.Context, id string) (map[string]int, error)
}`, "id has type string; the ids of a batch method are a slice, []K or ...K"},
	{"batch id a selector", `
type Query struct{ IDs []string }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«q.IDs batch
	Get(ctx context.Context, q Query) (map[string]int, error)
}`, "id=q.IDs: the id of a batch method is the parameter that holds the ids, not an expression"},
	{"batch id a conversion", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«[]string(ids) batch
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "the id of a batch method is the parameter that holds the ids"},
	{"batch id names no parameter", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«idz batch
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, `"idz" is not a parameter of Get (have ctx, ids)`},
	{"batch without id", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k batch
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:cache needs id=PARAM"},
	{"batch ids not encodable", `
type Q struct{ N int }

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«ids batch
	Get(ctx context.Context, ids []Q) (map[Q]int, error)
}`, "the ids in ids are not key-encodable: type Q is not key-encodable"},
	{"batch ids not comparable", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=«ids batch
	Get(ctx context.Context, ids [][]string) (map[string]int, error)
}`, "the ids in ids, of type []string, are not comparable"},
	{"batch result not a map", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids «batch
	Get(ctx context.Context, ids []string) ([]int, error)
}`, "Get returns ([]int, error); a batch method returns (map[string]V, error)"},
	{"batch result without error", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids «batch
	Get(ctx context.Context, ids []int64) map[int64]int
}`, "Get returns (map[int64]int); a batch method returns (map[int64]V, error)"},
	{"batch map key mismatch", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids «batch
	Get(ctx context.Context, ids []string) (map[int]string, error)
}`, "Get returns a map keyed by int; a batch method's map is keyed by its ids' type, string"},
	{"batch flag with a value", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids «batch=true
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "option batch of //gcache:cache takes no value"},
	{"refresh on a batch", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:ttl local=1m
	«//gcache:refresh at=0.8
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:refresh is not supported on batch methods"},
	{"lease on a batch", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:ttl remote=1m
	«//gcache:lease ttl=1s
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:lease is not supported on batch methods"},
	{"negative on a batch", `
var ErrNotFound = errors.New("not found")

//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:ttl remote=1m
	«//gcache:negative err=ErrNotFound ttl=1s
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:negative is not supported on batch methods"},
	{"arg of a batch's ids", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:arg «ids=ids
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:arg ids: ids holds the ids of the batch"},
	{"arg over a batch's ids", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:arg page=«ids
	Get(ctx context.Context, ids []string, page int) (map[string]int, error)
}`, "//gcache:arg page=ids uses ids, the ids of the batch"},
	{"ignore of a batch's ids", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	//gcache:ignore «ids
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "//gcache:ignore ids: it is the id"},
	{"batch and invalidate", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=k id=ids batch
	«//gcache:invalidate key_type=k id=ids
	Get(ctx context.Context, ids []string) (map[string]int, error)
}`, "Get is both cached and invalidating"},
	{"interface result", `
//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string) (any, error)
}`, "Get returns values of any, an interface type, which would not come back from Redis as the type they had; return a concrete type, or cache it by hand with gcache.NewUseCase and a UseCaseSpec.Codec"},
	{"non-empty interface result", `
type Shape interface{ Area() float64 }

//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=id
	Get(ctx context.Context, id string) Shape
}`, "Get returns values of Shape, an interface type"},
	{"batch of interfaces", `
type Shape interface{ Area() float64 }

//gcache:wrap
type S interface {
	«//gcache:cache key_type=k id=ids batch
	Get(ctx context.Context, ids []string) (map[string]Shape, error)
}`, "Get returns values of Shape, an interface type"},
	{"directive with a space", `
//gcache:wrap
type S interface {
	«// gcache:cache key_type=k id=id
	Get(ctx context.Context, id string) (int, error)
}`, "// gcache:cache has a space after //, so it reads as prose and does nothing; write //gcache:cache"},
	{"invalidation of an untracked key type", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=user id=id
	Get(ctx context.Context, id string) (int, error)
	«//gcache:invalidate key_type=user id=id
	Set(ctx context.Context, id string) error
}`, "//gcache:invalidate key_type=user reaches nothing: S.Get caches it but is not tracked (add track to its //gcache:cache); if the use cases it invalidates live in another package or service, say so with external"},
	{"invalidation of a key type nothing caches", `
//gcache:wrap
type S interface {
	//gcache:cache key_type=user id=id track
	Get(ctx context.Context, id string) (int, error)
	«//gcache:invalidate key_type=usr id=id
	Set(ctx context.Context, id string) error
}`, "//gcache:invalidate key_type=usr reaches nothing: no tracked use case of this package has it"},
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
		src := "package p\n\nimport (\n\t\"context\"\n\t\"errors\"\n\t\"time\"\n)\n\nvar (\n\t_ context.Context\n\t_ = errors.New\n\t_ time.Time\n)\n" + tc.src + "\n"
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
