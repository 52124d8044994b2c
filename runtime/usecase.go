package gcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gcache-go/gcache/internal/names"
	"github.com/maypok86/otter/v2"
)

// ReservedUseCase is the one use case name that cannot be registered: the
// keys of a use case so named would read like watermarks.
const ReservedUseCase = names.Reserved

// UseCaseSpec describes a use case: one cached function or method.
type UseCaseSpec struct {
	// Name identifies the use case in keys, metrics and the config
	// provider. Letters, digits and "_.-"; unique per Cache.
	Name string
	// KeyType is the kind of entity the keys are about ("user_id").
	KeyType string
	// Tracked entries are checked against their entity's watermark, so
	// that Invalidate reaches them.
	Tracked bool
	// Default is the config when the provider has none; its zero value
	// leaves the use case uncached until a provider configures it.
	Default KeyConfig
	// Fingerprint identifies the structure of the value type in Redis; 0
	// derives it from the type (see TypeFingerprint).
	Fingerprint uint64
	// Codec encodes values for Redis; nil picks the type's own
	// MarshalBinary/UnmarshalBinary when it has both, and CBOR otherwise.
	Codec Codec
	// Negative is the error by which the function says "not found", such
	// as sql.ErrNoRows. When KeyConfig.NegativeTTL is set, a call whose
	// function returns an error that is (errors.Is) Negative caches that
	// answer, and calls that hit it return Negative itself without calling
	// the function. nil caches no error.
	Negative error
}

// A UseCase caches the results of one function, of type T, by key. It is
// safe for concurrent use. Generated decorators hold one per cached method;
// it is also the way to cache a closure by hand:
//
//	uc, err := gcache.NewUseCase[*User](c, gcache.UseCaseSpec{Name: "GetUser", KeyType: "user_id", ...})
//	...
//	b := gcache.AppendString(nil, id)
//	u, err := uc.Get(ctx, uc.Key(b, len(b)), func(ctx context.Context) (*User, error) {
//		return db.User(ctx, id)
//	})
type UseCase[T any] struct {
	c       *Cache
	name    string
	shape   keyShape
	def     KeyConfig
	fp      uint64
	codec   valueCodec[T]
	local   *otter.Cache[string, entry[T]]
	metrics *useCaseMetrics
	flight  flight[loaded[T]]

	negative   error // the function's "not found", or nil
	refreshing claims
	filling    filling[T]
}

// loaded is a value with the times the staleness rule needs. A negative
// one is the function's "not found".
type loaded[T any] struct {
	val T
	// created is when the call that made it started, in fleet ns, taken
	// early by the clock's error; 0 when the fleet clock was not known.
	created int64
	// validated is when it was last known fresh, in local ns: when the
	// call that made it here started, or the read from Redis that checked
	// it against the watermark there.
	validated int64
	negative  bool
}

// entry is a value in the local tier.
type entry[T any] struct {
	val       T
	created   int64         // see loaded
	validated int64         // see loaded
	ttl       time.Duration // the local TTL in force when it was written
	refreshAt int64         // local ns; when a hit refreshes it, or 0 for never
	negative  bool          // the function's "not found"
}

// NewUseCase registers a use case on c. A name that is malformed, reserved
// or already registered on c is an error, as is an invalid default config.
func NewUseCase[T any](c *Cache, spec UseCaseSpec) (*UseCase[T], error) {
	switch {
	case spec.Name == ReservedUseCase:
		return nil, fmt.Errorf("gcache: use case name %q is reserved", spec.Name)
	case !names.Valid(spec.Name):
		return nil, fmt.Errorf("gcache: use case name %q: %s", spec.Name, names.Want)
	case !names.Valid(spec.KeyType):
		return nil, fmt.Errorf("gcache: use case %s: key type %q: %s", spec.Name, spec.KeyType, names.Want)
	}
	if err := spec.Default.Validate(); err != nil {
		return nil, fmt.Errorf("gcache: use case %s: default config: %w", spec.Name, err)
	}
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Interface && spec.Codec == nil && c.remote != nil {
		return nil, fmt.Errorf("gcache: use case %s: values of the interface type %v cannot go through Redis without a Codec: its decoder cannot tell which type to make; cache a concrete type, or set UseCaseSpec.Codec", spec.Name, t)
	}
	u := &UseCase[T]{
		c:       c,
		name:    spec.Name,
		shape:   newKeyShape(c.cfg.KeyPrefix, spec.KeyType, spec.Name, spec.Tracked, c.cfg.MaxKeyLength),
		def:     spec.Default,
		fp:      spec.Fingerprint,
		codec:   newValueCodec[T](spec.Codec),
		metrics: c.metrics.forUseCase(spec.Name, spec.KeyType),

		negative: spec.Negative,
	}
	if u.fp == 0 {
		u.fp = TypeFingerprint(reflect.TypeFor[T]())
	}
	var err error
	u.local, err = otter.New(&otter.Options[string, entry[T]]{
		MaximumSize: c.cfg.LocalMaxEntries,
		Clock:       c.clock,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry[T]]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("gcache: use case %s: %w", spec.Name, err)
	}
	if err := c.register(spec, u); err != nil {
		u.close()
		return nil, err
	}
	return u, nil
}

// Key returns the key of a call. b holds the call's id rendered by the
// Append functions, followed by its arguments, if any, rendered as
// "?name=value&name=value" in the order of their names; idLen is the length
// of the id. For a key without arguments:
//
//	b := gcache.AppendInt(nil, id)
//	key := uc.Key(b, len(b))
func (u *UseCase[T]) Key(b []byte, idLen int) Key { return u.shape.render(b, idLen) }

// Enabled reports whether caching is enabled in ctx and, when it is not,
// counts the call as disabled. Generated code checks it before it builds a
// key, so that a disabled call costs nothing more.
func (u *UseCase[T]) Enabled(ctx context.Context) bool {
	if Enabled(ctx) {
		return true
	}
	u.metrics.disabledContext.child().Inc()
	return false
}

// Get returns the value of key, from the local tier, else from Redis, else
// from fn, which then fills both. Concurrent misses of one key in this
// process call fn once; with a lease configured, in the whole fleet.
// fn's error is returned as is and never cached, except the use case's
// negative answer when the config caches it. Whatever fails on the cache
// side is logged and counted, and the call is served by fn, which runs at
// most once per call.
//
// With early refresh configured, fn may run after Get returns, in the
// background, with ctx's values but not its cancellation: it must not
// hold on to what only lives as long as the call, such as a transaction.
//
// Get does not copy values: a value of a pointer, slice or map type is
// shared by every caller that gets it from the local tier, so it must not
// be modified.
func (u *UseCase[T]) Get(ctx context.Context, key Key, fn func(context.Context) (T, error)) (T, error) {
	if !u.Enabled(ctx) {
		return fn(ctx)
	}
	if key.str == "" {
		b := AppendString(nil, key.ID)
		key = u.shape.render(b, len(b))
	}
	return u.get(ctx, key.str, 0, key, func() func(context.Context) (T, error) { return fn })
}

// GetRendered is [UseCase.Get] for a key still in the form [UseCase.Key]
// takes and a function made on demand: newFn returns the function that
// loads the value, and GetRendered calls it only when it needs one, on a
// miss or for an early refresh, which may outlive the call. So it builds
// no Key and no function, and allocates nothing, when the call hits the
// local tier and no ConfigProvider is set. It is for callers that check
// [UseCase.Enabled] first, so that a disabled call builds no key: it does
// not check it again. b must not change until GetRendered returns.
// Generated decorators call it:
//
//	return uc.GetRendered(ctx, b, idLen, func() func(context.Context) (*User, error) {
//		return func(ctx context.Context) (*User, error) { return db.User(ctx, id) }
//	})
func (u *UseCase[T]) GetRendered(ctx context.Context, b []byte, idLen int, newFn func() func(context.Context) (T, error)) (T, error) {
	var buf [256]byte
	full := u.shape.appendKey(buf[:0], b, idLen)
	return u.get(ctx, unsafe.String(unsafe.SliceData(full), len(full)), idLen, Key{}, newFn)
}

// get serves an enabled call. str is the rendered key, which may borrow
// the caller's buffer; key is the call's own Key, or the zero Key when it
// is yet to be built, as it is only when needed: for the config provider
// and on a local miss.
func (u *UseCase[T]) get(ctx context.Context, str string, idLen int, key Key, newFn func() func(context.Context) (T, error)) (T, error) {
	if u.c.closed.Load() {
		return newFn()(ctx)
	}
	if key.str == "" && u.c.cfg.ConfigProvider != nil {
		key = u.shape.keyOf(strings.Clone(str), idLen)
	}
	cfg, ok := u.config(ctx, &key)
	if !ok {
		return newFn()(ctx)
	}
	local := u.layerOn(Local, cfg.Local)
	remote := u.c.remote != nil && u.layerOn(Remote, cfg.Remote)
	if local {
		u.metrics.request[Local].child().Inc()
		// The entry is looked at where it lands: it is copied once.
		if e, ok := u.local.GetIfPresent(str); ok && u.usable(str, e.created, e.validated, e.negative, cfg) {
			if e.negative {
				u.metrics.negativeHit[Local].child().Inc()
				return e.val, u.negative
			}
			if e.refreshAt != 0 {
				u.refreshHit(ctx, str, idLen, &key, cfg, e.created, e.refreshAt, remote, newFn)
			}
			return e.val, nil
		}
		u.metrics.miss[Local].child().Inc()
	}
	if !local && !remote {
		return newFn()(ctx)
	}
	return u.miss(ctx, str, idLen, key, cfg, local, remote, newFn)
}

// miss loads the value of a call that missed the local tier. It is apart
// from get so that the plan, and the Key it points to, are made on a miss
// only: taking the address of get's own Key would move it to the heap on
// every call, hits included.
func (u *UseCase[T]) miss(ctx context.Context, str string, idLen int, key Key, cfg *KeyConfig, local, remote bool, newFn func() func(context.Context) (T, error)) (T, error) {
	if key.str == "" {
		key = u.shape.keyOf(strings.Clone(str), idLen)
	}
	return u.load(ctx, &plan{key: &key, cfg: cfg, local: local, remote: remote}, newFn)
}

// refreshHit starts the refresh of a local hit's value, made at created,
// when it is past its refresh point and its refresh is not under way or
// backing off. It is apart from get, whose frame it would make larger.
func (u *UseCase[T]) refreshHit(ctx context.Context, str string, idLen int, key *Key, cfg *KeyConfig, created, refreshAt int64, remote bool, newFn func() func(context.Context) (T, error)) {
	now := u.c.clock.NowNano()
	if now < refreshAt || !u.refreshing.claim(str, now) {
		return
	}
	k := *key
	if k.str == "" {
		k = u.shape.keyOf(strings.Clone(str), idLen)
	}
	u.refresh(ctx, plan{key: &k, cfg: cfg, local: true, remote: remote}, created, Local, newFn())
}

// KeyError counts and logs a key that generated code could not build. The
// call is then served by the function, uncached.
func (u *UseCase[T]) KeyError(err error) {
	u.metrics.error(layerGlobal, errKey, false)
	u.c.log.error("could not build a key", "use_case", u.name, "error", err)
}

// config resolves the call's config: the provider's answer, else the
// default. ok is false when the provider failed.
func (u *UseCase[T]) config(ctx context.Context, key *Key) (cfg *KeyConfig, ok bool) {
	p := u.c.cfg.ConfigProvider
	if p == nil {
		return &u.def, true
	}
	got, err := callProvider(ctx, p, key)
	if err == nil && ctx.Err() != nil {
		// The provider overran the call's context: its answer is late.
		err = fmt.Errorf("gcache: config provider returned after the call's context ended: %w", ctx.Err())
	}
	if err == nil && got != nil {
		err = got.Validate()
	}
	if err != nil {
		u.metrics.disabled[Local][reasonConfigError].child().Inc()
		if u.c.remote != nil {
			u.metrics.disabled[Remote][reasonConfigError].child().Inc()
		}
		u.c.log.error("config provider failed", "use_case", u.name, "error", err)
		return nil, false
	}
	if got == nil {
		return &u.def, true
	}
	return got, true
}

// keyPool holds the Keys handed to config providers, which must not keep
// them: a provider runs on every call, and a Key of its own per call would
// be an allocation on every local hit.
var keyPool = sync.Pool{New: func() any { return new(Key) }}

// callProvider calls p with a copy of key, and turns a panic into an error.
func callProvider(ctx context.Context, p ConfigProvider, key *Key) (cfg *KeyConfig, err error) {
	k := keyPool.Get().(*Key)
	*k = *key
	defer func() {
		*k = Key{}
		keyPool.Put(k)
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("gcache: config provider panicked: %v", r)
		}
	}()
	return p(ctx, k)
}

// layerOn decides whether layer l takes part in this call.
func (u *UseCase[T]) layerOn(l Layer, c LayerConfig) bool {
	switch {
	case c.TTL <= 0:
		u.metrics.disabled[l][reasonMissingConfig].child().Inc()
		return false
	case c.Ramp >= 100:
		return true
	case c.Ramp <= 0 || rand.IntN(100) >= c.Ramp:
		u.metrics.disabled[l][reasonRampedDown].child().Inc()
		return false
	}
	return true
}

// errOf returns the error a caller gets for res: the use case's negative
// error for a negative answer from the cache.
func (u *UseCase[T]) errOf(res loaded[T]) error {
	if res.negative {
		return u.negative
	}
	return nil
}

// isNegative reports whether err is the function's "not found", to be
// cached under cfg.
func (u *UseCase[T]) isNegative(err error, cfg *KeyConfig) bool {
	return u.servesNegative(cfg) && errors.Is(err, u.negative)
}

// servesNegative reports whether negative answers are cached and served
// under cfg. When they are not, one found in a tier is a miss: written by
// another version of the service, or before the provider turned them off.
func (u *UseCase[T]) servesNegative(cfg *KeyConfig) bool {
	return u.negative != nil && cfg.NegativeTTL > 0
}

// called counts a call of the function that began at start.
func (u *UseCase[T]) called(start time.Time, failed, remote bool) {
	if remote {
		u.metrics.fallback[Remote].child().Observe(time.Since(start).Seconds())
	}
	if failed {
		u.metrics.error(layerGlobal, errFunction, true)
	}
}

func (u *UseCase[T]) remoteError(kind errKind, err error) {
	u.metrics.error(Remote.String(), kind, false)
	u.c.log.error("Redis tier failed", "use_case", u.name, "error", err)
}
