package main

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/gcache-go/gcache/bench/scale"
	"gonum.org/v1/plot/vg"
)

// TestDrawAll draws the figures of a small made-up run and checks that
// each is a PNG as wide as its panels.
func TestDrawAll(t *testing.T) {
	var run scale.Run
	run.Settings.MeasuredSeconds, run.Settings.Concurrency = 10, 8
	for _, topo := range []string{"single", "cluster"} {
		for _, keys := range []int64{1e4, 1e7} {
			for _, n := range []int{1, 8} {
				run.Points = append(run.Points, scale.Point{
					Topology: topo, Keys: keys, Instances: n,
					Throughput: float64(n) * 1e4, P99Micros: 2000, RedisCPUBusiest: 0.1 * float64(n),
					LocalHitRatio: 0.9, RemoteHitRatio: 0.5, HeapBytes: 10 << 20, RSSBytes: 30 << 20,
				})
			}
		}
	}
	dir := t.TempDir()
	paths, err := drawAll(run, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{ // file → panels
		"scale-throughput.png": 2, "scale-p99.png": 2, "scale-redis-cpu.png": 2,
		"scale-hit-ratio.png": 1, "scale-memory.png": 1,
	}
	if len(paths) != len(want) {
		t.Fatalf("drew %v, want %d figures", paths, len(want))
	}
	for _, p := range paths {
		panels, ok := want[filepath.Base(p)]
		if !ok {
			t.Errorf("drew an unexpected %s", p)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if w := img.Bounds().Dx(); w != panels*int(float64(panelW/vg.Inch)*dpi) {
			t.Errorf("%s is %d px wide, want %d panels of %d", p, w, panels, int(float64(panelW/vg.Inch)*dpi))
		}
	}
}
