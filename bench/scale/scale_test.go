package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gcache-go/gcache/bench/internal/redisinfo"
	"github.com/gcache-go/gcache/bench/scale/catalog"
	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/gcache-go/gcache/runtime"
	"github.com/redis/go-redis/v9"
)

// The workload's parameters. The defaults are the points of `make
// bench-scale`: 2 topologies × 4 key spaces × 4 fleet sizes, 5 s of
// warm-up and 10 s measured each, about 9 minutes in all.
var (
	outPath     = flag.String("scale.out", "../results/scale.json", "where the Run is written (after each point)")
	topologies  = flag.String("scale.topologies", "single,cluster", "Redis topologies: single, cluster (three masters)")
	keySpaces   = flag.String("scale.keys", "1e4,1e5,1e6,1e7", "key spaces: ids are 1..n")
	fleetSizes  = flag.String("scale.instances", "1,2,4,8", "instances (processes) per point")
	warmup      = flag.Duration("scale.warmup", 5*time.Second, "load before each point is measured")
	measured    = flag.Duration("scale.duration", 10*time.Second, "how long each point is measured")
	concurrency = flag.Int("scale.concurrency", 8, "calls in flight per instance")
	localBound  = flag.Int("scale.local", 10_000, "local tier entries per instance")
	writeRatio  = flag.Float64("scale.writes", 0.01, "share of calls that update an item and invalidate it")
	dbLatency   = flag.Duration("scale.dblatency", time.Millisecond, "the simulated database's latency per call")
)

// zipfS is the ids' skew, as in the peers' workloads.
const zipfS = 1.1

// params are what every point of a run shares.
type params struct {
	warmup, measured time.Duration
	concurrency      int
	localEntries     int
	writeRatio       float64
	dbLatency        time.Duration
}

func flagParams() params {
	return params{warmup: *warmup, measured: *measured, concurrency: *concurrency,
		localEntries: *localBound, writeRatio: *writeRatio, dbLatency: *dbLatency}
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(workerEnv); cfg != "" {
		os.Exit(workerMain(cfg, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// A topology is a set of Redis servers the fleet shares.
type topology struct {
	name    string
	addrs   []string        // what gcache is given
	servers []*redis.Client // each master, for INFO and FLUSHALL
}

func startTopology(b testing.TB, name string) topology {
	b.Helper()
	t := topology{name: name}
	switch name {
	case "single":
		t.addrs = []string{redistest.Start(b).Addr()}
	case "cluster":
		t.addrs = redistest.StartCluster(b, 3).Addrs()
	default:
		b.Fatalf("unknown topology %q: single or cluster", name)
	}
	for _, a := range t.addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		b.Cleanup(func() { _ = c.Close() })
		t.servers = append(t.servers, c)
	}
	return t
}

// BenchmarkScale runs every point once (use -benchtime=1x) and writes the
// Run to -scale.out after each. Its metrics per point: calls/s, p50-µs,
// p99-µs (reads), local-hit and remote-hit (ratios), redis-cmds/call,
// redis-cpu (cores), db-calls/s, heap-MB/instance.
func BenchmarkScale(b *testing.B) {
	keys, err := parseInts(*keySpaces)
	if err != nil {
		b.Fatalf("-scale.keys: %v", err)
	}
	sizes, err := parseInts(*fleetSizes)
	if err != nil {
		b.Fatalf("-scale.instances: %v", err)
	}
	valueBytes, err := gcache.CBOR.Marshal(catalog.NewItem(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	pr := flagParams()
	run := Run{
		Started: time.Now().UTC(),
		Machine: Machine{CPU: cpuModel(), CPUs: runtime.NumCPU(), Go: runtime.Version()},
		Settings: Settings{
			WarmupSeconds: pr.warmup.Seconds(), MeasuredSeconds: pr.measured.Seconds(),
			Concurrency: pr.concurrency, LocalEntries: pr.localEntries, WriteRatio: pr.writeRatio,
			ZipfS: zipfS, DBLatencyMs: float64(pr.dbLatency.Microseconds()) / 1e3, ValueBytes: len(valueBytes),
		},
	}
	for _, name := range strings.Split(*topologies, ",") {
		b.Run(name, func(b *testing.B) {
			topo := startTopology(b, name)
			if run.Machine.Redis == "" {
				run.Machine.Redis = redisVersion(b, topo.servers[0])
			}
			for _, k := range keys {
				for _, n := range sizes {
					b.Run(fmt.Sprintf("keys=%s/instances=%d", power(k), n), func(b *testing.B) {
						p := runPoint(b, pr, topo, k, int(n))
						run.Points = append(run.Points, p)
						if err := run.Write(*outPath); err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(p.Throughput, "calls/s")
						b.ReportMetric(p.P50Micros, "p50-µs")
						b.ReportMetric(p.P99Micros, "p99-µs")
						b.ReportMetric(p.LocalHitRatio, "local-hit")
						b.ReportMetric(p.RemoteHitRatio, "remote-hit")
						b.ReportMetric(p.RedisCommandsPerCall, "redis-cmds/call")
						b.ReportMetric(p.RedisCPU, "redis-cpu")
						b.ReportMetric(p.DBCallsPerSecond, "db-calls/s")
						b.ReportMetric(p.HeapBytes/(1<<20), "heap-MB/instance")
					})
				}
			}
		})
	}
}

// runPoint runs one point: n instances on topo, ids out of keys.
func runPoint(b testing.TB, pr params, topo topology, keys int64, n int) Point {
	b.Helper()
	ctx := context.Background()
	for _, s := range topo.servers {
		if err := s.FlushAll(ctx).Err(); err != nil {
			b.Fatalf("FLUSHALL: %v", err)
		}
	}
	fleet := make([]*worker, n)
	for i := range fleet {
		fleet[i] = startWorker(b, workerConfig{
			Addrs: topo.addrs, Instance: i, Keys: keys, Concurrency: pr.concurrency,
			WriteRatio: pr.writeRatio, ZipfS: zipfS, DBLatency: pr.dbLatency,
			LocalEntries: pr.localEntries, Seed: uint64(time.Now().UnixNano()),
		})
	}
	for _, w := range fleet {
		w.expect(b, msgReady)
	}
	for _, w := range fleet {
		w.send(b, cmdGo)
	}
	time.Sleep(pr.warmup)

	before := readServers(b, topo)
	for _, w := range fleet {
		w.send(b, cmdMeasure)
	}
	start := time.Now()
	time.Sleep(pr.measured)
	for _, w := range fleet {
		w.send(b, cmdStop)
	}
	elapsed := time.Since(start)
	after := readServers(b, topo)

	results := make([]workerResult, n)
	for i, w := range fleet {
		results[i] = w.result(b)
	}
	return summarize(topo.name, n, keys, elapsed, results, before, after)
}

// summarize makes a Point of the instances' results and the servers'
// counters before and after.
func summarize(topo string, n int, keys int64, elapsed time.Duration, results []workerResult, before, after []redisinfo.Stats) Point {
	p := Point{Topology: topo, Instances: n, Keys: keys, Seconds: elapsed.Seconds(), RedisCommands: map[string]int64{}}
	lat := newLatency()
	var local, localMiss, remote, remoteMiss, dbReads, dbWrites float64
	for _, r := range results {
		p.Reads += r.Reads
		p.Writes += r.Writes
		p.Errors += r.Errors
		p.GcacheErrors += r.GcacheErrors
		lat.merge(r.Latency)
		local += r.LocalRequests
		localMiss += r.LocalMisses
		remote += r.RemoteRequests
		remoteMiss += r.RemoteMisses
		dbReads += float64(r.DBReads)
		dbWrites += float64(r.DBWrites)
		p.HeapBytes += float64(r.HeapBytes) / float64(n)
		p.RSSBytes += float64(r.RSSBytes) / float64(n)
	}
	p.Calls = p.Reads + p.Writes
	s := p.Seconds
	p.Throughput = float64(p.Calls) / s
	p.P50Micros = lat.quantile(0.50) / 1e3
	p.P99Micros = lat.quantile(0.99) / 1e3
	p.LocalHitRatio = ratio(local-localMiss, local)
	p.RemoteHitRatio = ratio(remote-remoteMiss, remote)
	p.DBReadRatio = ratio(dbReads, float64(p.Reads))
	p.DBCallsPerSecond = (dbReads + dbWrites) / s
	p.DBReadsPerSecond = dbReads / s

	var commands, scripts int64
	var cpu time.Duration
	for i := range after {
		d := after[i].Sub(before[i])
		for name, c := range d.Commands {
			if name == "info" {
				continue
			}
			p.RedisCommands[name] += c.Calls
			if strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "fcall") {
				scripts += c.Calls
			}
		}
		commands += d.Calls()
		cpu += d.CPU
		p.RedisCPUBusiest = max(p.RedisCPUBusiest, d.CPU.Seconds()/s)
		p.RedisMemoryBytes += after[i].UsedMemory
	}
	p.RedisCommandsPerCall = ratio(float64(commands), float64(p.Calls))
	p.RedisScriptsPerCall = ratio(float64(scripts), float64(p.Calls))
	p.RedisCPU = cpu.Seconds() / s
	p.RedisCPUMicrosPerCall = ratio(float64(cpu.Microseconds()), float64(p.Calls))
	return p
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// readServers reads each server's counters.
func readServers(b testing.TB, topo topology) []redisinfo.Stats {
	b.Helper()
	out := make([]redisinfo.Stats, len(topo.servers))
	for i, s := range topo.servers {
		st, err := redisinfo.Read(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = st
	}
	return out
}

// A worker is one instance: this test binary, started again with its
// config in workerEnv.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startWorker(b testing.TB, cfg workerConfig) *worker {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(j))
	cmd.Stderr = os.Stderr
	// A worker dies with the coordinator's thread; it also exits when its
	// stdin closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w := &worker{cmd: cmd}
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	w.out = bufio.NewScanner(stdout)
	w.out.Buffer(make([]byte, 0, 64<<10), 4<<20)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = w.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return w
}

func (w *worker) send(b testing.TB, line string) {
	b.Helper()
	if _, err := io.WriteString(w.stdin, line+"\n"); err != nil {
		b.Fatalf("worker %d: %v", w.cmd.Process.Pid, err)
	}
}

// line returns the worker's next line of output, waiting up to 30s.
func (w *worker) line(b testing.TB) string {
	b.Helper()
	got := make(chan bool, 1)
	go func() { got <- w.out.Scan() }()
	select {
	case ok := <-got:
		if !ok {
			b.Fatalf("worker %d ended its output (%v): see its error above", w.cmd.Process.Pid, w.out.Err())
		}
		return w.out.Text()
	case <-time.After(30 * time.Second):
		b.Fatalf("worker %d said nothing for 30s", w.cmd.Process.Pid)
	}
	return ""
}

func (w *worker) expect(b testing.TB, want string) {
	b.Helper()
	if got := w.line(b); got != want {
		b.Fatalf("worker %d said %q, want %q", w.cmd.Process.Pid, got, want)
	}
}

func (w *worker) result(b testing.TB) workerResult {
	b.Helper()
	var r workerResult
	if err := json.Unmarshal([]byte(w.line(b)), &r); err != nil {
		b.Fatalf("worker %d's result: %v", w.cmd.Process.Pid, err)
	}
	if r.Latency == nil {
		r.Latency = newLatency()
	}
	return r
}

// parseInts reads "1e4,1e5" or "1,2,4".
func parseInts(s string) ([]int64, error) {
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 1 || v != float64(int64(v)) {
			return nil, fmt.Errorf("%q is not a whole number ≥ 1", f)
		}
		out = append(out, int64(v))
	}
	if len(out) == 0 {
		return nil, errors.New("no values")
	}
	return out, nil
}

// power writes 10000 as 1e4, and other numbers as they are.
func power(v int64) string {
	e, x := 0, v
	for x >= 10 && x%10 == 0 {
		x /= 10
		e++
	}
	if x == 1 && e > 0 {
		return "1e" + strconv.Itoa(e)
	}
	return strconv.FormatInt(v, 10)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func redisVersion(b testing.TB, s *redis.Client) string {
	b.Helper()
	info, err := s.Info(context.Background(), "server").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}
