// Package pgtest starts a private PostgreSQL server for a test binary: a
// cluster made by initdb in a temporary folder, served on a free loopback
// port, with its Unix socket in that folder too. The server and the folder
// are removed when the tests end, and also when the test binary dies
// before that (killed, crashed, or stopped by a test timeout).
//
// The programs are found on PATH (initdb) or else in the folder that
// `pg_config --bindir` names (Debian keeps them in
// /usr/lib/postgresql/VERSION/bin). PostgreSQL refuses to run as root: a
// root test binary runs initdb and the server as the user postgres, or
// nobody when there is no such user, and gives the folder to that user.
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main starts a private PostgreSQL server for a whole test binary, stores
// the URL of its database in url, runs m, then stops the server and
// removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &url)) }
//
// The URL names the superuser postgres, with no password, and the
// database postgres. Tests share the server: give each its own schema or
// database.
func Main(m *testing.M, url *string) int {
	s, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.stop()
	*url = s.URL()
	return m.Run()
}

// A server is one postmaster, its cluster folder, and the reaper that
// removes both.
type server struct {
	dir    string // the temporary folder: data/, the socket, the log
	port   int
	cmd    *exec.Cmd     // the postmaster
	exited chan struct{} // closed once the postmaster has exited
	reaper *exec.Cmd
	// lifeline is the reaper's stdin. A line names the process group to
	// kill; when the pipe closes, because stop closed it or because the
	// test binary died, the reaper kills the group named last and removes
	// dir.
	lifeline *os.File
}

// reaperScript kills the process group named on the last line of its
// stdin once stdin closes, then removes the folder $1 (retrying while
// dying processes may still write to it).
const reaperScript = `group=
while IFS= read -r line; do group=$line; done
[ -n "$group" ] && kill -s KILL -- "-$group" 2>/dev/null
i=0
until rm -rf "$1" 2>/dev/null || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
`

// start makes a cluster in a new temporary folder and starts its server,
// trying a few free ports: a port found free may be taken before the
// server binds it.
func start() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	s, err := newServer(cred)
	if err != nil {
		return nil, err
	}
	if err := s.initdb(bin, cred); err != nil {
		s.stop()
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.serve(bin, cred); err == nil {
			return s, nil
		}
	}
	s.stop()
	return nil, fmt.Errorf("pgtest: starting postgres: %w", err)
}

// binDir returns the folder of initdb and postgres.
func binDir() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		// The folder of the program itself, not of a link to it, holds
		// postgres too.
		if path, err = filepath.EvalSymlinks(path); err == nil {
			return filepath.Dir(path), nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL's initdb is neither on PATH nor in the folder pg_config --bindir names; " +
		"run .ci/install-deps (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@17)")
}

// credential returns the user to run PostgreSQL as when this process is
// root, which PostgreSQL refuses to run as; nil means this process's own.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		var u *user.User
		if u, err = user.Lookup(name); err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err = errors.Join(err1, err2); err != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses to: found no user postgres or nobody to run it as: %w", err)
}

// newServer makes the temporary folder, owned by cred's user, and starts
// its reaper.
func newServer(cred *syscall.Credential) (*server, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: giving %s to the user PostgreSQL runs as: %w", dir, err)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer r.Close()
	reaper := exec.Command("/bin/sh", "-c", reaperScript, "pgtest-reaper", dir)
	reaper.Stdin = r
	// Its own process group keeps a terminal's ^C, meant for the test
	// binary, off it.
	reaper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := reaper.Start(); err != nil {
		w.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: starting the reaper: %w", err)
	}
	return &server{dir: dir, reaper: reaper, lifeline: w}, nil
}

// command returns a PostgreSQL program's command, run in its own process
// group as cred's user, which the reaper kills if the test binary dies.
func (s *server) command(bin, name string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	return cmd
}

// watch tells the reaper to kill the process group of cmd, or of nothing
// when cmd is nil.
func (s *server) watch(cmd *exec.Cmd) {
	line := "\n"
	if cmd != nil {
		line = strconv.Itoa(cmd.Process.Pid) + "\n"
	}
	_, _ = s.lifeline.WriteString(line)
}

func (s *server) data() string { return filepath.Join(s.dir, "data") }

func (s *server) initdb(bin string, cred *syscall.Credential) error {
	cmd := s.command(bin, "initdb", cred,
		"-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w", err)
	}
	s.watch(cmd)
	err := cmd.Wait()
	s.watch(nil)
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %v: %s", err, out.Bytes())
	}
	return nil
}

// serve starts the server on s.port and waits until it accepts
// connections.
func (s *server) serve(bin string, cred *syscall.Credential) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	// The data is thrown away: nothing needs to reach the disk.
	cmd := s.command(bin, "postgres", cred,
		"-D", s.data(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.watch(cmd)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			s.watch(nil)
			return fmt.Errorf("postgres exited; log: %s", tail(logPath))
		default:
		}
		if s.ready() {
			s.cmd, s.exited = cmd, exited
			return nil
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	s.watch(nil)
	return fmt.Errorf("postgres did not accept connections within 30s; log: %s", tail(logPath))
}

// ready reports whether the server says it accepts connections: the
// status line of its lock file, which pg_ctl reads too, is "ready".
func (s *server) ready() bool {
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	const statusLine = 7 // PostgreSQL 10 and later
	return len(lines) > statusLine && strings.TrimSpace(lines[statusLine]) == "ready"
}

// stop has the reaper kill the server and remove the folder, and waits
// until it has.
func (s *server) stop() {
	s.lifeline.Close()
	_ = s.reaper.Wait()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill() // done already, unless the reaper failed
		<-s.exited
	}
}

// URL returns the URL of the server's database postgres, as its
// superuser postgres.
func (s *server) URL() string {
	return "postgres://postgres@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) + "/postgres?sslmode=disable"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
