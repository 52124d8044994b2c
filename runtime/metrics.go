package gcache

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics are those of the Python gcache library, name for name, label
// for label, so that one dashboard serves services in both languages.

var (
	timerBuckets = []float64{.001, .005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10}
	sizeBuckets  = []float64{100, 1e3, 1e4, 1e5, 1e6, 1e7}
)

// layerGlobal labels what happens before or outside the layers.
const layerGlobal = "GLOBAL"

// errKind is the "error" label of gcache_error_counter_total.
type errKind string

const (
	errFunction   errKind = "function"   // the cached function's own error (in_fallback="True")
	errKey        errKind = "key"        // the key could not be built
	errTimeout    errKind = "timeout"    // a Redis call ran past its deadline
	errConnection errKind = "connection" // Redis could not be reached
	errRedis      errKind = "redis"      // Redis answered with an error
	errDecode     errKind = "decode"     // bytes from Redis did not decode
	errEncode     errKind = "encode"     // a value did not encode
	errTooLarge   errKind = "too_large"  // a value was over the size limit and was not stored
	errDropped    errKind = "dropped"    // a write to Redis was dropped: the background writes were at their bound
)

type metrics struct {
	request, miss, disabled, outageHit *stripedVec // on the hot path
	errors, invalidation               *prometheus.CounterVec
	get, fallback, serialization, size *prometheus.HistogramVec

	// The features the Python library lacks, named after its pattern.
	refresh, negativeHit, leaseWait *prometheus.CounterVec
	leaseWaitTime                   *prometheus.HistogramVec

	// Invalidations that failed, and their writes in the background.
	invalidationErrors, retries *prometheus.CounterVec
	retryTime                   *prometheus.HistogramVec
}

// retryResult is the "result" label of gcache_invalidation_retry_counter_total.
type retryResult string

const (
	retryLanded  retryResult = "landed"  // the watermark was written at last
	retryExpired retryResult = "expired" // no entry it guarded could exist any more
	retryDropped retryResult = "dropped" // too many were waiting
)

// retried counts n entities' invalidations written again with result.
func (m *metrics) retried(keyType string, result retryResult, n int) {
	m.retries.WithLabelValues(keyType, string(result)).Add(float64(n))
}

// refreshResult is the "result" label of gcache_refresh_counter_total.
type refreshResult uint8

const (
	refreshOK     refreshResult = iota // the value was refreshed
	refreshError                       // the function failed; the old value stays
	refreshLeased                      // another instance holds the lease and refreshes it
	numRefreshResults
)

var refreshResultNames = [numRefreshResults]string{"ok", "error", "leased"}

// leaseResult is the "result" label of gcache_lease_wait_counter_total.
type leaseResult uint8

const (
	leaseFilled    leaseResult = iota // the holder's value arrived
	leaseAcquired                     // the lease ended without a value, and this instance took it
	leaseAbandoned                    // Redis failed or the caller gave up while waiting
	numLeaseResults
)

var leaseResultNames = [numLeaseResults]string{"filled", "acquired", "abandoned"}

func newMetrics(reg prometheus.Registerer, prefix string) (*metrics, error) {
	ucLabels := []string{"use_case", "key_type", "layer"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + name, Help: help, Buckets: buckets}, labels)
	}
	m := &metrics{
		request:       newStripedVec(prefix+"gcache_request_counter_total", "Cache requests per layer.", ucLabels...),
		miss:          newStripedVec(prefix+"gcache_miss_counter_total", "Cache misses per layer.", ucLabels...),
		disabled:      newStripedVec(prefix+"gcache_disabled_counter_total", "Calls that skipped a layer, by reason.", append(ucLabels, "reason")...),
		outageHit:     newStripedVec(prefix+"gcache_outage_hit_counter_total", "Tracked local hits served by the outage mode: while the invalidation events could not be confirmed current.", ucLabels...),
		errors:        counter("gcache_error_counter_total", "Errors, by kind; in_fallback is True for the function's own errors.", append(ucLabels, "error", "in_fallback")...),
		invalidation:  counter("gcache_invalidation_counter_total", "Invalidations per layer.", "key_type", "layer"),
		get:           histogram("gcache_get_timer", "Time to look a key up in a layer, in seconds.", timerBuckets, ucLabels...),
		fallback:      histogram("gcache_fallback_timer", "Time spent below a layer after it missed, in seconds.", timerBuckets, ucLabels...),
		serialization: histogram("gcache_serialization_timer", "Time to encode (dump) or decode (load) a value, in seconds.", timerBuckets, append(ucLabels, "operation")...),
		size:          histogram("gcache_size_histogram", "Size of values written to Redis, in bytes.", sizeBuckets, ucLabels...),
		refresh:       counter("gcache_refresh_counter_total", "Early refreshes, by the layer whose hit started them and by result.", append(ucLabels, "result")...),
		negativeHit:   counter("gcache_negative_hit_counter_total", "Negative answers served from a layer.", ucLabels...),
		leaseWait:     counter("gcache_lease_wait_counter_total", "Waits for another instance's lease, by result.", append(ucLabels, "result")...),
		leaseWaitTime: histogram("gcache_lease_wait_timer", "Time spent waiting for another instance's lease, in seconds.", timerBuckets, ucLabels...),

		invalidationErrors: counter("gcache_invalidation_error_counter_total", "Invalidations whose watermark could not be written, by kind.", "key_type", "layer", "error"),
		retries:            counter("gcache_invalidation_retry_counter_total", "Watermarks written again in the background after a failed invalidation, per entity, by result.", "key_type", "result"),
		retryTime:          histogram("gcache_invalidation_retry_timer", "Time from a failed invalidation to its watermark landing, in seconds.", timerBuckets, "key_type"),
	}
	// A second Cache on one registry shares the first one's collectors.
	var err error
	for _, c := range []**stripedVec{&m.request, &m.miss, &m.disabled, &m.outageHit} {
		if *c, err = register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, c := range []**prometheus.CounterVec{&m.errors, &m.invalidation, &m.refresh, &m.negativeHit, &m.leaseWait, &m.invalidationErrors, &m.retries} {
		if *c, err = register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, h := range []**prometheus.HistogramVec{&m.get, &m.fallback, &m.serialization, &m.size, &m.leaseWaitTime, &m.retryTime} {
		if *h, err = register(reg, *h); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// lazy resolves one labelled child on first use, so that a label set shows
// up in the exposition only once it happened, and costs an atomic load after.
type lazy[M any] struct {
	once  sync.Once
	m     M
	get   func(...string) M
	label []string
}

func (l *lazy[M]) child() M {
	l.once.Do(func() { l.m = l.get(l.label...) })
	return l.m
}

func newLazy[M any](get func(...string) M, labels ...string) *lazy[M] {
	return &lazy[M]{get: get, label: labels}
}

type (
	lazyCounter  = lazy[*stripedCounter]
	lazyPlain    = lazy[prometheus.Counter] // for counters off the hot path
	lazyObserver = lazy[prometheus.Observer]
)

// useCaseMetrics holds the children of one use case, resolved once.
type useCaseMetrics struct {
	request, miss    [2]*lazyCounter
	outageHit        *lazyCounter
	get, fallback    [2]*lazyObserver
	disabledContext  *lazyCounter
	disabled         [2][numReasons]*lazyCounter
	dump, load, size *lazyObserver

	refresh       [2][numRefreshResults]*lazyPlain
	negativeHit   [2]*lazyPlain
	leaseWait     [numLeaseResults]*lazyPlain
	leaseWaitTime *lazyObserver

	m              *metrics
	useCase, kType string
	errMu          sync.Mutex
	errs           map[errLabels]prometheus.Counter
}

type errLabels struct {
	layer      string
	kind       errKind
	inFallback bool
}

func (m *metrics) forUseCase(useCase, keyType string) *useCaseMetrics {
	u := &useCaseMetrics{m: m, useCase: useCase, kType: keyType, errs: map[errLabels]prometheus.Counter{}}
	for _, l := range []Layer{Local, Remote} {
		name := l.String()
		u.request[l] = newLazy(m.request.WithLabelValues, useCase, keyType, name)
		u.miss[l] = newLazy(m.miss.WithLabelValues, useCase, keyType, name)
		u.get[l] = newLazy(m.get.WithLabelValues, useCase, keyType, name)
		u.fallback[l] = newLazy(m.fallback.WithLabelValues, useCase, keyType, name)
		for r := reason(0); r < numReasons; r++ {
			u.disabled[l][r] = newLazy(m.disabled.WithLabelValues, useCase, keyType, name, r.String())
		}
		for r := refreshResult(0); r < numRefreshResults; r++ {
			u.refresh[l][r] = newLazy(m.refresh.WithLabelValues, useCase, keyType, name, refreshResultNames[r])
		}
		u.negativeHit[l] = newLazy(m.negativeHit.WithLabelValues, useCase, keyType, name)
	}
	u.disabledContext = newLazy(m.disabled.WithLabelValues, useCase, keyType, layerGlobal, reasonContext.String())
	u.outageHit = newLazy(m.outageHit.WithLabelValues, useCase, keyType, Local.String())
	remote := Remote.String()
	u.dump = newLazy(m.serialization.WithLabelValues, useCase, keyType, remote, "dump")
	u.load = newLazy(m.serialization.WithLabelValues, useCase, keyType, remote, "load")
	u.size = newLazy(m.size.WithLabelValues, useCase, keyType, remote)
	for r := leaseResult(0); r < numLeaseResults; r++ {
		u.leaseWait[r] = newLazy(m.leaseWait.WithLabelValues, useCase, keyType, remote, leaseResultNames[r])
	}
	u.leaseWaitTime = newLazy(m.leaseWaitTime.WithLabelValues, useCase, keyType, remote)
	return u
}

// error counts one error. Errors are rare, so their children are looked up
// under a lock rather than resolved ahead.
func (u *useCaseMetrics) error(layer string, kind errKind, inFallback bool) {
	k := errLabels{layer, kind, inFallback}
	u.errMu.Lock()
	c, ok := u.errs[k]
	if !ok {
		in := "False"
		if inFallback {
			in = "True"
		}
		c = u.m.errors.WithLabelValues(u.useCase, u.kType, layer, string(kind), in)
		u.errs[k] = c
	}
	u.errMu.Unlock()
	c.Inc()
}
