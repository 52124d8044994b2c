package faults

import (
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// A trouble is a kind of Redis fault that the matrix and the table put
// calls through: injected on a setup, and healed.
type trouble struct {
	name string
	// onGroup puts the Cache on a Sentinel group rather than one server.
	onGroup bool
	// breaks is whether every Redis call fails while it lasts, so that
	// the breaker must open.
	breaks bool
	// inject starts the trouble; heal ends it.
	inject func(t testing.TB, s *setup) (heal func())
}

// A setup is what a trouble acts on: one server or a Sentinel group,
// reached by one Cache through its links.
type setup struct {
	srv    *redistest.Server // one server
	g      group             // or a Sentinel group
	links  []*link
	client *redis.Client
}

// newSetup starts a server, or a Sentinel group, and a client of it whose
// connections go through proxies.
func newSetup(t testing.TB, onGroup bool, timeout time.Duration) *setup {
	s := &setup{}
	x, r := newToxics(), newRouter()
	servers := []*redistest.Server{}
	if onGroup {
		s.g = startGroup(t)
		servers = append(servers, s.g.Primary, s.g.Replica)
	} else {
		s.srv = redistest.Start(t)
		servers = append(servers, s.srv)
	}
	for _, srv := range servers {
		l := x.link(t, srv.Addr(), srv.Addr())
		r.route(srv.Addr(), l)
		s.links = append(s.links, l)
	}
	if onGroup {
		s.client = r.failover(t, s.g.Sentinel.Sentinel.Addr(), s.g.MasterName, timeout)
	} else {
		s.client = r.client(t, s.srv.Addr(), timeout)
	}
	return s
}

// onLinks applies a link fault to every link, and returns what heals them.
func (s *setup) onLinks(f func(*link) func()) func() {
	var heal []func()
	for _, l := range s.links {
		heal = append(heal, f(l))
	}
	return func() {
		for _, h := range heal {
			h()
		}
	}
}

func mustDo(t testing.TB, addr string, args ...any) {
	t.Helper()
	if _, err := do(addr, args...); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

var troubles = []trouble{
	{name: "latency 300 ms", breaks: true, inject: func(t testing.TB, s *setup) func() {
		return s.onLinks(func(l *link) func() { return l.delay(t, 300*time.Millisecond, 0) })
	}},
	{name: "connections cut", breaks: true, inject: func(t testing.TB, s *setup) func() {
		return s.onLinks(func(l *link) func() { return l.cut(t) })
	}},
	{name: "connections reset", breaks: true, inject: func(t testing.TB, s *setup) func() {
		return s.onLinks(func(l *link) func() { return l.resetPeer(t) })
	}},
	{name: "black hole", breaks: true, inject: func(t testing.TB, s *setup) func() {
		return s.onLinks(func(l *link) func() { return l.blackHole(t) })
	}},
	{name: "CLIENT PAUSE WRITE", inject: func(t testing.TB, s *setup) func() {
		mustDo(t, s.srv.Addr(), "CLIENT", "PAUSE", "60000", "WRITE")
		return func() { mustDo(t, s.srv.Addr(), "CLIENT", "UNPAUSE") }
	}},
	{name: "CLIENT PAUSE ALL", breaks: true, inject: func(t testing.TB, s *setup) func() {
		// Redis 7.0 holds even CLIENT UNPAUSE back: the pause runs out.
		const pause = 2500 * time.Millisecond
		until := time.Now().Add(pause)
		mustDo(t, s.srv.Addr(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL")
		return func() { time.Sleep(time.Until(until)) }
	}},
	{name: "SIGSTOP", breaks: true, inject: func(t testing.TB, s *setup) func() {
		s.srv.Pause()
		return s.srv.Resume
	}},
	{name: "killed", breaks: true, inject: func(t testing.TB, s *setup) func() {
		s.srv.Kill()
		return func() {}
	}},
	{name: "restarted empty", breaks: true, inject: func(t testing.TB, s *setup) func() {
		s.srv.Kill()
		return s.srv.Restart
	}},
	{name: "failover (primary killed)", onGroup: true, breaks: true, inject: func(t testing.TB, s *setup) func() {
		old := s.g.primary(t)
		s.g.awaitReplica(t, s.g.other(old))
		old.Kill()
		return func() {
			if !eventually(40*time.Second, func() bool { return s.g.CurrentPrimary(t) != old.Addr() }) {
				t.Fatal("no failover within 40 s")
			}
			old.Restart()
		}
	}},
}

// deadlines are the callers' deadlines of the matrix and the table.
var deadlines = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, time.Second}
