package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// do runs one command on a fresh connection to addr.
func do(addr string, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.Do(ctx, args...).Result()
	if err == redis.Nil {
		err = nil
	}
	return v, err
}

// group is a Sentinel group, primary, replica and sentinel, with what tests
// do to it.
type group struct {
	*redistest.Sentinel
}

// startGroup starts a Sentinel group whose servers start a full
// resynchronisation at once (the replica's default waits 5 s for others to
// join it), and waits until the sentinel can fail over to the replica.
func startGroup(t testing.TB) group {
	g := group{redistest.StartSentinel(t)}
	for _, s := range []*redistest.Server{g.Primary, g.Replica} {
		noSyncDelay(t, s)
	}
	g.awaitReplica(t, g.Replica)
	return g
}

func noSyncDelay(t testing.TB, s *redistest.Server) {
	if _, err := do(s.Addr(), "CONFIG", "SET", "repl-diskless-sync-delay", "0"); err != nil {
		t.Fatal(err)
	}
}

// primary returns the server the sentinel names primary.
func (g group) primary(t testing.TB) *redistest.Server {
	addr := g.CurrentPrimary(t)
	for _, s := range []*redistest.Server{g.Primary, g.Replica} {
		if s.Addr() == addr {
			return s
		}
	}
	t.Fatalf("the sentinel names %s primary, which is neither server", addr)
	return nil
}

// other returns the server that is not s.
func (g group) other(s *redistest.Server) *redistest.Server {
	if s == g.Primary {
		return g.Replica
	}
	return g.Primary
}

// killPrimary waits until the replica can be failed over to, kills the
// primary, waits for the sentinel to promote the replica, and restarts the
// killed server empty: the sentinel makes it a replica again. It returns
// how long the group had no primary.
func (g group) killPrimary(t testing.TB) time.Duration {
	old := g.primary(t)
	g.awaitReplica(t, g.other(old))
	start := time.Now()
	old.Kill()
	if !eventually(40*time.Second, func() bool { return g.CurrentPrimary(t) != old.Addr() }) {
		t.Fatal("the sentinel did not fail over within 40 s of the primary's death")
	}
	down := time.Since(start)
	// The clients follow the sentinel to the new primary before the old
	// one is back: restarted, it is an empty primary of its own until the
	// sentinel makes it a replica, and a client still connecting to it
	// would write there and lose what it wrote.
	time.Sleep(2 * time.Second)
	old.Restart()
	noSyncDelay(t, old)
	return down
}

// failover waits until the replica can be failed over to, has the
// sentinel fail over (SENTINEL FAILOVER), and waits until the old primary
// is demoted and replicates the new one.
func (g group) failover(t testing.TB) {
	old := g.primary(t)
	start := time.Now()
	g.awaitReplica(t, g.other(old))
	ready := time.Since(start)
	var err error
	if !eventually(20*time.Second, func() bool {
		_, err = do(g.Sentinel.Sentinel.Addr(), "SENTINEL", "FAILOVER", g.MasterName)
		return err == nil
	}) {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	if !eventually(20*time.Second, func() bool { return g.CurrentPrimary(t) != old.Addr() }) {
		t.Fatal("SENTINEL FAILOVER did not promote the replica within 20 s")
	}
	promoted := time.Since(start)
	if !eventually(20*time.Second, func() bool { return linked(old) }) {
		t.Fatalf("the old primary %s does not replicate the new one 20 s after the failover", old.Addr())
	}
	t.Logf("SENTINEL FAILOVER: replica ready after %v, promoted after %v, old primary replicating after %v",
		ready.Round(time.Millisecond), promoted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// linked reports whether s is a replica whose link to its primary is up.
func linked(s *redistest.Server) bool {
	info, err := do(s.Addr(), "INFO", "replication")
	return err == nil && strings.Contains(fmt.Sprint(info), "role:slave") && strings.Contains(fmt.Sprint(info), "master_link_status:up")
}

// awaitReplica waits until s replicates the primary and the sentinel
// counts it as a healthy replica, so that it can be failed over to.
func (g group) awaitReplica(t testing.TB, s *redistest.Server) {
	ok := eventually(40*time.Second, func() bool {
		if !linked(s) {
			return false
		}
		replicas, err := do(g.Sentinel.Sentinel.Addr(), "SENTINEL", "REPLICAS", g.MasterName)
		if err != nil {
			return false
		}
		for _, r := range replicas.([]any) {
			fields := fmt.Sprint(r)
			if strings.Contains(fields, " port "+s.Addr()[strings.LastIndexByte(s.Addr(), ':')+1:]+" ") &&
				!strings.Contains(fields, "s_down") && !strings.Contains(fields, "disconnected") &&
				strings.Contains(fields, "master-link-status ok") {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("%s did not become a healthy replica within 40 s", s.Addr())
	}
}
