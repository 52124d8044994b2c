package peers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAddr is the address of the one redis-server the package starts in
// TestMain; every contender uses it, one at a time.
var redisAddr string

// redisServer is a private redis-server on a free loopback port, with no
// persistence. The module cannot import the root module's internal
// redistest, so this is a small equivalent of its Start.
type redisServer struct {
	cmd  *exec.Cmd
	dir  string
	addr string
}

func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH; install it (Debian/Ubuntu: apt-get install redis-server)")
	}
	dir, err := os.MkdirTemp("", "peers-redis-")
	if err != nil {
		return nil, err
	}
	for range 5 { // a free port may be taken before the server binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &redisServer{dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		s.cmd = exec.Command(bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"))
		// Its own process group keeps ^C from the terminal off it; the
		// parent-death signal kills it if the test binary dies without
		// stopping it (TestMain starts it from the locked main thread).
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err = s.cmd.Start(); err != nil {
			return nil, err
		}
		exited := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(exited) }()
		if s.waitReady(exited) {
			return s, nil
		}
		_ = s.cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("redis-server did not start; log:\n%s", log)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until the server answers PING, for up to 10s.
func (s *redisServer) waitReady(exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if s.ping() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func (s *redisServer) ping() error {
	c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	for s.ping() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	_ = os.RemoveAll(s.dir)
}

func TestMain(m *testing.M) {
	runtime.LockOSThread() // the main thread lives as long as the process
	s, err := startRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
	redisAddr = s.addr
	code := m.Run()
	s.stop()
	os.Exit(code)
}

// newRedis returns a client of the private server, closed when tb ends.
func newRedis(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// flushRedis empties the private server (never another one), so that each
// contender starts from an empty Redis.
func flushRedis(tb testing.TB) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		tb.Fatalf("FLUSHALL on the private server: %v", err)
	}
}

// waitRedisKeys waits until the private server holds at least n keys: the
// writes some contenders make in the background have landed.
func waitRedisKeys(tb testing.TB, rdb *redis.Client, n int64) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := rdb.DBSize(context.Background()).Result()
		if err != nil {
			tb.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Redis holds %d keys after 30s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
