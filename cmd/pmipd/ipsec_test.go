package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/esptransport"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/mh"
)

// ipsecConfig writes configs/<name>.yaml into dir with the runtime paths
// moved there, the userspace backend, the key directory keys and the
// metrics on a free loopback port.
func ipsecConfig(t *testing.T, dir, name, keys string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configsDir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range [][2]string{
		{"/var/lib/pmipd/", dir + "/state-"},
		{"/run/pmipd/", dir + "/"},
		{"key_dir: /etc/pmipd/keys", "key_dir: " + keys},
		{"backend: auto", "backend: userspace"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("configs/%s.yaml: %q not found", name, r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	s = regexp.MustCompile(`(?m)^  listen: "[^"]*"`).ReplaceAllString(s, `  listen: "127.0.0.1:0"`)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyKeys copies the example keys into a 0700 directory with mode 0600.
func copyKeys(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(filepath.Join(configsDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(configsDir, "keys", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// memHooks replaces the sockets and the data plane with in-memory ones on
// netw for the test.
func memHooks(t *testing.T, netw *transport.Network) {
	oldT, oldD, oldE := openTransport, openDriver, openESP
	t.Cleanup(func() { openTransport, openDriver, openESP = oldT, oldD, oldE })
	openTransport = func(c *config.Config) (transport.Transport, error) { return netw.Attach(c.Transport.Address) }
	openDriver = func(string) (dataplane.Driver, string, error) { return dataplane.NewFake(), "test", nil }
	openESP = func(c *config.Config, eng *ipsec.Engine, o esptransport.Options) (transport.Transport, error) {
		m, err := netw.Attach(c.Transport.Address)
		if err != nil {
			return nil, err
		}
		return esptransport.NewMem(m, eng, o), nil
	}
}

// TestRunLMAWithESP runs the LMA of configs/ipsec-lma.yaml in process
// with the userspace backend on an in-memory network: MAG1's engine
// (configs/ipsec-mag.yaml) gets an ESP-protected PBA for its protected
// PBU; a clear PBU from MAG1's address is dropped before the LMA role,
// and the management API and the metrics count both.
func TestRunLMAWithESP(t *testing.T) {
	dir := t.TempDir()
	keys := copyKeys(t)
	lmaPath := ipsecConfig(t, dir, "ipsec-lma", keys)
	magPath := ipsecConfig(t, dir, "ipsec-mag", keys)
	netw := transport.NewNetwork()
	memHooks(t, netw)

	var logs syncBuf
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", lmaPath}, io.Discard, &logs, stop) }()
	defer func() {
		close(stop)
		if code := <-done; code != 0 {
			t.Errorf("exit %d\n%s", code, logs.String())
		}
	}()
	cl := mgmt.NewClient(filepath.Join(dir, "lma.sock"))
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for cl.Do(ctx, http.MethodGet, "/v1/status", nil, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("management socket never answered\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var st mgmt.Status
	if err := cl.Do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil || st.IPsec != "userspace" ||
		st.IPsecReason != "configured: the daemon does ESP on its own sockets" {
		t.Errorf("status: %+v %v", st, err)
	}
	for _, want := range []string{"backend=userspace", "ipsec: signalling protection backend: configured: the daemon does ESP on its own sockets",
		"ipsec: security policy and association databases built"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	// MAG1's side: its own engine over the in-memory network.
	magCfg, err := config.Load(magPath)
	if err != nil {
		t.Fatal(err)
	}
	magEng, err := ipsec.Build(magCfg.IPsec.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := netw.Attach(magCfg.Transport.Address)
	if err != nil {
		t.Fatal(err)
	}
	mag := esptransport.NewMem(m, magEng, esptransport.Options{})
	defer mag.Close()
	lmaAddr := magCfg.MAG.LMAAddress
	rx := make(chan []byte, 4)
	go func() {
		ps := make([]transport.Packet, 1)
		for {
			if _, err := mag.Receive(ps); err != nil {
				return
			}
			rx <- append([]byte(nil), ps[0].Data...)
		}
	}()
	pbu := func(seq uint16) []byte {
		bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 30}
		bu.Options = mh.Options{mh.NewNAI("mn1@example.net"), &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()},
			&mh.HandoffIndicator{Value: 1}, &mh.AccessTechnologyType{Value: mh.ATT8023}, mh.NewTimestamp(time.Now())}
		b, err := bu.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := mag.Send(lmaAddr, pbu(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-rx:
		ba, err := mh.ParseBindingAck(b)
		if err != nil || ba.Sequence != 1 || ba.Status != mh.StatusAccepted {
			t.Fatalf("PBA: %+v %v", ba, err)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no PBA to the protected PBU\n%s", logs.String())
	}
	if s := magEng.Counters.Snapshot(); s.InProtected != 1 || s.OutProtected != 1 {
		t.Errorf("MAG1 engine: %+v, want one protected each way", s)
	}

	// A clear PBU from MAG1's address (sent by another node of the
	// in-memory network) never reaches the role.
	rogue, err := netw.Attach(netip.MustParseAddr("2001:db8:ff::99"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rogue.SendFrom(magCfg.Transport.Address, lmaAddr, pbu(2)); err != nil {
		t.Fatal(err)
	}
	var ctr struct{ Counters []mgmt.Counter }
	get := func(role, name, key string) uint64 {
		for _, c := range ctr.Counters {
			if c.Role == role && c.Name == name && c.Key == key {
				return c.Value
			}
		}
		return 0
	}
	deadline = time.Now().Add(3 * time.Second)
	for {
		if err := cl.Do(ctx, http.MethodGet, "/v1/counters", nil, &ctr); err != nil {
			t.Fatal(err)
		}
		if get("ipsec", "in_dropped", "unprotected") == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		role, name, key string
		want            uint64
	}{
		{"ipsec", "in_dropped", "unprotected", 1}, {"ipsec", "in_protected", "", 1}, {"ipsec", "out_protected", "", 1},
		{"ipsec", "delivered", "", 1}, {"lma", "rx", "Binding Update", 1},
	} {
		if got := get(c.role, c.name, c.key); got != c.want {
			t.Errorf("counter %s/%s/%s = %d, want %d", c.role, c.name, c.key, got, c.want)
		}
	}
	select {
	case b := <-rx:
		t.Errorf("an answer to the clear PBU reached MAG1: % x", b)
	case <-time.After(200 * time.Millisecond):
	}
	if !strings.Contains(logs.String(), "ipsec: inbound signalling dropped") {
		t.Errorf("the drop is not logged")
	}
	for _, k := range []string{"16cc2e05", "16CC2E05"} { // start of mag1-to-lma.key
		if strings.Contains(logs.String(), k) {
			t.Errorf("a key appears in the log")
		}
	}

	// The metrics, on the port the log names.
	mm := regexp.MustCompile(`Prometheus metrics on /metrics.*listen="?([0-9.:]+)`).FindStringSubmatch(logs.String())
	if mm == nil {
		t.Fatalf("metrics address not logged\n%s", logs.String())
	}
	resp, err := http.Get("http://" + mm[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	found := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		found[sc.Text()] = true
	}
	for _, line := range []string{
		`pmip_errors_total{kind="ipsec_in_unprotected",role="ipsec"} 1`,
		`pmip_ipsec_packets_total{direction="in",result="protected"} 1`,
		`pmip_ipsec_packets_total{direction="out",result="protected"} 1`,
		`pmip_bindings{role="lma",state="active"} 1`,
		`pmip_messages_total{direction="sent",role="lma",status="0",type="Binding Acknowledgement"} 1`,
	} {
		if !found[line] {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// TestIPsecKeyModeRefused: a key file that others can read stops the
// start with the file named and the key never printed.
func TestIPsecKeyModeRefused(t *testing.T) {
	dir := t.TempDir()
	keys := copyKeys(t)
	if err := os.Chmod(filepath.Join(keys, "lma-to-mag1.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := ipsecConfig(t, dir, "ipsec-lma", keys)
	memHooks(t, transport.NewNetwork())
	var stderr syncBuf
	if code := run([]string{"-c", path}, io.Discard, &stderr, make(chan struct{})); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	want := "lma-to-mag1.key: refused: mode 0644 lets group or others access it"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "lma.sock")); !os.IsNotExist(err) {
		t.Errorf("management socket left after a failed start: %v", err)
	}
	// --dry-run reads the key files too.
	var out, errb syncBuf
	if code := run([]string{"-c", path, "--dry-run"}, &out, &errb, nil); code != 1 || !strings.Contains(errb.String(), want) {
		t.Errorf("--dry-run: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if err := os.Chmod(filepath.Join(keys, "lma-to-mag1.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errb = syncBuf{}, syncBuf{}
	if code := run([]string{"-c", path, "--dry-run"}, &out, &errb, nil); code != 0 || !strings.Contains(out.String(), "valid") {
		t.Errorf("--dry-run with 0600 keys: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
