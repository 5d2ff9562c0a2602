// Package etcdtest runs real etcd clusters for tests: N etcd members from
// Debian's etcd-server package (installed through internal/testdeps when
// missing), on 127.0.0.1 with free ports, data directories under
// t.TempDir(). Members can be stopped, killed and restarted on demand;
// every process is killed when the test ends, pass or fail, and the tail
// of each member's log is printed when the test failed.
//
// Only loopback addresses are used.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/testdeps"
)

// Binary is the etcd server binary, and Package the Debian package that
// ships it (Debian 12: etcd 3.4.23, /usr/bin/etcd).
const (
	Binary  = "etcd"
	Package = "etcd-server"
)

// Options tune a cluster. The zero value is the default.
type Options struct {
	// Heartbeat and Election are the raft timings (default 100 ms and
	// 1 s, etcd's defaults). etcd's minimum lease TTL is 1.5 Election,
	// rounded up to a second.
	Heartbeat, Election time.Duration
	// StartTimeout bounds the wait for the cluster to be healthy
	// (default 30 s).
	StartTimeout time.Duration
	// ExtraArgs are appended to every member's command line.
	ExtraArgs []string
}

// Cluster is a running etcd cluster.
type Cluster struct {
	t       testing.TB
	bin     string
	opts    Options
	token   string
	initial string // --initial-cluster
	Members []*Member
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:port
	PeerURL   string
	DataDir   string
	LogPath   string

	c       *Cluster
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exits
	started int           // starts so far (0: never started)
}

var clusterSeq struct {
	sync.Mutex
	n int
}

// Start starts an n-member cluster and waits until every member reports
// itself healthy (bounded by Options.StartTimeout). The cluster is torn
// down by t.Cleanup.
func Start(t testing.TB, n int, opts ...Options) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("etcdtest: %d members", n)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 100 * time.Millisecond
	}
	if o.Election == 0 {
		o.Election = time.Second
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	bin := testdeps.Ensure(t, Binary, Package)
	clusterSeq.Lock()
	clusterSeq.n++
	seq := clusterSeq.n
	clusterSeq.Unlock()

	ports, err := freePorts(2 * n)
	if err != nil {
		t.Fatalf("etcdtest: free ports: %v", err)
	}
	root := t.TempDir()
	c := &Cluster{t: t, bin: bin, opts: o, token: fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), seq)}
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			DataDir:   filepath.Join(root, fmt.Sprintf("m%d.etcd", i)),
			LogPath:   filepath.Join(root, fmt.Sprintf("m%d.log", i)),
			c:         c,
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	t.Cleanup(c.cleanup)
	for _, m := range c.Members {
		if err := m.start(); err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		c.dumpLogs()
		t.Fatalf("etcdtest: cluster of %d not healthy after %v: %v", n, o.StartTimeout, err)
	}
	return c
}

// freePorts returns n distinct free TCP ports on 127.0.0.1 (held open
// together while they are picked, so they differ).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Endpoints returns the client URLs of the members, in order.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

func (m *Member) args() []string {
	o := m.c.opts
	state := "new"
	if m.started > 0 {
		state = "existing" // ignored by etcd once the data dir exists
	}
	a := []string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.c.initial,
		"--initial-cluster-state", state,
		"--initial-cluster-token", m.c.token,
		"--heartbeat-interval", fmt.Sprint(o.Heartbeat.Milliseconds()),
		"--election-timeout", fmt.Sprint(o.Election.Milliseconds()),
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--enable-v2=false",
	}
	return append(a, o.ExtraArgs...)
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("member %s already running", m.Name)
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== start %d: %s %s\n", m.started+1, m.c.bin, strings.Join(m.args(), " "))
	cmd := exec.Command(m.c.bin, m.args()...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+unsupportedArch())
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s member %s: %v", m.c.bin, m.Name, err)
	}
	m.cmd = cmd
	m.started++
	done := make(chan struct{})
	m.done = done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// Running reports whether the member's process is running.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

func (m *Member) signal(sig syscall.Signal, wait time.Duration) error {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("member %s (pid %d) did not exit", m.Name, cmd.Process.Pid)
		}
	}
	m.mu.Lock()
	m.cmd = nil
	m.mu.Unlock()
	return nil
}

// Kill kills the member with SIGKILL and waits for it to exit.
func (m *Member) Kill() {
	m.c.t.Helper()
	if err := m.signal(syscall.SIGKILL, 10*time.Second); err != nil {
		m.c.t.Fatalf("etcdtest: %v", err)
	}
}

// Stop stops the member with SIGTERM (SIGKILL after 10 s) and waits.
func (m *Member) Stop() {
	m.c.t.Helper()
	if err := m.signal(syscall.SIGTERM, 10*time.Second); err != nil {
		m.c.t.Fatalf("etcdtest: %v", err)
	}
}

// Restart starts a stopped or killed member again on its data directory
// and waits until it is healthy (bounded by Options.StartTimeout).
func (m *Member) Restart() {
	m.c.t.Helper()
	if err := m.start(); err != nil {
		m.c.t.Fatalf("etcdtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.c.opts.StartTimeout)
	defer cancel()
	if err := m.WaitHealthy(ctx); err != nil {
		m.c.dumpLogs()
		m.c.t.Fatalf("etcdtest: member %s not healthy after restart: %v", m.Name, err)
	}
}

// Healthy asks the member's /health endpoint once: true when the member
// is up and the cluster has a leader.
func (m *Member) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.ClientURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"health":"true"`)) {
		return fmt.Errorf("member %s: /health %d %s", m.Name, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// WaitHealthy waits until the member is healthy or ctx is done.
func (m *Member) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		if !m.Running() {
			return fmt.Errorf("member %s is not running (see %s)", m.Name, m.LogPath)
		}
		last = m.Healthy(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%v (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitHealthy waits until every running member is healthy or ctx is done.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	for _, m := range c.Members {
		m.mu.Lock()
		stopped := m.cmd == nil // stopped or killed on purpose
		m.mu.Unlock()
		if stopped {
			continue
		}
		if err := m.WaitHealthy(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Logs returns the member's log so far.
func (m *Member) Logs() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

func (c *Cluster) dumpLogs() {
	for _, m := range c.Members {
		l := m.Logs()
		if len(l) > 4000 {
			l = "...\n" + l[len(l)-4000:]
		}
		c.t.Logf("etcdtest: log of member %s (%s):\n%s", m.Name, m.LogPath, l)
	}
}

func (c *Cluster) cleanup() {
	if c.t.Failed() {
		c.dumpLogs()
	}
	var wg sync.WaitGroup
	for _, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.signal(syscall.SIGKILL, 10*time.Second); err != nil {
				c.t.Errorf("etcdtest: cleanup: %v", err)
			}
		}()
	}
	wg.Wait()
}
