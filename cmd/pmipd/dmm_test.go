package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/punt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// fakeMRDeps makes the daemon open an in-memory transport on netw, the
// fake data plane fake and the punt path pt instead of the kernel's, for
// the rest of the test.
func fakeMRDeps(t *testing.T) (netw *transport.Network, fake *dataplane.Fake, pt *testPunt) {
	netw, fake = transport.NewNetwork(), dataplane.NewFake()
	pt = &testPunt{held: map[netip.Prefix]bool{}, misses: make(chan mr.Miss)}
	oldT, oldD, oldP := openTransport, openDriver, openPunt
	t.Cleanup(func() { openTransport, openDriver, openPunt = oldT, oldD, oldP })
	openTransport = func(c *config.Config) (transport.Transport, error) { return netw.Attach(c.Transport.Address) }
	openDriver = func(string) (dataplane.Driver, string, error) { return fake, "test", nil }
	openPunt = func(punt.Config, *logrus.Entry) (puntPath, error) { return pt, nil }
	return netw, fake, pt
}

// testPunt is the MR's punt path without a TUN device.
type testPunt struct {
	mu     sync.Mutex
	held   map[netip.Prefix]bool
	misses chan mr.Miss
	closed bool
}

func (p *testPunt) Hold(x netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held[x] = true
	return nil
}

func (p *testPunt) Release(x netip.Prefix) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.held, x)
	return 0, nil
}

func (p *testPunt) Drop(x netip.Prefix) (int, error) { return p.Release(x) }
func (p *testPunt) Watch(netip.Prefix) error         { return nil }
func (p *testPunt) Misses() <-chan mr.Miss           { return p.misses }

// Stats reports 3 packets (120 bytes) held per held prefix.
func (p *testPunt) Stats() punt.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return punt.Stats{Held: 3 * len(p.held), HeldBytes: 120 * len(p.held), Received: 11}
}

func (p *testPunt) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.misses)
	}
	return nil
}

const dmmTestConfig = `
node: {name: mr-test, state_dir: %[1]s/state}
transport: {address: "2001:db8:ff::21"}
dataplane: {driver: fake, tunnel_interface: pmipnodev0}
roles: [mr, lm, haa]
mr:
  deployment: lma
  mags: ["2001:db8:ff::a1"]
  pools: [{prefix: "2001:db8:21::/48", anchor: "2001:db8:ff::21"}]
lm: {address: "2001:db8:ff::a"}
haa:
  address: "2001:db8:ff::b"
  pools: [{prefix: "2001:db8:21::/48", mr: "2001:db8:ff::21"}]
management: {socket: %[1]s/pmipd.sock}
metrics: {listen: "127.0.0.1:0"}
`

// TestRunMR runs an MR with its LM and HAA in process (deployment A, a
// fake punt path, the in-memory network): a legacy MAG registers a node,
// the LM server drops a broken packet, and /metrics shows the MR's, the
// punt path's and the servers' counters. A reload that changes mr keys is
// accepted with a warning naming them and reported as needing a restart,
// by POST /v1/config/check before and by POST /v1/reload.
func TestRunMR(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mr.yaml")
	base := fmt.Sprintf(dmmTestConfig, dir)
	write := func(s string) {
		if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base)

	mrAddr, lmAddr := netip.MustParseAddr("2001:db8:ff::21"), netip.MustParseAddr("2001:db8:ff::a")
	netw, _, pt := fakeMRDeps(t)

	var logs syncBuf
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", cfgPath}, io.Discard, &logs, stop) }()
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			<-done
		}
	}()
	sock := filepath.Join(dir, "pmipd.sock")
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, err := client.Get("http://x/v1/status"); err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("management socket never answered\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	match := regexp.MustCompile(`Prometheus metrics on /metrics.*listen="?([0-9.]+:[0-9]+)`).FindStringSubmatch(logs.String())
	if match == nil {
		t.Fatalf("no metrics address in the log\n%s", logs.String())
	}
	metricsURL := "http://" + match[1] + "/metrics"

	// A legacy MAG registers mn1, then the node leaves (held); garbage to
	// the LM server.
	mag, err := netw.Attach(netip.MustParseAddr("2001:db8:ff::a1"))
	if err != nil {
		t.Fatal(err)
	}
	defer mag.Close()
	pbu := func(seq, life uint16, hnp netip.Prefix) *mh.BindingAck {
		t.Helper()
		h := &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
		if hnp.IsValid() {
			h = mh.NewHNP(hnp)
		}
		bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: life}
		bu.Options = mh.Options{h, mh.NewNAI("mn1@example.net"), &mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
			&mh.AccessTechnologyType{Value: mh.ATT8023}, &mh.LinkLocalAddress{Address: netip.IPv6Unspecified()}}
		b, _ := bu.Marshal()
		if err := mag.Send(mrAddr, b); err != nil {
			t.Fatal(err)
		}
		got := make(chan *mh.BindingAck, 1)
		go func() {
			ps := make([]transport.Packet, 1)
			for {
				if _, err := mag.Receive(ps); err != nil {
					return
				}
				if m, err := mh.Parse(ps[0].Data); err == nil {
					if ba, ok := m.(*mh.BindingAck); ok && ba.Sequence == seq {
						got <- ba
						return
					}
				}
			}
		}()
		select {
		case ba := <-got:
			return ba
		case <-time.After(5 * time.Second):
			t.Fatalf("no PBA %d\n%s", seq, logs.String())
			return nil
		}
	}
	ba := pbu(1, 900, netip.Prefix{})
	opt, ok := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
	if ba.Status != mh.StatusAccepted || !ok || !netip.MustParsePrefix("2001:db8:21::/48").Contains(opt.Prefix) {
		t.Fatalf("PBA: status %d, options %v", ba.Status, ba.Options)
	}
	hnp := netip.PrefixFrom(opt.Prefix, int(opt.PrefixLength))
	if err := mag.Send(lmAddr, []byte{59, 0}); err != nil {
		t.Fatal(err)
	}

	scrape := func() []string {
		t.Helper()
		r, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Split(string(b), "\n")
	}
	want := func(lines []string, ls ...string) {
		t.Helper()
		for _, l := range ls {
			if !slices.Contains(lines, l) {
				t.Errorf("/metrics lacks %s", l)
			}
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for !slices.Contains(scrape(), `pmip_dmm_server_packets_total{result="dropped",server="lm"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the LM server's drop never showed:\n%s", strings.Join(scrape(), "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	want(scrape(),
		`pmip_bindings{role="mr",state="attached"} 1`,
		`pmip_messages_total{direction="received",role="mr",status="",type="Binding Update"} 1`,
		`pmip_messages_total{direction="sent",role="mr",status="0",type="Binding Acknowledgement"} 1`,
		`pmip_events_total{event="attach",role="mr"} 1`,
		`pmip_events_total{event="lm_update",role="mr"} 1`,
		`pmip_dmm_server_packets_total{result="received",server="lm"} 1`,
		`pmip_dmm_server_packets_total{result="received",server="haa"} 0`,
		`pmip_haa_pool_allocated{mr="2001:db8:ff::21",pool="2001:db8:21::/48"} 1`,
		`pmip_mr_held_prefixes 0`,
		`pmip_punt_held_packets 0`,
		`pmip_punt_packets_total{result="received"} 11`)

	if ba := pbu(2, 0, hnp); ba.Status != mh.StatusAccepted {
		t.Fatalf("de-registration: %d", ba.Status)
	}
	want(scrape(),
		`pmip_bindings{role="mr",state="attached"} 0`,
		`pmip_events_total{event="detach",role="mr"} 1`,
		`pmip_mr_held_prefixes 1`,
		`pmip_mr_departed_nodes 1`,
		`pmip_punt_held_packets 3`,
		`pmip_punt_held_bytes 120`)

	// The mr section changes: checked, then reloaded.
	edited := strings.Replace(base, "  deployment: lma\n", "  deployment: lma\n  routing: redirect\n  hold_timeout: 1s\n", 1)
	post := func(path, body string, out any) int {
		t.Helper()
		r, err := client.Post("http://x"+path, "application/yaml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
		return r.StatusCode
	}
	const restartLine = "restart needed for: +mr.routing +mr.hold_timeout"
	var chk mgmt.ConfigCheck
	if code := post("/v1/config/check", edited, &chk); code != 200 || !chk.Valid || !chk.NeedsRestart || !slices.Contains(chk.Changes, restartLine) {
		t.Errorf("config check: %d %+v", code, chk)
	}
	write(edited)
	var res mgmt.ReloadResult
	if code := post("/v1/reload", "", &res); code != 200 || !res.NeedsRestart || !slices.Contains(res.Changes, restartLine) {
		t.Errorf("reload: %d %+v", code, res)
	}
	if !regexp.MustCompile(`level=warning msg="configuration changes that take effect only after a restart".*keys="\[mr.routing mr.hold_timeout\]"`).MatchString(logs.String()) {
		t.Errorf("no restart warning naming the keys:\n%s", logs.String())
	}
	// The running MR is untouched: mn1 registers again.
	if ba := pbu(3, 900, netip.Prefix{}); ba.Status != mh.StatusAccepted {
		t.Errorf("after the reload: PBA %d", ba.Status)
	}

	close(stop)
	stopped = true
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after stop")
	}
	if !pt.closed {
		t.Error("the punt path was not closed at stop")
	}
}

// histCount returns the _count of histogram name in a scrape (0 when
// absent).
func histCount(lines []string, name string) uint64 {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, name+"_count "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}
