package gcache

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/clocktest"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// recorder is a Tracer that keeps what the Cache tells it. It marks the
// context it returns, so that the tests see what runs under the trace.
type recorder struct {
	mu    sync.Mutex
	spans []*recordedSpan
	// cmds are the Redis commands its hook saw, each with the span whose
	// context it ran under, if any.
	cmds []recordedCmd
}

type recordedSpan struct {
	id       int
	start    TracedCall
	end      TracedCall
	ended    int
	failures []string // kinds
}

type recordedCmd struct {
	name string
	span int // 0: no traced call's
}

type spanKey struct{}

func (r *recorder) StartCall(ctx context.Context, call TracedCall) (context.Context, CallSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &recordedSpan{id: len(r.spans) + 1, start: call}
	r.spans = append(r.spans, s)
	return context.WithValue(ctx, spanKey{}, s.id), &recorderSpan{r, s}
}

type recorderSpan struct {
	r *recorder
	s *recordedSpan
}

func (s *recorderSpan) RedisFailed(kind string, err error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if err == nil {
		kind += " (no error)"
	}
	s.s.failures = append(s.s.failures, kind)
}

func (s *recorderSpan) End(call TracedCall) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.s.end = call
	s.s.ended++
}

// taken returns the spans recorded so far, and forgets them and the
// commands seen.
func (r *recorder) taken() []recordedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recordedSpan, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
	}
	r.spans, r.cmds = nil, nil
	return out
}

// only returns the one span recorded since the last call, ended once.
func (r *recorder) only(t *testing.T, what string) recordedSpan {
	t.Helper()
	spans := r.taken()
	if len(spans) != 1 {
		t.Fatalf("%s: %d spans, want 1: %+v", what, len(spans), spans)
	}
	if spans[0].ended != 1 {
		t.Fatalf("%s: the span ended %d times, want once", what, spans[0].ended)
	}
	return spans[0]
}

// tracedRecorder is a recorder that traces Redis commands too.
type tracedRecorder struct{ *recorder }

func (r tracedRecorder) RedisHook() redis.Hook { return recorderHook{r.recorder} }

type recorderHook struct{ r *recorder }

func (h recorderHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h recorderHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		id, _ := ctx.Value(spanKey{}).(int)
		h.r.mu.Lock()
		h.r.cmds = append(h.r.cmds, recordedCmd{cmd.Name(), id})
		h.r.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h recorderHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// underSpan returns a function that checks that it is called under the
// traced call's context, and returns v.
func underSpan(t *testing.T, v string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if _, ok := ctx.Value(spanKey{}).(int); !ok {
			t.Errorf("the function of a traced call runs outside its trace")
		}
		return v, nil
	}
}

// TestTracerSeesEachOutcome: a call that misses the local tier is traced
// once, with what it is, what answered it and how; a local hit is not.
func TestTracerSeesEachOutcome(t *testing.T) {
	recA, recB := &recorder{}, &recorder{}
	a := withRedis(t, Config{Tracer: recA})
	b := a.peer(Config{Tracer: recB})
	spec := UseCaseSpec{Name: "Get", KeyType: "user_id", Tracked: true, Default: allLayers}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)

	if v, err := ucA.Get(enabled, keyOf(ucA, "1"), underSpan(t, "one")); v != "one" || err != nil {
		t.Fatalf("miss: %q, %v", v, err)
	}
	s := recA.only(t, "a miss")
	want := TracedCall{UseCase: "Get", KeyType: "user_id", Tracked: true, Key: "{urn:user_id:1}#Get"}
	if s.start != want {
		t.Errorf("a miss starts as %+v, want %+v", s.start, want)
	}
	want.Outcome, want.Served = OutcomeMiss, ServedByFunction
	if s.end != want {
		t.Errorf("a miss ends as %+v, want %+v", s.end, want)
	}

	// A local hit: no span.
	if v, _ := ucA.Get(enabled, keyOf(ucA, "1"), underSpan(t, "two")); v != "one" {
		t.Fatalf("local hit: %q", v)
	}
	if spans := recA.taken(); len(spans) != 0 {
		t.Errorf("a local hit was traced: %+v", spans)
	}

	// A remote hit, on the other instance.
	a.settle()
	if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), underSpan(t, "two")); v != "one" {
		t.Fatalf("remote hit: %q", v)
	}
	s = recB.only(t, "a remote hit")
	want.Outcome, want.Served = OutcomeHit, ServedByRemote
	if s.end != want {
		t.Errorf("a remote hit ends as %+v, want %+v", s.end, want)
	}

	// The function's error.
	failure := errors.New("database down")
	if _, err := ucA.Get(enabled, keyOf(ucA, "2"), func(context.Context) (string, error) { return "", failure }); err != failure {
		t.Fatalf("failing call: %v", err)
	}
	s = recA.only(t, "a failing call")
	if s.end.Outcome != OutcomeMiss || s.end.Served != ServedByFunction || s.end.Err != failure {
		t.Errorf("a failing call ends as %+v, want a miss served by the function with its error", s.end)
	}

	for _, h := range []*harness{a, b} {
		if n := h.metric("gcache_error_counter_total", "layer", "REMOTE"); n != 0 {
			t.Fatalf("%v Redis errors: the counts above are not the ones of a working Redis", n)
		}
	}
	for _, spans := range [][]recordedSpan{recA.taken(), recB.taken()} {
		for _, s := range spans {
			if len(s.failures) != 0 {
				t.Errorf("a Redis failure reported with Redis up: %+v", s)
			}
		}
	}
}

// TestTracerSeesNegativeAnswers: the function's "not found", and the same
// answer from Redis, are negative outcomes, not errors.
func TestTracerSeesNegativeAnswers(t *testing.T) {
	recA, recB := &recorder{}, &recorder{}
	a := withRedis(t, Config{Tracer: recA})
	b := a.peer(Config{Tracer: recB})
	cfg := allLayers
	cfg.NegativeTTL = time.Minute
	spec := UseCaseSpec{Name: "Get", KeyType: "user_id", Negative: errNotFound, Default: cfg}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)
	notFound := func(context.Context) (string, error) { return "", errNotFound }

	if _, err := ucA.Get(enabled, keyOf(ucA, "404"), notFound); err != errNotFound {
		t.Fatalf("first call: %v", err)
	}
	if s := recA.only(t, "the function's not found"); s.end.Outcome != OutcomeNegative || s.end.Served != ServedByFunction || s.end.Err != nil {
		t.Errorf("the function's not found ends as %+v, want negative, served by the function, no error", s.end)
	}
	a.settle()
	if _, err := ucB.Get(enabled, keyOf(ucB, "404"), notFound); err != errNotFound {
		t.Fatalf("remote negative hit: %v", err)
	}
	if s := recB.only(t, "a remote negative hit"); s.end.Outcome != OutcomeNegative || s.end.Served != ServedByRemote || s.end.Err != nil {
		t.Errorf("a remote negative hit ends as %+v, want negative, served by Redis, no error", s.end)
	}
	if n := a.metric("gcache_error_counter_total", "layer", "REMOTE") + b.metric("gcache_error_counter_total", "layer", "REMOTE"); n != 0 {
		t.Fatalf("%v Redis errors", n)
	}
}

// TestTracerSeesSharedLoads: a caller that waits for another caller's
// load of its key is traced as shared, with its own context's end when it
// gives up.
func TestTracerSeesSharedLoads(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, Config{Tracer: rec})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", Default: allLayers})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = uc.Get(enabled, keyOf(uc, "1"), func(context.Context) (string, error) {
			close(started)
			<-release
			return "v", nil
		})
	}()
	<-started
	gaveUp, cancel := context.WithCancel(enabled)
	cancel()
	if _, err := uc.Get(gaveUp, keyOf(uc, "1"), underSpan(t, "w")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
	waited := make(chan string)
	go func() {
		v, _ := uc.Get(enabled, keyOf(uc, "1"), underSpan(t, "w"))
		waited <- v
	}()
	eventually(t, "the second waiter is traced", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.spans) == 3
	})
	close(release)
	if v := <-waited; v != "v" {
		t.Fatalf("the waiter got %q", v)
	}
	<-done
	spans := rec.taken()
	if len(spans) != 3 {
		t.Fatalf("%d spans for a load and two waiters", len(spans))
	}
	if s := spans[0].end; s.Outcome != OutcomeMiss || s.Served != ServedByFunction {
		t.Errorf("the leader ends as %+v", s)
	}
	if s := spans[1].end; s.Outcome != OutcomeShared || !errors.Is(s.Err, context.Canceled) {
		t.Errorf("the waiter that gave up ends as %+v, want shared with its context's error", s)
	}
	// The second waiter shares the load, unless it reached the single
	// flight only after the load ended: then it leads, and finds the value
	// on its second look at the local tier.
	s := spans[2].end
	if s.Err != nil || (s.Outcome != OutcomeShared || s.Served != ServedByNone) && (s.Outcome != OutcomeHit || s.Served != ServedByLocal) {
		t.Errorf("the waiter ends as %+v, want shared, or a local hit on its second look", s)
	}
}

// TestTracerSeesLeasesAndRefreshes: a call that waits for another
// instance's lease, one that takes a lease, and a remote hit that starts an
// early refresh say so.
func TestTracerSeesLeasesAndRefreshes(t *testing.T) {
	clock := clocktest.New()
	recA, recB := &recorder{}, &recorder{}
	a := withRedis(t, Config{Tracer: recA, Clock: clock.Now})
	b := a.peer(Config{Tracer: recB, Clock: clock.Now})
	cfg := KeyConfig{Remote: LayerConfig{TTL: 10 * time.Second, Ramp: 100}, Lease: 5 * time.Second, RefreshAt: 0.5}
	ucA, ucB := useCase[string](t, a.c, UseCaseSpec{Name: "Get", Default: cfg}), useCase[string](t, b.c, UseCaseSpec{Name: "Get", Default: cfg})

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, _ = ucA.Get(enabled, keyOf(ucA, "1"), func(context.Context) (string, error) {
			close(held)
			<-release
			return "a", nil
		})
	}()
	<-held
	go func() {
		// Let b look once and find the lease taken before a fills it (if
		// it never looks, the test fails below: b waited for nothing).
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if looked, _ := b.reg.Gather(); hasSampleOf(looked, "gcache_request_counter_total", "REMOTE") {
				break
			}
		}
		close(release)
	}()
	if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), underSpan(t, "b")); v != "a" {
		t.Fatalf("the waiter got %q, want the holder's value", v)
	}
	<-done
	if s := recA.only(t, "the holder"); !s.end.LeaseAcquired || s.end.LeaseWaited || s.end.Outcome != OutcomeMiss {
		t.Errorf("the lease holder ends as %+v, want a miss that acquired the lease", s.end)
	}
	if s := recB.only(t, "the waiter"); !s.end.LeaseWaited || s.end.LeaseAcquired || s.end.Outcome != OutcomeHit || s.end.Served != ServedByRemote {
		t.Errorf("the waiter ends as %+v, want a remote hit after a wait", s.end)
	}

	// Past the refresh point, a remote hit starts the refresh.
	clock.Advance(6 * time.Second)
	refreshed := make(chan struct{})
	if v, _ := ucB.Get(enabled, keyOf(ucB, "1"), func(context.Context) (string, error) { close(refreshed); return "b", nil }); v != "a" {
		t.Fatalf("a hit past the refresh point got %q, want the old value", v)
	}
	if s := recB.only(t, "a hit past the refresh point"); !s.end.Refreshed || s.end.Outcome != OutcomeHit {
		t.Errorf("a hit past the refresh point ends as %+v, want a hit that refreshed", s.end)
	}
	select {
	case <-refreshed:
	case <-time.After(10 * time.Second):
		t.Fatal("the refresh never called the function")
	}
	b.settle()
}

// hasSampleOf reports whether families hold a sample of name with the
// layer label layer. It may be called from any goroutine.
func hasSampleOf(families []*dto.MetricFamily, name, layer string) bool {
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				if hasLabels(m, []string{"layer", layer}) {
					return true
				}
			}
		}
	}
	return false
}

// TestTracerSeesRedisFailures: a read that fails is reported with its
// kind, then the breaker's holding Redis off; the call is a miss served by
// the function.
func TestTracerSeesRedisFailures(t *testing.T) {
	rec := &recorder{}
	h := withRedis(t, Config{Tracer: rec, BreakerThreshold: 1, BreakerCooldown: time.Hour})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	h.redis.Kill()
	for i, wantKind := range []string{"", "server_down"} {
		if v, err := uc.Get(enabled, keyOf(uc, strconv.Itoa(i)), underSpan(t, "v")); v != "v" || err != nil {
			t.Fatalf("call %d with Redis down: %q, %v", i, v, err)
		}
		s := rec.only(t, "a call with Redis down")
		if s.end.Outcome != OutcomeMiss || s.end.Served != ServedByFunction || s.end.Err != nil {
			t.Errorf("call %d ends as %+v, want a miss served by the function", i, s.end)
		}
		if len(s.failures) != 1 {
			t.Fatalf("call %d reported %q, want one failure", i, s.failures)
		}
		if got := s.failures[0]; wantKind == "" && got != "timeout" && got != "connection" || wantKind != "" && got != wantKind {
			t.Errorf("call %d reported %q, want %s", i, got, map[bool]string{true: "timeout or connection", false: wantKind}[wantKind == ""])
		}
	}
}

// TestTracerSeesBatches: a batch the local tier serves whole is not
// traced; one that reaches Redis and the function is, with its counts.
func TestTracerSeesBatches(t *testing.T) {
	recA, recB := &recorder{}, &recorder{}
	a := withRedis(t, Config{Tracer: recA})
	b := a.peer(Config{Tracer: recB})
	spec := UseCaseSpec{Name: "GetMany", KeyType: "user_id", Default: allLayers}
	ucA, ucB := useCase[string](t, a.c, spec), useCase[string](t, b.c, spec)
	key := func(b []byte, id int) ([]byte, int, error) {
		b = AppendInt(b, int64(id))
		return b, len(b), nil
	}
	var asked []int
	fn := func(ctx context.Context, ids []int) (map[int]string, error) {
		if _, ok := ctx.Value(spanKey{}).(int); !ok {
			t.Errorf("a traced batch's function runs outside its trace")
		}
		asked = append(asked, ids...)
		out := map[int]string{}
		for _, id := range ids {
			out[id] = strconv.Itoa(id)
		}
		return out, nil
	}
	if _, err := GetBatch(enabled, ucA, []int{1, 2}, key, fn); err != nil {
		t.Fatal(err)
	}
	a.settle()
	recA.taken()
	if _, err := GetBatch(enabled, ucA, []int{1, 2, 1}, key, fn); err != nil {
		t.Fatal(err)
	}
	if spans := recA.taken(); len(spans) != 0 {
		t.Errorf("a batch served by the local tier was traced: %+v", spans)
	}
	// b: 3 local (filled by a first call), 2 in Redis (a's), 1 for the function.
	if _, err := GetBatch(enabled, ucB, []int{3, 4, 5}, key, fn); err != nil {
		t.Fatal(err)
	}
	recB.taken()
	asked = nil
	got, err := GetBatch(enabled, ucB, []int{1, 2, 3, 4, 5, 6}, key, fn)
	if err != nil || len(got) != 6 {
		t.Fatalf("batch: %v, %v", got, err)
	}
	if len(asked) != 1 || asked[0] != 6 {
		t.Fatalf("the function was asked for %v, want [6]", asked)
	}
	s := recB.only(t, "a batch")
	if s.start.Batch != 6 || s.start.LocalHits != 3 || s.start.Key != "" || s.start.UseCase != "GetMany" {
		t.Errorf("the batch starts as %+v", s.start)
	}
	if e := s.end; e.LocalHits != 3 || e.RemoteHits != 2 || e.Misses != 1 || e.Outcome != OutcomeMiss || e.Err != nil {
		t.Errorf("the batch ends as %+v, want 3 local hits, 2 remote, 1 miss", e)
	}
	if n := b.metric("gcache_error_counter_total", "layer", "REMOTE"); n != 0 {
		t.Fatalf("%v Redis errors", n)
	}
}

// TestRedisTracerHooksTheClientItMakes: the hook of a RedisTracer sees the
// commands of the client that New makes from Config.Redis, under the
// traced call's context; a client of one's own is left alone.
func TestRedisTracerHooksTheClientItMakes(t *testing.T) {
	rec := tracedRecorder{&recorder{}}
	h := withRedis(t, Config{Tracer: rec})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	rec.taken()
	if _, err := uc.Get(enabled, keyOf(uc, "1"), underSpan(t, "v")); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	cmds := rec.cmds
	rec.mu.Unlock()
	s := rec.only(t, "a miss")
	var underCall []string
	for _, c := range cmds {
		if c.span == s.id {
			underCall = append(underCall, c.name)
		}
	}
	// A new connection's handshake (hello) may run under it too.
	if n := len(slices.DeleteFunc(slices.Clone(underCall), func(c string) bool { return c != "get" })); n != 1 {
		t.Errorf("commands under the traced call: %q, want its one get", underCall)
	}

	own := withRedis(t, Config{}).redis.Client()
	other := &recorder{}
	o := newHarness(t, Config{RedisClient: own, Tracer: tracedRecorder{other}})
	ucO := useCase[string](t, o.c, UseCaseSpec{Name: "Get", Default: KeyConfig{Remote: LayerConfig{TTL: time.Minute, Ramp: 100}}})
	if _, err := ucO.Get(enabled, keyOf(ucO, "1"), underSpan(t, "v")); err != nil {
		t.Fatal(err)
	}
	o.settle()
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.cmds) != 0 {
		t.Errorf("the hook was added to a client of one's own: it saw %+v", other.cmds)
	}
}

// nilSpanTracer returns no CallSpan: calls go on untraced.
type nilSpanTracer struct{ calls int }

func (n *nilSpanTracer) StartCall(ctx context.Context, _ TracedCall) (context.Context, CallSpan) {
	n.calls++
	return ctx, nil
}

func TestTracerWithoutSpan(t *testing.T) {
	tr := &nilSpanTracer{}
	h := newHarness(t, Config{Tracer: tr})
	uc := useCase[string](t, h.c, UseCaseSpec{Name: "Get", Default: allLayers})
	if v, err := uc.Get(enabled, keyOf(uc, "1"), func(context.Context) (string, error) { return "v", nil }); v != "v" || err != nil {
		t.Fatalf("%q, %v", v, err)
	}
	if tr.calls != 1 {
		t.Errorf("StartCall called %d times, want 1", tr.calls)
	}
}

// TestBackgroundWorkLeavesTheCallsTraceAlone: work a call starts in the
// background (an early refresh, a fill) runs under the Tracer's span, but
// does not see the call's trace, which only the call's goroutine writes.
func TestBackgroundWorkLeavesTheCallsTraceAlone(t *testing.T) {
	h := newHarness(t, Config{Tracer: &recorder{}})
	k := keyOf(useCase[string](t, h.c, UseCaseSpec{Name: "Get", Default: allLayers}), "1")
	ctx, trace := h.c.startTrace(context.Background(), &k, 0, 0)
	if trace == nil || h.c.traceOf(ctx) != trace {
		t.Fatal("the call's context does not carry its trace")
	}
	type seen struct {
		trace *callTrace
		span  any
	}
	got := make(chan seen, 1)
	if !h.c.background(ctx, time.Second, func(ctx context.Context) { got <- seen{h.c.traceOf(ctx), ctx.Value(spanKey{})} }) {
		t.Fatal("the background work did not start")
	}
	if s := <-got; s.trace != nil || s.span != 1 {
		t.Errorf("the background work sees trace %p and span %v, want none and the call's span, 1", s.trace, s.span)
	}
	trace.end()
}

// BenchmarkLocalHitTraced is BenchmarkLocalHit with a Tracer set: local
// hits are not traced, so it costs what BenchmarkLocalHit costs.
func BenchmarkLocalHitTraced(b *testing.B) {
	_, d := benchCache(b, Config{Tracer: &recorder{}}, allLayers)
	var s store = d
	ctx := Enable(context.Background())
	sink, _ = s.SearchPosts(ctx, "123", 2)
	for b.Loop() {
		sink, _ = s.SearchPosts(ctx, "123", 2)
	}
}
