package gcache

import (
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// stripes is the number of cells of a stripedCounter.
const (
	stripeBits = 3
	stripes    = 1 << stripeBits
)

// stripedCounter is a counter that many cores can add to at once without
// fighting over one cache line: each add goes to a random cell, and a read
// sums the cells. The counters of the hot path (requests, misses, disabled
// calls) are striped; a prometheus.Counter there costs more under
// contention than the rest of a local hit.
type stripedCounter struct {
	cells [stripes]struct {
		n atomic.Uint64
		_ [56]byte // one cell per cache line
	}
}

// Inc adds one to the cell of the calling goroutine, picked by the address
// of its stack: goroutines running at once have distinct stacks, and one
// goroutine keeps to one cell while its stack stays put.
func (c *stripedCounter) Inc() { c.Add(1) }

// Add adds n, as Inc adds one.
func (c *stripedCounter) Add(n uint64) {
	var probe byte
	h := uintptr(unsafe.Pointer(&probe)) * 0x9E3779B97F4A7C15
	c.cells[h>>(bits.UintSize-stripeBits)].n.Add(n)
}

func (c *stripedCounter) value() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}

// stripedVec is a family of striped counters with the exposition of a
// prometheus.CounterVec: same name, help, labels and type.
type stripedVec struct {
	desc *prometheus.Desc

	mu       sync.Mutex
	children map[string]*stripedChild
}

type stripedChild struct {
	stripedCounter
	labels []string
}

func newStripedVec(name, help string, labels ...string) *stripedVec {
	return &stripedVec{
		desc:     prometheus.NewDesc(name, help, labels, nil),
		children: map[string]*stripedChild{},
	}
}

// WithLabelValues returns the counter of one label set, creating it on
// first use.
func (v *stripedVec) WithLabelValues(labels ...string) *stripedCounter {
	k := strings.Join(labels, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.children[k]
	if !ok {
		c = &stripedChild{labels: labels}
		v.children[k] = c
	}
	return &c.stripedCounter
}

func (v *stripedVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *stripedVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	children := make([]*stripedChild, 0, len(v.children))
	for _, c := range v.children {
		children = append(children, c)
	}
	v.mu.Unlock()
	for _, c := range children {
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(c.value()), c.labels...)
	}
}
