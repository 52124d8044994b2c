package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Cluster is a Redis Cluster of masters without replicas, owned by one
// test. It keeps serving the slots of the masters that are up when one
// goes down (cluster-require-full-coverage no), so fault tests can kill
// one.
type Cluster struct {
	Masters []*Server
}

// StartCluster starts n masters with cluster mode on and joins them with
// redis-cli --cluster create.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	args := []string{"--cluster", "create"}
	for range n {
		s := Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000",
			"--cluster-require-full-coverage", "no",
			"--appendonly", "no")
		c.Masters = append(c.Masters, s)
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-yes")
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redistest: redis-cli is not on PATH; install it with redis-server (Debian/Ubuntu: apt-get install redis-tools redis-server)")
	}
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Masters {
		for {
			info, _ := s.Do("CLUSTER", "INFO").(string)
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: the cluster did not come up:\n%s", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Addrs returns the masters' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Masters))
	for i, s := range c.Masters {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// MasterOf returns the master that serves key.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	slot, ok := c.Masters[0].Do("CLUSTER", "KEYSLOT", key).(int64)
	if !ok {
		t.Fatalf("redistest: CLUSTER KEYSLOT %q failed", key)
	}
	return c.masterOfSlot(t, slot)
}

func (c *Cluster) masterOfSlot(t testing.TB, slot int64) *Server {
	t.Helper()
	slots, _ := c.Masters[0].Do("CLUSTER", "SLOTS").([]any)
	for _, entry := range slots {
		e := entry.([]any)
		lo, hi := e[0].(int64), e[1].(int64)
		if slot < lo || slot > hi {
			continue
		}
		node := e[2].([]any)
		port := strconv.FormatInt(node[1].(int64), 10)
		for _, s := range c.Masters {
			if strings.HasSuffix(s.Addr(), ":"+port) {
				return s
			}
		}
	}
	t.Fatalf("redistest: no master serves slot %d", slot)
	return nil
}

// A Sentinel group is a primary, a replica and one sentinel watching them
// under the master name it holds, owned by one test.
type Sentinel struct {
	Primary, Replica *Server
	Sentinel         *Server
	MasterName       string
}

// StartSentinel starts a primary, a replica of it, and a sentinel
// (redis-server --sentinel) that fails over after a second without the
// primary.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	g := &Sentinel{MasterName: "gcache"}
	g.Primary = Start(t, "--repl-diskless-sync-delay", "0")
	g.Replica = Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(g.Primary.port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, _ := g.Replica.Do("INFO", "replication").(string)
		if strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the replica did not sync:\n%s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	content := fmt.Sprintf(`sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, g.MasterName, g.Primary.port, g.MasterName, g.MasterName, g.MasterName)
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Sentinel = StartWithConfig(t, conf, "--sentinel")
	deadline = time.Now().Add(30 * time.Second)
	for {
		addr, _ := g.Sentinel.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.MasterName).([]any)
		if len(addr) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redistest: the sentinel does not know the primary")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return g
}

// CurrentPrimary returns the address the sentinel gives for the primary.
func (g *Sentinel) CurrentPrimary(t testing.TB) string {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: g.Sentinel.Addr()})
	defer c.Close()
	addr, err := c.GetMasterAddrByName(context.Background(), g.MasterName).Result()
	if err != nil {
		t.Fatal(err)
	}
	return addr[0] + ":" + addr[1]
}
