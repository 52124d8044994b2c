// Plot draws the curves of the scale workload from its raw results
// (bench/results/scale.json, written by the Scale benchmark) into PNG
// images beside them, which BENCHMARKS.md shows:
//
//   - scale-throughput.png: calls per second against instances;
//   - scale-p99.png: the reads' p99 latency against instances;
//   - scale-redis-cpu.png: the busiest Redis server's CPU against instances;
//   - scale-hit-ratio.png: the local and Redis hit ratios against the key space;
//   - scale-memory.png: memory per instance against the key space.
//
// The curves against instances have a panel per topology and a line per
// key space; those against the key space a line per topology, at the
// largest fleet of the run.
//
// Usage, from bench/: go run ./scale/plot [-in results/scale.json] [-out results]
package main

import (
	"cmp"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gcache-go/gcache/bench/scale"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Each panel's size, and the images' resolution.
const (
	panelW = 5 * vg.Inch
	panelH = 3.6 * vg.Inch
	dpi    = 110
)

var topologyNames = map[string]string{"single": "one Redis", "cluster": "three-master cluster"}

func main() {
	log.SetFlags(0)
	log.SetPrefix("plot: ")
	in := flag.String("in", "results/scale.json", "the Run the Scale benchmark wrote")
	out := flag.String("out", "results", "directory of the PNG images")
	flag.Parse()
	run, err := scale.Read(*in)
	if err != nil {
		log.Fatal(err)
	}
	if len(run.Points) == 0 {
		log.Fatalf("%s has no points: run make bench-scale first", *in)
	}
	paths, err := drawAll(run, *out)
	for _, p := range paths {
		fmt.Println("wrote", p)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// drawAll draws every figure of run into dir and returns their paths.
func drawAll(run scale.Run, dir string) ([]string, error) {
	var paths []string
	for _, f := range figures(run) {
		path := filepath.Join(dir, f.file)
		if err := save(path, f.panels); err != nil {
			return paths, fmt.Errorf("%s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// A figure is one image of one or more panels side by side.
type figure struct {
	file   string
	panels []*plot.Plot
}

// A series is one line: a name and its points.
type series struct {
	name string
	xys  plotter.XYs
}

func figures(run scale.Run) []figure {
	topos := topologies(run.Points)
	fleet := slices.MaxFunc(run.Points, func(a, b scale.Point) int { return cmp.Compare(a.Instances, b.Instances) }).Instances
	caption := fmt.Sprintf("%d-s points, %d calls in flight per instance", int(run.Settings.MeasuredSeconds), run.Settings.Concurrency)
	byInstances := func(file, title, ylabel string, y func(scale.Point) float64) figure {
		f := figure{file: file}
		for _, t := range topos {
			var ss []series
			for _, k := range keySpaces(run.Points, t) {
				s := series{name: keysName(k) + " keys"}
				for _, p := range sorted(run.Points, t, k) {
					s.xys = append(s.xys, plotter.XY{X: float64(p.Instances), Y: y(p)})
				}
				ss = append(ss, s)
			}
			p := newPlot(title+", "+topologyNames[t], "instances ("+caption+")", ylabel, ss)
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = ticks(uniq(run.Points, func(p scale.Point) int64 { return int64(p.Instances) }), strconv.FormatInt)
			p.Y.Min = 0
			f.panels = append(f.panels, p)
		}
		shareY(f.panels)
		return f
	}
	byKeys := func(file, title, ylabel string, lines []struct {
		name string
		y    func(scale.Point) float64
	}) figure {
		var ss []series
		for _, t := range topos {
			for _, l := range lines {
				s := series{name: l.name + ", " + topologyNames[t]}
				for _, k := range keySpaces(run.Points, t) {
					for _, p := range sorted(run.Points, t, k) {
						if p.Instances == fleet {
							s.xys = append(s.xys, plotter.XY{X: float64(k), Y: l.y(p)})
						}
					}
				}
				ss = append(ss, s)
			}
		}
		p := newPlot(fmt.Sprintf("%s, %d instances", title, fleet), "key space (zipf ids)", ylabel, ss)
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = ticks(uniq(run.Points, func(p scale.Point) int64 { return p.Keys }), func(k int64, _ int) string { return keysName(k) })
		return figure{file: file, panels: []*plot.Plot{p}}
	}
	type line = struct {
		name string
		y    func(scale.Point) float64
	}
	hits := byKeys("scale-hit-ratio.png", "Hit ratios", "hits / lookups", []line{
		{"local tier", func(p scale.Point) float64 { return p.LocalHitRatio }},
		{"Redis", func(p scale.Point) float64 { return p.RemoteHitRatio }},
	})
	hits.panels[0].Y.Min, hits.panels[0].Y.Max = 0, 1
	hits.panels[0].Legend.Top = false // the ratios fall to the right
	memory := byKeys("scale-memory.png", "Memory per instance", "MiB", []line{
		{"live heap", func(p scale.Point) float64 { return p.HeapBytes / (1 << 20) }},
		{"resident", func(p scale.Point) float64 { return p.RSSBytes / (1 << 20) }},
	})
	memory.panels[0].Y.Min = 0
	memory.panels[0].Y.Max *= 1.4 // room for the legend
	return []figure{
		byInstances("scale-throughput.png", "Throughput", "calls per second", func(p scale.Point) float64 { return p.Throughput }),
		byInstances("scale-p99.png", "Read p99", "ms", func(p scale.Point) float64 { return p.P99Micros / 1e3 }),
		byInstances("scale-redis-cpu.png", "Busiest Redis server's CPU", "cores", func(p scale.Point) float64 { return p.RedisCPUBusiest }),
		hits,
		memory,
	}
}

func newPlot(title, xlabel, ylabel string, ss []series) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	var args []any
	for _, s := range ss {
		if len(s.xys) > 0 {
			args = append(args, s.name, s.xys)
		}
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		log.Fatal(err)
	}
	return p
}

// shareY gives the panels of a figure one range, so that they compare.
func shareY(ps []*plot.Plot) {
	lo, hi := ps[0].Y.Min, ps[0].Y.Max
	for _, p := range ps[1:] {
		lo, hi = min(lo, p.Y.Min), max(hi, p.Y.Max)
	}
	for _, p := range ps {
		p.Y.Min, p.Y.Max = lo, hi*1.4 // room for the legend
	}
}

// ticks marks vs, and only them, labelled by label(v, 10).
func ticks(vs []int64, label func(int64, int) string) plot.ConstantTicks {
	var out plot.ConstantTicks
	for _, v := range vs {
		out = append(out, plot.Tick{Value: float64(v), Label: label(v, 10)})
	}
	return out
}

func save(path string, panels []*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(panelW*vg.Length(len(panels)), panelH), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	tiles := draw.Tiles{Cols: len(panels), Rows: 1, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter * 3}
	for i, p := range panels {
		p.Draw(tiles.At(dc, i, 0))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func topologies(points []scale.Point) []string {
	names := uniq(points, func(p scale.Point) string { return p.Topology })
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(b, a) }) // single first
	return names
}

func keySpaces(points []scale.Point, topo string) []int64 {
	var in []scale.Point
	for _, p := range points {
		if p.Topology == topo {
			in = append(in, p)
		}
	}
	return uniq(in, func(p scale.Point) int64 { return p.Keys })
}

// sorted returns the points of topo and keys by fleet size.
func sorted(points []scale.Point, topo string, keys int64) []scale.Point {
	var out []scale.Point
	for _, p := range points {
		if p.Topology == topo && p.Keys == keys {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b scale.Point) int { return cmp.Compare(a.Instances, b.Instances) })
	return out
}

func uniq[T cmp.Ordered](points []scale.Point, f func(scale.Point) T) []T {
	var out []T
	for _, p := range points {
		if v := f(p); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// keysName writes 10000 as 10⁴.
func keysName(k int64) string {
	sup := []string{"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"}
	e, x := 0, k
	for x >= 10 && x%10 == 0 {
		x /= 10
		e++
	}
	if x == 1 && e < 10 {
		return "10" + sup[e]
	}
	return strconv.FormatInt(k, 10)
}
