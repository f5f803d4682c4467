package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// missing is the message of a test that cannot find a Redis binary.
const missing = "%s not found: run `make test` (it installs it) or apt-get install redis-server"

// startTimeout bounds how long a server or a cluster may take to come up.
const startTimeout = 30 * time.Second

// Start runs a redis-server on a free loopback port, without persistence,
// and returns its address (127.0.0.1:port) once it answers PING. The server
// is killed when tb ends.
func Start(tb testing.TB) string {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	var lastErr error
	for range 3 { // a free port may be taken by someone else before we bind it
		port := freePort(tb)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err := startServer(tb, bin, tb.TempDir(), port)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	tb.Fatalf("redistest: %v", lastErr)
	return ""
}

// StartCluster runs a Redis Cluster of masters nodes without replicas on
// loopback ports and returns the nodes' addresses once every node reports
// cluster_state:ok. The nodes are killed when tb ends.
func StartCluster(tb testing.TB, masters int) []string {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	bin := lookPath(tb, "redis-server")
	cli := lookPath(tb, "redis-cli")
	addrs := make([]string, 0, masters)
	for len(addrs) < masters {
		var err error
		for range 3 {
			port, bus := freePort(tb), freePort(tb)
			err = startServer(tb, bin, tb.TempDir(), port,
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "5000")
			if err == nil {
				addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				break
			}
		}
		if err != nil {
			tb.Fatalf("redistest: cluster node: %v", err)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, addr := range addrs {
		for {
			info, err := command(addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster node %s not ready after %v: %v\n%s", addr, startTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf(missing, name)
	}
	return p
}

// startServer starts redis-server on port with its files in dir and extra
// arguments, waits for PING and registers its kill with tb.Cleanup.
func startServer(tb testing.TB, bin, dir string, port int, extra ...string) error {
	logFile := filepath.Join(dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", logFile,
		"--daemonize", "no",
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := command(addr, "PING")
		if err == nil && reply == "PONG" {
			break
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("redis-server on port %d exited: %v\n%s", port, werr, tail(logFile))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("redis-server on port %d did not answer PING in %v: %v\n%s", port, startTimeout, err, tail(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(stop)
	return nil
}

// freePort returns a loopback TCP port nobody listens on at the moment.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// command sends one command in RESP and returns a simple or bulk string
// reply.
func command(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
