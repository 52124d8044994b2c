// Package redistest starts private redis-server processes for tests, on free
// loopback ports, and lets fault tests kill, pause and restart them.
package redistest

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Server is a redis-server process owned by one test, or by a test
// binary (Main).
type Server struct {
	t    testing.TB // nil for Main's
	dir  string
	port int
	conf string // a config file, which redis-server wants first
	args []string
	// dieWithParent kills the server when the thread that started it
	// exits (Main's locked main thread, so: the test binary).
	dieWithParent bool

	mu  sync.Mutex
	cmd *exec.Cmd
}

// binary returns the path of redis-server, or an error saying what to
// install.
func binary() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server is not on PATH; install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)")
	}
	return path, nil
}

// Start starts a redis-server on a free loopback port, with no persistence,
// and stops it when the test ends. Extra config directives ("--maxmemory",
// "10mb") are passed through.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartWithConfig(t, "", args...)
}

// StartWithConfig is Start with a config file, such as a sentinel's; ""
// is none.
func StartWithConfig(t testing.TB, conf string, args ...string) *Server {
	t.Helper()
	s, err := launch(t.TempDir(), conf, args, false)
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(s.stop)
	return s
}

// Main starts one redis-server for a whole test binary, stores its
// address in addr, runs m and stops the server. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m, &addr)) }
//
// Tests share the server, so they must not run in parallel on the same
// keys. The server dies with the test binary even when it crashes.
func Main(m *testing.M, addr *string) int {
	// The server is killed when the thread that started it exits: the
	// main thread, kept for the life of the process.
	runtime.LockOSThread()
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := launch(dir, "", nil, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.stop()
	*addr = s.Addr()
	return m.Run()
}

// launch starts a server in dir on a free port, trying a few: a port
// found free may be taken before the server binds it.
func launch(dir, conf string, args []string, dieWithParent bool) (*Server, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s := &Server{dir: dir, conf: conf, args: args, dieWithParent: dieWithParent}
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("redistest: starting redis-server: %w", err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	args = append(args, s.args...)
	bin, err := binary()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	// Its own process group keeps a terminal's ^C off it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.dieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v; log: %s", err, s.logTail())
		default:
		}
		if s.ping() == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			go func() { <-exited }() // reaped by the goroutine above
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("redis-server did not answer within 10s; log: %s", s.logTail())
}

func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
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

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns a new client of the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Do runs one command on a fresh connection and returns its reply, failing
// the test on error (a nil reply is not an error).
func (s *Server) Do(args ...any) any {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		s.t.Fatalf("redistest: %v: %v", args, err)
	}
	return v
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Kill kills the server at once (SIGKILL), losing its data.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	for s.ping() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// Restart starts the server again on the same port, empty. The server must
// have been killed.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger
	}
	s.t.Fatalf("redistest: restarting redis-server: %v", err)
}

// Pause freezes the server (SIGSTOP): connections stay open, nothing is
// answered.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume unfreezes a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) stop() {
	s.Resume()
	s.Kill()
}
