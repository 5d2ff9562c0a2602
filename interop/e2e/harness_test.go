package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// moduleRoot is the repository root, relative to this package.
const moduleRoot = "../.."

// The binaries are built once per test binary run into binDir (removed by
// TestMain) and linked into each test's directory.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	buildLog  string
)

// binaries are what buildBinaries provides in each directory.
var binaries = []string{"pmipd", "pmipdemo", "pmipctl"}

// buildBinaries builds pmipd, pmipdemo and pmipctl (once per run of the
// package) and puts them into dir (pmipctl is dir/pmipctl).
func buildBinaries(t testing.TB, dir string) (pmipd, pmipdemo string) {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		if binDir, buildErr = os.MkdirTemp("", "pmip-e2e-bin-"); buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/pmipd", "./cmd/pmipdemo", "./cmd/pmipctl")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildLog = fmt.Sprintf("built pmipd, pmipdemo and pmipctl in %v", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Log(buildLog)
	for _, b := range binaries {
		src, dst := filepath.Join(binDir, b), filepath.Join(dir, b)
		if err := os.Link(src, dst); err != nil {
			data, rerr := os.ReadFile(src)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(dir, "pmipd"), filepath.Join(dir, "pmipdemo")
}

// writeConfig copies configs/<name>.yaml into dir with its runtime paths
// (/run/pmipd-e2e) moved into dir, after applying the replacements
// old1, new1, ... to its text.
func writeConfig(t testing.TB, dir, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "configs", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "/run/pmipd-e2e", dir)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("configs/%s.yaml: %q not found", name, repl[i])
		}
		s = strings.Replace(s, repl[i], repl[i+1], 1)
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// daemon is a pmipd process running in a namespace.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string // log file
	sock   string // management socket
	exited chan struct{}
	err    error // exit error, once exited is closed
}

// startDaemon runs `ip netns exec NS pmipd -c cfg` with its output in a
// log file, waits until its management socket answers, and stops it at
// the end of the test (SIGTERM, then SIGKILL after 5 s). On failure the
// end of its log is printed.
func startDaemon(t testing.TB, ns *netnstest.NS, bin, name, cfg, dir string) *daemon {
	t.Helper()
	d := &daemon{name: name, log: filepath.Join(dir, name+".log"), sock: filepath.Join(dir, name+".sock"), exited: make(chan struct{})}
	f, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("ip", "netns", "exec", ns.Name, bin, "-c", cfg)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		f.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("--- last lines of %s:\n%s", d.log, tail(d.log, 40))
		}
	})
	waitFor(t, 10*time.Second, name+" management socket", func() (bool, string) {
		select {
		case <-d.exited:
			t.Fatalf("%s exited at start: %v\n%s", name, d.err, tail(d.log, 30))
		default:
		}
		_, err := mgmtGet(d.sock, "/v1/status")
		return err == nil, fmt.Sprint(err)
	})
	return d
}

// stop sends SIGTERM and waits (5 s, then SIGKILL). It returns the exit
// error (nil for a clean exit 0).
func (d *daemon) stop(t testing.TB) error {
	select {
	case <-d.exited:
		return d.err
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.err
	case <-time.After(5 * time.Second):
		t.Errorf("%s did not stop within 5 s of SIGTERM: killed", d.name)
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("killed")
	}
}

func (d *daemon) signal(t testing.TB, s syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(s); err != nil {
		t.Fatalf("signal %v to %s: %v", s, d.name, err)
	}
}

// logText returns the daemon's log so far.
func (d *daemon) logText() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mgmtGet fetches a management API path over the Unix socket.
func mgmtGet(sock, path string) ([]byte, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://pmipd" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, err
}

func (d *daemon) get(t testing.TB, path string, v any) {
	t.Helper()
	b, err := mgmtGet(d.sock, path)
	if err != nil {
		t.Fatalf("%s %s: %v", d.name, path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v\n%s", d.name, path, err, b)
	}
}

// binding is the part of the management API's Binding (internal/mgmt)
// the tests read.
type binding struct {
	MN       string         `json:"mn"`
	HNPs     []netip.Prefix `json:"hnps"`
	ProxyCoA netip.Addr     `json:"proxy_coa"`
	HI       int            `json:"handoff_indicator"`
	State    string         `json:"state"` // active, deregistered, revoking
}

func (d *daemon) bindings(t testing.TB) []binding {
	t.Helper()
	var r struct {
		Bindings []binding `json:"bindings"`
	}
	d.get(t, "/v1/bindings", &r)
	return r.Bindings
}

func (d *daemon) binding(t testing.TB, mn string) *binding {
	t.Helper()
	for _, b := range d.bindings(t) {
		if b.MN == mn {
			return &b
		}
	}
	return nil
}

// lmaCounters are the LMA's counters of GET /v1/counters that the tests
// read.
type lmaCounters struct {
	Rx, Tx  map[string]uint64 // by message type name
	PBA     map[string]uint64 // by status code
	Dropped map[string]uint64 // by reason
}

// counter is one entry of GET /v1/counters.
type counter struct {
	Role  string `json:"role"`
	Name  string `json:"name"`
	Key   string `json:"key"`
	Value uint64 `json:"value"`
}

func (d *daemon) apiCounters(t testing.TB) []counter {
	t.Helper()
	var r struct {
		Counters []counter `json:"counters"`
	}
	d.get(t, "/v1/counters", &r)
	return r.Counters
}

func (d *daemon) lmaCounters(t testing.TB) lmaCounters {
	t.Helper()
	c := lmaCounters{Rx: map[string]uint64{}, Tx: map[string]uint64{}, PBA: map[string]uint64{}, Dropped: map[string]uint64{}}
	for _, x := range d.apiCounters(t) {
		if x.Role != "lma" {
			continue
		}
		switch x.Name {
		case "rx":
			c.Rx[x.Key] = x.Value
		case "tx":
			c.Tx[x.Key] = x.Value
		case "pba_status": // key "154 MAG not authorized ..."
			code, _, _ := strings.Cut(x.Key, " ")
			c.PBA[code] = x.Value
		case "dropped":
			c.Dropped[x.Key] = x.Value
		}
	}
	return c
}

// bulEntry is the part of the management API's BULEntry the tests read.
type bulEntry struct {
	MNID      string         `json:"mnid"`
	Interface string         `json:"interface"`
	LMA       netip.Addr     `json:"lma"`
	HNPs      []netip.Prefix `json:"hnps"`
	State     string         `json:"state"`
	HI        int            `json:"handoff_indicator"`
}

func (d *daemon) bul(t testing.TB) []bulEntry {
	t.Helper()
	var r struct {
		BUL []bulEntry `json:"bul"`
	}
	d.get(t, "/v1/bul", &r)
	return r.BUL
}

// waitFor polls cond every 50 ms until it holds or timeout passes (then
// the test fails with what and cond's last note).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, note := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, note)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var globalAddrRE = regexp.MustCompile(`inet6 ([0-9a-f:]+)/(\d+) scope global`)

// globalAddrs returns the MN's usable (not tentative) global addresses on dev.
func globalAddrs(ns *netnstest.NS, dev string) []netip.Prefix {
	out, err := ns.Exec("ip", "-6", "addr", "show", "dev", dev, "scope", "global")
	if err != nil {
		return nil
	}
	var ps []netip.Prefix
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "tentative") {
			continue
		}
		if m := globalAddrRE.FindStringSubmatch(line); m != nil {
			if p, err := netip.ParsePrefix(m[1] + "/" + m[2]); err == nil {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// ping runs count pings from ns to dst and returns the number received.
// ping sends count echo requests (with a deadline of count+2 s, so that
// ping keeps sending until count replies came) and returns how many
// replies arrived: more than count when the first replies were slow
// (neighbor discovery under load) and ping sent extra requests meanwhile.
func ping(t testing.TB, ns *netnstest.NS, dst netip.Addr, count int) (int, string) {
	t.Helper()
	out, _ := ns.Exec("ping", "-n", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "1", "-w", fmt.Sprint(count+2), dst.String())
	m := regexp.MustCompile(`(\d+) received`).FindStringSubmatch(out)
	if m == nil {
		return 0, out
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n, out
}

// bg is a background command (stream sender/receiver) bounded by a context.
type bg struct {
	cmd    *exec.Cmd
	out    syncBuf
	errb   syncBuf
	done   chan struct{}
	cancel context.CancelFunc
}

func startBG(t testing.TB, timeout time.Duration, ns *netnstest.NS, bin string, args ...string) *bg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	b := &bg{done: make(chan struct{}), cancel: cancel}
	b.cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, bin}, args...)...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errb
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { cancel(); <-b.done })
	return b
}

func (b *bg) wait(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		b.cancel()
		<-b.done
		t.Fatalf("%v did not finish within %v", b.cmd.Args, timeout)
	}
	return b.out.String()
}

// syncBuf is a bytes.Buffer that a running command writes while the test
// reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// streamStats is pmipdemo recv -json's result.
type streamStats struct {
	Sent, Received, Duplicates, Reordered, Lost uint64
	LongestGap                                  float64 `json:"longest_gap"`
	GapAfterSeq                                 uint64  `json:"gap_after_seq"`
	GapMissing                                  uint64  `json:"gap_missing"`
	GapStart                                    float64 `json:"gap_start"`
	LossGap                                     float64 `json:"loss_gap"`
	LossGapMissing                              uint64  `json:"loss_gap_missing"`
	LossGapStart                                float64 `json:"loss_gap_start"`
	Duration                                    float64
	FinSeen                                     bool `json:"fin_seen"`
	// NotSent: the sender's writes that failed (sequence number -> error;
	// pmipdemo send lists the first 10), from its output.
	NotSent map[uint64]string `json:"-"`
}
