package gcache

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// A Tracer traces the calls of a Cache's use cases that miss the local
// tier: the ones that read Redis or call the function. Set one in
// Config.Tracer; package github.com/gcache-go/gcache/gcacheotel adapts
// OpenTelemetry to it.
//
// The Cache calls StartCall when a call has missed the local tier, before
// it reads Redis or calls the function, and when a [GetBatch] has ids the
// local tier does not hold, before it reads the others; then, in the
// call's goroutine, the methods of the CallSpan that StartCall returned,
// ending with End, once, when the call returns (or panics). Calls run
// concurrently: a Tracer must be safe for concurrent use, while the
// methods of one CallSpan are called one at a time. They are all on the
// call's path: they must not block, and must not call the Cache.
//
// Local hits are not traced. A hit costs about 80 ns, which the cheapest
// record of it on the caller's span (an event) would more than double;
// and a span event per hit would fill a long request's span with events
// that its limit then drops. The metrics count them.
type Tracer interface {
	// StartCall begins the trace of call, of which the fields that say
	// what the call is are set. It returns the context the call goes on
	// in, under which it reads Redis and calls the function, so that
	// their spans are the call's children; and the CallSpan to which the
	// call reports. A nil CallSpan traces nothing more of the call.
	StartCall(ctx context.Context, call TracedCall) (context.Context, CallSpan)
}

// A CallSpan is the trace of one call, begun by [Tracer.StartCall].
type CallSpan interface {
	// RedisFailed reports that a read of the call's in Redis failed, or
	// that the breaker held Redis off, when it happens. kind is the
	// "error" label the failure is counted under in
	// gcache_error_counter_total ("timeout", "connection", "redis"), or
	// "server_down" when the breaker held Redis off, err the failure.
	// The call goes on: it is served by the function.
	RedisFailed(kind string, err error)
	// End ends the trace with the call's outcome: call is the TracedCall
	// StartCall was given, with the fields that say how it went set.
	End(call TracedCall)
}

// A RedisTracer is a Tracer that also traces Redis commands. [New] adds
// its hook to the Redis client it makes from Config.Redis; a client of
// your own (Config.RedisClient) is left as it is: add the hook to it, or
// instrument it as you like.
type RedisTracer interface {
	Tracer
	// RedisHook returns the hook that traces Redis commands, or nil.
	RedisHook() redis.Hook
}

// A TracedCall is what a Tracer learns of a call: what it is, when it
// starts, and how it went, when it ends.
type TracedCall struct {
	UseCase string
	KeyType string
	Tracked bool
	// Key is the call's key as Redis knows it ("{urn:user_id:123}#GetUser");
	// "" for a batch. It names an entity, which may be personal data: a
	// Tracer records it only when asked to.
	Key string
	// Batch is the number of distinct ids of a GetBatch; 0 for a call of
	// one key.
	Batch int

	// Outcome is what the call got.
	Outcome Outcome
	// Served is what answered it; 0 for a shared load and a batch.
	Served Served
	// Refreshed is true when the call found a value past its refresh
	// point in Redis and started its early refresh in the background.
	Refreshed bool
	// LeaseWaited is true when the call waited for another instance's
	// lease on its key; LeaseAcquired, when it took the key's lease and
	// called the function. A call that waited out a lease may take it.
	LeaseWaited, LeaseAcquired bool
	// LocalHits, RemoteHits and Misses count a batch's ids found in the
	// local tier, found in Redis (or on their way there), and asked of
	// the function.
	LocalHits, RemoteHits, Misses int
	// Err is the error the call returns, but for the use case's negative
	// answer: the function's error, or the end of the caller's context.
	Err error
}

// An Outcome is what a traced call got.
type Outcome uint8

const (
	// OutcomeNone: the call ended without an answer (its context ended).
	OutcomeNone Outcome = iota
	// OutcomeHit: a tier held the value.
	OutcomeHit
	// OutcomeNegative: the use case's "not found", from a tier, or from
	// the function, which cached it.
	OutcomeNegative
	// OutcomeMiss: the function was called.
	OutcomeMiss
	// OutcomeShared: the call took the result of the load that another
	// call of its key in this process led.
	OutcomeShared
)

var outcomeNames = [...]string{"", "hit", "negative", "miss", "shared"}

// String returns "hit", "negative", "miss", "shared", or "" for none.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return ""
}

// Served names what answered a traced call.
type Served uint8

const (
	ServedByNone     Served = iota // a shared load, a batch, or no answer
	ServedByLocal                  // the local tier, filled by a call that ended just before
	ServedByRemote                 // Redis, or a value on its way there
	ServedByFunction               // the function
)

var servedNames = [...]string{"", "LOCAL", "REMOTE", "FUNCTION"}

// String returns "LOCAL" or "REMOTE", as the layer label of the metrics
// says, "FUNCTION", or "" for none.
func (s Served) String() string {
	if int(s) < len(servedNames) {
		return servedNames[s]
	}
	return ""
}

// traceRedis adds the tracer's Redis hook, if it has one, to a client the
// Cache made.
func traceRedis(client redis.UniversalClient, t Tracer) {
	if rt, ok := t.(RedisTracer); ok {
		if h := rt.RedisHook(); h != nil {
			client.AddHook(h)
		}
	}
}

// A callTrace is the Cache's side of a traced call: what it has learnt of
// the call so far. It travels in the call's context, so that each step of
// the read path notes what it learns; only the call's own goroutine
// writes it. Its methods do nothing on a nil callTrace, which is what
// traceOf returns when tracing is off.
type callTrace struct {
	call TracedCall
	span CallSpan
}

type traceKey struct{}

// startTrace begins the trace of the call of key, or of a batch of n ids
// whose first key it is and of which the local tier held localHits, when
// the Cache has a Tracer. It returns the context the call goes on in.
func (c *Cache) startTrace(ctx context.Context, key *Key, n, localHits int) (context.Context, *callTrace) {
	if c.cfg.Tracer == nil {
		return ctx, nil
	}
	t := &callTrace{call: TracedCall{UseCase: key.UseCase, KeyType: key.KeyType, Tracked: key.Tracked, Key: key.str, Batch: n, LocalHits: localHits}}
	if n > 0 {
		t.call.Key = ""
	}
	ctx, t.span = c.cfg.Tracer.StartCall(ctx, t.call)
	if t.span == nil {
		return ctx, nil
	}
	return context.WithValue(ctx, traceKey{}, t), t
}

// traceOf returns the trace of the call whose context ctx is, or nil.
func (c *Cache) traceOf(ctx context.Context) *callTrace {
	if c.cfg.Tracer == nil {
		return nil
	}
	t, _ := ctx.Value(traceKey{}).(*callTrace)
	return t
}

// untraced returns ctx without the trace of the call it may belong to:
// the context of work that outlives the call, whose goroutine may not
// write the call's trace.
func (c *Cache) untraced(ctx context.Context) context.Context {
	if c.traceOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, (*callTrace)(nil))
}

// served notes what answered the call.
func (t *callTrace) served(s Served) {
	if t != nil {
		t.call.Served = s
	}
}

// refreshed notes that the call started an early refresh.
func (t *callTrace) refreshed() {
	if t != nil {
		t.call.Refreshed = true
	}
}

// leaseWaited notes that the call waits for another instance's lease.
func (t *callTrace) leaseWaited() {
	if t != nil {
		t.call.LeaseWaited = true
	}
}

// redisFailed reports what a read in Redis under ctx that ended with err
// counts as a failure: what looked counts, but for a miss, and a read
// that the caller cancelled.
func (t *callTrace) redisFailed(ctx context.Context, err error) {
	if t == nil || err == nil || cancelled(ctx) {
		return
	}
	kind := string(classify(err))
	if errors.Is(err, errBreakerOpen) {
		kind = reasonServerDown.String()
	}
	if kind != "" {
		t.span.RedisFailed(kind, err)
	}
}

// loaded notes how a load ended: whether its result was shared from
// another caller's load, made by the function (under the lease it took,
// if leased), a negative answer, and the error the call returns.
func (t *callTrace) loaded(shared, byFn, leased, negative bool, err error) {
	if t == nil {
		return
	}
	c := &t.call
	c.LeaseAcquired = leased
	switch {
	case shared:
		c.Outcome, c.Served = OutcomeShared, ServedByNone
	case byFn:
		c.Served, c.Outcome = ServedByFunction, OutcomeMiss
	case c.Served == ServedByNone:
		c.Outcome = OutcomeNone // the caller's context ended
	default:
		c.Outcome = OutcomeHit
	}
	if negative && c.Outcome != OutcomeShared {
		c.Outcome = OutcomeNegative
	}
	if !negative {
		c.Err = err
	}
}

// batchCalled notes that a batch asked the function for n ids, which
// returned err.
func (t *callTrace) batchCalled(n int, err error) {
	if t != nil {
		t.call.Misses, t.call.Err = n, err
	}
}

// end ends the trace.
func (t *callTrace) end() {
	if t == nil {
		return
	}
	if c := &t.call; c.Batch > 0 {
		c.RemoteHits = c.Batch - c.LocalHits - c.Misses
		c.Outcome = OutcomeHit
		if c.Misses > 0 {
			c.Outcome = OutcomeMiss
		}
	}
	t.span.End(t.call)
}
