package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/bench"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
)

// TestMain lets the test binary act as pmipbench (PMIPBENCH_RUN_MAIN=1),
// so that the network-namespace tests run the real command in another
// namespace with `ip netns exec`.
func TestMain(m *testing.M) {
	if os.Getenv("PMIPBENCH_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var (
	nsLMAAddr = netip.MustParseAddr("2001:db8:b::1")
	nsMAGBase = netip.MustParseAddr("2001:db8:b::100")
	nsUnauth  = netip.MustParseAddr("2001:db8:b::1ff")
)

type nsTopo struct {
	lmaNS, magNS *netnstest.NS
	l            *lma.LMA
}

// newNSTopo runs the project's LMA in its own namespace on a raw socket
// (data plane: "fake" or "seg6", set up inside that namespace), joined
// by a veth pair to the namespace the tool runs in. MAG addresses
// 2001:db8:b::100.. are authorised; 2001:db8:b::1ff is not.
func newNSTopo(t *testing.T, dp string, mags int) *nsTopo {
	tp := &nsTopo{lmaNS: netnstest.New(t, "lma"), magNS: netnstest.New(t, "mag")}
	netnstest.Veth(t, tp.lmaNS, "vl", tp.magNS, "vm")
	tp.lmaNS.IP("addr", "add", nsLMAAddr.String()+"/64", "dev", "vl", "nodad")
	tp.magNS.IP("addr", "add", "2001:db8:b::2/64", "dev", "vm", "nodad")
	var tr *transport.Raw
	var driver dataplane.Driver
	err := tp.lmaNS.Do(func() (err error) {
		if tr, err = transport.ListenRaw(nsLMAAddr, transport.RawOptions{Batch: 64}); err != nil {
			return err
		}
		switch dp {
		case "seg6":
			driver, err = dataplane.NewSeg6(nil)
		case "nop":
			driver = nopDriver{} // keeps nothing: the LMA's own memory
		default:
			driver = dataplane.NewFake()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	authorized := map[netip.Addr]lma.MAGPolicy{}
	a := nsMAGBase
	for i := 0; i < mags; i++ {
		authorized[a] = lma.MAGPolicy{}
		a = a.Next()
	}
	cfg := lma.Config{
		Address:                     nsLMAAddr,
		Pools:                       []netip.Prefix{netip.MustParsePrefix("2001:db8:1000::/36")},
		DefaultMN:                   &lma.MNPolicy{},
		MNs:                         map[string]lma.MNPolicy{"noproxy@conform": {ProxyDisabled: true}},
		MAGs:                        authorized,
		TimestampBasedApproachInUse: true,
		HeartbeatInterval:           -1,
		Transport:                   tr,
		DataPlane:                   driver,
		DataPlaneDev:                "vl",
	}
	if os.Getenv("PMIPBENCH_LMA_ERRORS") != "" {
		lg := logrus.New() // the LMA's errors on stderr (measurements)
		lg.Level = logrus.ErrorLevel
		cfg.Log = logrus.NewEntry(lg)
	}
	if tp.l, err = lma.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Run sets the data plane up: in the LMA's namespace for seg6.
	go func() { done <- tp.lmaNS.Do(func() error { return tp.l.Run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("LMA Run: %v", err)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := tp.l.Counters(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LMA not running")
		}
		time.Sleep(time.Millisecond)
	}
	return tp
}

// nopDriver is a data plane that keeps nothing (dataplane.Fake records
// every operation, so its memory grows with the PBUs processed).
type nopDriver struct{}

func (nopDriver) Name() string                     { return "nop" }
func (nopDriver) Setup(dataplane.Config) error     { return nil }
func (nopDriver) Add(dataplane.Entry) error        { return nil }
func (nopDriver) Del(dataplane.Entry) error        { return nil }
func (nopDriver) List() ([]dataplane.Entry, error) { return nil, nil }
func (nopDriver) Flush() error                     { return nil }

// tool runs pmipbench (this binary) in the MAG namespace.
func (tp *nsTopo) tool(t *testing.T, args ...string) (string, string, int) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", tp.magNS.Name, exe}, args...)...)
	cmd.Env = append(os.Environ(), "PMIPBENCH_RUN_MAIN=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestNetnsLoadAndConform(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newNSTopo(t, "fake", 4)

	out, errOut, code := tp.tool(t, "load", "--lma", nsLMAAddr.String(), "--mag-addr", nsMAGBase.String(), "--mags", "4",
		"--dev", "vm", "--mns", "200", "--duration", "1s", "--window", "64", "--json")
	if code != 0 {
		t.Fatalf("pmipbench load: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep bench.LoadReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("load --json: %v\n%s", err, out)
	}
	if rep.Answered == 0 || rep.Sent != rep.Answered+rep.Timeouts || rep.Timeouts != 0 || rep.Rejected != 0 || rep.Unmatched != 0 {
		t.Fatalf("load over raw sockets: %+v", rep)
	}
	if rep.Cleanup.Sent == 0 || rep.Cleanup.Answered != rep.Cleanup.Sent {
		t.Errorf("cleanup %+v", rep.Cleanup)
	}
	ctr, err := tp.l.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ctr.Rx["Binding Update"]; got != rep.Sent+rep.Cleanup.Sent {
		t.Errorf("LMA received %d PBUs, the tool sent %d", got, rep.Sent+rep.Cleanup.Sent)
	}
	t.Logf("load over raw sockets: %d PBUs in %.2f s, %.0f/s, p50 %v p99 %v", rep.Sent, rep.Elapsed.Seconds(), rep.Throughput, rep.Latency.P50, rep.Latency.P99)
	// The addresses the tool added are gone.
	if a := tp.magNS.IP("-6", "addr", "show", "dev", "vm"); strings.Contains(a, nsMAGBase.String()) {
		t.Errorf("MAG address left on the interface:\n%s", a)
	}

	out, errOut, code = tp.tool(t, "conform", "--lma", nsLMAAddr.String(), "--mag-addr", nsMAGBase.String()+","+nsMAGBase.Next().String(),
		"--dev", "vm", "--unauthorized-mag", nsUnauth.String(), "--proxy-disabled-mn", "noproxy@conform",
		"--reply-timeout", "500ms", "--silence", "300ms", "--brief")
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("pmipbench conform: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"PASS hi4-wait-dereg", "PASS mag-unauthorized", "PASS mn-proxy-disabled", "PASS heartbeat-response", "N/A  mn-unknown"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("conform output lacks %q:\n%s", want, out)
		}
	}
	t.Log(out[strings.LastIndex(out[:len(out)-1], "\n")+1:])
}

// TestMeasureThroughput is the throughput measurement of the benchmark
// document, over real raw sockets between namespaces. It runs only with
// PMIPBENCH_MEASURE=fake, seg6 or nop (no data plane); PMIPBENCH_ARGS adds pmipbench load
// flags, PMIPBENCH_MAGS sets the number of MAGs (default 8) and
// PMIPBENCH_CPUPROFILE writes a CPU profile of this process (the LMA).
func TestMeasureThroughput(t *testing.T) {
	dp := os.Getenv("PMIPBENCH_MEASURE")
	if dp == "" {
		t.Skip("set PMIPBENCH_MEASURE=fake or seg6")
	}
	mags := 8
	if s := os.Getenv("PMIPBENCH_MAGS"); s != "" {
		mags, _ = strconv.Atoi(s)
	}
	tp := newNSTopo(t, dp, mags)
	if f := os.Getenv("PMIPBENCH_CPUPROFILE"); f != "" {
		pf, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(pf)
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	args := []string{"load", "--lma", nsLMAAddr.String(), "--mag-addr", nsMAGBase.String(), "--mags", fmt.Sprint(mags), "--dev", "vm"}
	if extra := os.Getenv("PMIPBENCH_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	} else {
		args = append(args, "--mns", "100000", "--duration", "10s", "--window", "512")
	}
	// The LMA's side (this process): heap sampled during the run, its
	// counters afterwards (it must still answer).
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0) // this process: the LMA (the tool is a child)
	stop := make(chan struct{})
	peak := make(chan runtime.MemStats, 1)
	var series []string // heap in use each second
	go func() {
		var m, max runtime.MemStats
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > max.HeapInuse {
					max = m
				}
				if i%10 == 0 {
					series = append(series, fmt.Sprintf("%.0f", float64(m.HeapInuse)/(1<<20)))
				}
			}
		}
	}()
	out, errOut, code := tp.tool(t, args...)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stop)
	max := <-peak
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	fmt.Printf("pmipbench %s\n%s", strings.Join(args, " "), out)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctr, err := tp.l.Counters(ctx)
	if err != nil {
		t.Fatalf("LMA not answering after the run: %v", err)
	}
	bs, err := tp.l.Bindings(ctx)
	if err != nil {
		t.Fatalf("LMA not answering after the run: %v", err)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	rx := ctr.Rx["Binding Update"]
	fmt.Printf("LMA: still answering, %d bindings; PBUs received %d, PBAs sent %d; dropped %v; heap in use %.1f MiB before, at most %.1f MiB during the run (Go Sys %.1f MiB); CPU %.2f s (%.1f µs per PBU received)\n",
		len(bs), rx, ctr.Tx["Binding Acknowledgement"], ctr.Dropped,
		float64(before.HeapInuse)/(1<<20), float64(max.HeapInuse)/(1<<20), float64(max.Sys)/(1<<20),
		cpu.Seconds(), float64(cpu.Microseconds())/float64(rx+1))
	fmt.Printf("LMA heap in use (MiB) each second: %s\n", strings.Join(series, " "))
}
