package pgtest

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var serverURL string

// helperEnv makes the test binary a helper that starts a server, prints
// its folder and port, and waits to be killed.
const helperEnv = "PGTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	os.Exit(Main(m, &serverURL))
}

func helper() int {
	s, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(s.dir, s.port)
	time.Sleep(time.Minute) // killed long before
	s.stop()
	return 0
}

// psql runs a query with the psql next to initdb and returns its
// unaligned, tuples-only output.
func psql(t *testing.T, conn, query string) string {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "psql"), "-X", "-A", "-t", "-d", conn, "-c", query).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v: %s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestServer checks that Main's URL reaches a PostgreSQL server of its
// own: on the URL's loopback port, in a temporary folder that also holds
// its socket, and never run as root.
func TestServer(t *testing.T) {
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	if host := u.Hostname(); host != "127.0.0.1" {
		t.Errorf("the server is on %s, want loopback", host)
	}
	version := psql(t, serverURL, "SELECT version()")
	if !strings.HasPrefix(version, "PostgreSQL ") {
		t.Fatalf("version() = %q", version)
	}
	t.Log(version)
	if port := psql(t, serverURL, "SELECT inet_server_port()"); port != u.Port() {
		t.Errorf("the server says its port is %s, the URL says %s", port, u.Port())
	}
	data := psql(t, serverURL, "SHOW data_directory")
	dir := filepath.Dir(data)
	if !strings.HasPrefix(filepath.Base(dir), "pgtest-") {
		t.Errorf("data directory %s, want one in a pgtest- folder", data)
	}

	// The socket is in the same folder.
	socket := fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres", dir, u.Port())
	if got := psql(t, socket, "SELECT 40 + 2"); got != "42" {
		t.Errorf("over the socket in %s: SELECT 40 + 2 = %q", dir, got)
	}

	info, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	owner := info.Sys().(*syscall.Stat_t).Uid
	if os.Geteuid() == 0 && owner == 0 {
		t.Errorf("%s belongs to root: the server ran as root", data)
	}
	if os.Geteuid() != 0 && int(owner) != os.Geteuid() {
		t.Errorf("%s belongs to uid %d, want this process's %d", data, owner, os.Geteuid())
	}
}

// TestKilledBinaryLeavesNothing kills a test binary that started a server
// and checks that the server and its folder go with it.
func TestKilledBinaryLeavesNothing(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the helper printed no folder: %v", err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 {
		t.Fatalf("the helper printed %q", line)
	}
	dir, port := fields[0], fields[1]
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("the helper printed %q", line)
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("the helper's server at %s: %v", addr, err)
	} else {
		c.Close()
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, statErr := os.Stat(dir)
		c, dialErr := net.Dial("tcp", addr)
		if c != nil {
			c.Close()
		}
		if os.IsNotExist(statErr) && dialErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the test binary was killed: folder %s: %v; server at %s: %v", dir, statErr, addr, dialErr)
		}
	}
}
