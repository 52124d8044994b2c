package scale

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"testing"
	"time"
)

// subBits sets a latency bucket's width: 1/2^subBits of a power of two, so
// that a quantile is off by at most about 3 %.
const subBits = 5

// A latency is a histogram of durations in log-linear buckets; a worker
// keeps one per goroutine and they are merged. In JSON it is its non-empty
// buckets, index to count.
type latency struct {
	counts [numBuckets]int64
	n      int64
}

// numBuckets covers every duration up to 2^63 ns.
const numBuckets = 64 << subBits

func newLatency() *latency { return &latency{} }

func bucketOf(ns int64) int {
	if ns < 1<<subBits {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 - subBits
	return (e+1)<<subBits | int(ns>>e&(1<<subBits-1))
}

// bucketMid returns the middle of bucket i, in ns.
func bucketMid(i int) float64 {
	if i < 1<<subBits {
		return float64(i)
	}
	e := i>>subBits - 1
	lower := int64(1<<subBits|i&(1<<subBits-1)) << e
	return float64(lower) + float64(int64(1)<<e)/2
}

func (l *latency) record(d time.Duration) {
	l.counts[bucketOf(d.Nanoseconds())]++
	l.n++
}

func (l *latency) merge(o *latency) {
	for i, n := range o.counts {
		l.counts[i] += n
	}
	l.n += o.n
}

func (l *latency) MarshalJSON() ([]byte, error) {
	sparse := map[int]int64{}
	for i, n := range l.counts {
		if n != 0 {
			sparse[i] = n
		}
	}
	return json.Marshal(sparse)
}

func (l *latency) UnmarshalJSON(b []byte) error {
	var sparse map[int]int64
	if err := json.Unmarshal(b, &sparse); err != nil {
		return err
	}
	*l = latency{}
	for i, n := range sparse {
		if i < 0 || i >= numBuckets || n < 0 {
			return fmt.Errorf("latency bucket %d: %d", i, n)
		}
		l.counts[i] = n
		l.n += n
	}
	return nil
}

// quantile returns the q-quantile (0 < q ≤ 1) in ns, 0 when empty.
func (l *latency) quantile(q float64) float64 {
	if l.n == 0 {
		return 0
	}
	target := int64(q*float64(l.n) + 0.5)
	target = min(max(target, 1), l.n)
	var seen int64
	for i, n := range l.counts {
		seen += n
		if seen >= target {
			return bucketMid(i)
		}
	}
	return 0 // unreachable: the buckets hold N
}

func TestLatencyQuantiles(t *testing.T) {
	a, b := newLatency(), newLatency()
	// 1..1000 µs once each, split over two histograms.
	for us := 1; us <= 1000; us++ {
		h := a
		if us%2 == 0 {
			h = b
		}
		h.record(time.Duration(us) * time.Microsecond)
	}
	a.merge(b)
	if a.n != 1000 {
		t.Fatalf("n = %d after the merge, want 1000", a.n)
	}
	// Through JSON, as workers send it.
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	a = newLatency()
	if err := json.Unmarshal(j, a); err != nil || a.n != 1000 {
		t.Fatalf("back from JSON: n = %d, %v", a.n, err)
	}
	if err := json.Unmarshal([]byte(`{"99999": 1}`), newLatency()); err == nil {
		t.Error("a bucket past the last one was taken")
	}
	for _, tc := range []struct {
		q    float64
		want float64 // ns
	}{{0.5, 500e3}, {0.99, 990e3}, {0.001, 1e3}, {1, 1000e3}} {
		got := a.quantile(tc.q)
		if got < tc.want*0.97 || got > tc.want*1.03 {
			t.Errorf("quantile(%v) = %.0f ns, want %.0f ± 3%%", tc.q, got, tc.want)
		}
	}
	if got := newLatency().quantile(0.5); got != 0 {
		t.Errorf("an empty histogram's median is %v", got)
	}
}

func TestLatencyBuckets(t *testing.T) {
	// Buckets are ordered and each value lies within 3 % of its bucket's
	// middle, across the range a call can take.
	prev := -1
	for ns := int64(0); ns < int64(time.Hour); ns = ns*17/16 + 1 {
		i := bucketOf(ns)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below bucketOf of a smaller value (%d)", ns, i, prev)
		}
		prev = i
		if i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, past the last bucket", ns, i)
		}
		if mid := bucketMid(i); ns >= 1<<subBits && (mid < float64(ns)*0.97 || mid > float64(ns)*1.03) {
			t.Fatalf("%d ns falls in bucket %d, whose middle is %.0f", ns, i, mid)
		}
	}
}
