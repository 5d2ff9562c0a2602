package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
	"github.com/pmipdmm/pmipdmm/mh"
)

// linkCapture reads every frame of one interface of a namespace with an
// AF_PACKET socket (both directions).
type linkCapture struct {
	fd     int
	mu     sync.Mutex
	frames []linkFrame
	stop   chan struct{}
	done   chan struct{}
}

type linkFrame struct {
	ts   time.Time
	data []byte
}

func hton16(v uint16) uint16 { return v<<8 | v>>8 }

func startLinkCapture(t *testing.T, ns *netnstest.NS, ifname string) *linkCapture {
	t.Helper()
	c := &linkCapture{stop: make(chan struct{}), done: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(hton16(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: hton16(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.Timeval{Usec: 100000}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("linkCapture on %s in %s: %v", ifname, ns.Name, err)
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 65536)
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			n, _, err := unix.Recvfrom(c.fd, buf, 0)
			if err != nil {
				continue // timeout: look at stop
			}
			c.mu.Lock()
			c.frames = append(c.frames, linkFrame{time.Now(), bytes.Clone(buf[:n])})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Stop() })
	return c
}

// Stop ends the linkCapture and returns the frames.
func (c *linkCapture) Stop() []linkFrame {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
		unix.Close(c.fd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// ethIPv6 returns the next header, addresses and payload of an Ethernet
// frame carrying IPv6.
func ethIPv6(f []byte) (nh uint8, src, dst netip.Addr, payload []byte, ok bool) {
	if len(f) < 54 || binary.BigEndian.Uint16(f[12:]) != 0x86dd {
		return 0, src, dst, nil, false
	}
	ip := f[14:]
	src, _ = netip.AddrFromSlice(ip[8:24])
	dst, _ = netip.AddrFromSlice(ip[24:40])
	return ip[6], src, dst, ip[40:], true
}

// installKeys copies the example keys of configs/keys into dir with mode
// 0600 (pmipd refuses key files that others can read) and returns their
// hex text by file name.
func installKeys(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, n := range []string{"mag1-to-lma.key", "lma-to-mag1.key", "mag2-to-lma.key", "lma-to-mag2.key"} {
		b, err := os.ReadFile(filepath.Join(moduleRoot, "configs", "keys", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
		keys[n] = strings.TrimSpace(string(b))
	}
	return keys
}

// ipsecSection returns the top-level ipsec section of configs/<name>.yaml
// with its key_dir set to dir.
func ipsecSection(t *testing.T, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "configs", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sec []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		top := line != "" && line[0] != ' ' && line[0] != '#'
		switch {
		case strings.HasPrefix(line, "ipsec:"):
			in = true
		case top:
			in = false
		}
		if in {
			sec = append(sec, line)
		}
	}
	s := strings.Join(sec, "\n") + "\n"
	if len(sec) == 0 || !strings.Contains(s, "key_dir: /etc/pmipd/keys") {
		t.Fatalf("configs/%s.yaml: no ipsec section with key_dir /etc/pmipd/keys:\n%s", name, s)
	}
	return strings.Replace(s, "key_dir: /etc/pmipd/keys", "key_dir: "+dir, 1)
}

// espUAT is one record of Wireshark's ESP SA table (uat:esp_sa:
// protocol, src, dst, spi, encryption, key, authentication, key). The
// AES-GCM key string is key || salt, as in the key files.
func espUAT(src, dst netip.Addr, spi uint32, gcmKey string) string {
	return fmt.Sprintf(`"IPv6","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""`, src, dst, spi, gcmKey)
}

// counterValue returns the value of one counter of GET /v1/counters.
func counterValue(cs []counter, role, name, key string) uint64 {
	for _, c := range cs {
		if c.Role == role && c.Name == name && c.Key == key {
			return c.Value
		}
	}
	return 0
}

// TestIPsec runs the LMA and MAG1 with ESP required for their signalling
// (configs/ipsec-lma.yaml and configs/ipsec-mag.yaml appended to the e2e
// configs, the example keys in a 0600 copy; backend auto, which on a
// kernel without esp6 is the daemon's own ESP). The MN attaches and pings
// the CN through the tunnel; the linkCapture on MAG1's core link holds ESP
// and tunnelled data but no clear Mobility Header; tshark decrypts the
// ESP with the configured keys and decodes the PBU and PBA fields; a
// clear PBU sent from MAG1's address is dropped by the LMA, counted
// (management API and metrics) and never reaches the LMA role.
func TestIPsec(t *testing.T) {
	netnstest.RequireRoot(t)
	tshark := testdeps.Ensure(t, "tshark", "tshark")
	keyDir := filepath.Join(t.TempDir(), "keys")
	keys := installKeys(t, keyDir)
	anchor := `listen: ""                # disabled`
	metricsOn := `listen: "` + metricsAddr + `"` + "\n\n"
	tp := newTopo(t, topoOptions{
		"lma":  {anchor, metricsOn + ipsecSection(t, "ipsec-lma", keyDir)},
		"mag1": {anchor, metricsOn + ipsecSection(t, "ipsec-mag", keyDir)},
	})
	for _, d := range []*daemon{tp.lmaD, tp.mag1D} {
		log := d.logText()
		if !strings.Contains(log, "ipsec: signalling protection backend:") {
			t.Fatalf("%s: the IPsec backend choice is not logged:\n%s", d.name, tail(d.log, 30))
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "signalling protection backend") {
				t.Logf("%s: %s", d.name, line)
			}
		}
	}
	backend := "userspace"
	if strings.Contains(tp.lmaD.logText(), "backend=kernel") {
		backend = "kernel"
	}
	for _, d := range []*daemon{tp.lmaD, tp.mag1D} {
		out := tp.pmipctl(t, d, "status")
		if !strings.Contains(out, "IPsec:") || !strings.Contains(out, backend+" (probe: ") {
			t.Errorf("pmipctl status (%s) does not show the IPsec backend %s and why:\n%s", d.name, backend, out)
		}
	}

	capt := startLinkCapture(t, tp.mag1, "core")
	mnAddr, hnp := tp.attach(t)
	if n, out := ping(t, tp.mn, cnAddr, 3); n < 3 {
		t.Errorf("MN -> CN through the tunnel: %d/3 replies\n%s", n, out)
	}
	time.Sleep(200 * time.Millisecond)
	frames := capt.Stop()
	t.Logf("MN %v, HNP %v; %d frames on MAG1's core link", mnAddr, hnp, len(frames))

	var esp, clearMH, tunnelled int
	for _, f := range frames {
		nh, src, dst, _, ok := ethIPv6(f.data)
		if !ok {
			continue
		}
		between := (src == mag1Addr && dst == lmaAddr) || (src == lmaAddr && dst == mag1Addr)
		switch {
		case !between:
		case nh == 50:
			esp++
		case nh == 135:
			clearMH++
		case nh == 43 || nh == 41:
			tunnelled++
		}
	}
	if clearMH != 0 || esp != 2 || tunnelled < 6 {
		t.Errorf("MAG1-LMA link: %d clear MH, %d ESP, %d tunnelled packets; want 0 clear MH, 2 ESP (PBU, PBA), >= 6 tunnelled (3 pings)",
			clearMH, esp, tunnelled)
	}

	// tshark decrypts the ESP with the configured keys.
	var buf bytes.Buffer
	w, err := pcapio.NewWriter(&buf, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(f.ts, f.data); err != nil {
			t.Fatal(err)
		}
	}
	pcap := filepath.Join(tp.dir, "mag1-core.pcap")
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := []string{"ipv6.src", "esp.spi", "esp.sequence", "esp.icv_good", "mip6.mhtype",
		"mip6.bu.seqnr", "mip6.bu.a_flag", "mip6.bu.p_flag", "mip6.bu.lifetime", "mip6.mnid.identifier", "mip6.hi", "mip6.att",
		"mip6.ba.seqnr", "mip6.ba.status", "mip6.ba.p_flag", "mip6.ba.lifetime"}
	args := []string{"-n", "-r", pcap, "-Y", "esp",
		"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
		"-o", "uat:esp_sa:" + espUAT(mag1Addr, lmaAddr, 0x1011, keys["mag1-to-lma.key"]),
		"-o", "uat:esp_sa:" + espUAT(lmaAddr, mag1Addr, 0x2011, keys["lma-to-mag1.key"]),
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	t.Logf("tshark (%s):\n%s", strings.Join(fields, "|"), out)
	if len(lines) != 2 {
		t.Fatalf("tshark shows %d ESP packets, want 2 (PBU, PBA):\n%s\n%s", len(lines), out, stderr.String())
	}
	// MAG1's lifetime is 120 s: 30 in the 4-second units of the field.
	wants := []map[string]string{
		{"ipv6.src": mag1Addr.String(), "esp.spi": "0x00001011", "esp.sequence": "1", "esp.icv_good": "1", "mip6.mhtype": "5",
			"mip6.bu.seqnr": "1", "mip6.bu.a_flag": "1", "mip6.bu.p_flag": "1", "mip6.bu.lifetime": "30",
			"mip6.mnid.identifier": mnID, "mip6.hi": "1", "mip6.att": "3"},
		{"ipv6.src": lmaAddr.String(), "esp.spi": "0x00002011", "esp.sequence": "1", "esp.icv_good": "1", "mip6.mhtype": "6",
			"mip6.ba.seqnr": "1", "mip6.ba.status": "0", "mip6.ba.p_flag": "1", "mip6.ba.lifetime": "30",
			"mip6.mnid.identifier": mnID, "mip6.hi": "1", "mip6.att": "3"},
	}
	for i, line := range lines {
		vals := strings.Split(line, "|")
		got := map[string]string{}
		for j, f := range fields {
			if j < len(vals) {
				got[f] = vals[j]
			}
		}
		for k, v := range wants[i] {
			if got[k] != v {
				t.Errorf("tshark packet %d: %s = %q, want %q", i+1, k, got[k], v)
			}
		}
	}

	// Both ends counted one protected message each way.
	for _, x := range []struct {
		d  *daemon
		ns *netnstest.NS
	}{{tp.lmaD, tp.lma}, {tp.mag1D, tp.mag1}} {
		if backend != "userspace" {
			break // the kernel does ESP: the daemon's engine sees clear MH
		}
		cs := x.d.apiCounters(t)
		if in, out := counterValue(cs, "ipsec", "in_protected", ""), counterValue(cs, "ipsec", "out_protected", ""); in != 1 || out != 1 {
			t.Errorf("%s: ipsec in_protected %d, out_protected %d; want 1 and 1", x.d.name, in, out)
		}
		checkMetrics(t, x.d.name, scrape(t, x.ns, metricsAddr), []want{
			{"pmip_ipsec_packets_total", []string{"direction", "in", "result", "protected"}, 1},
			{"pmip_ipsec_packets_total", []string{"direction", "out", "result", "protected"}, 1},
		})
	}

	// A clear PBU from MAG1's address (a second raw MH socket there) is
	// dropped before the LMA role sees it, counted, and not answered.
	// With the kernel backend MAG1's kernel would protect that PBU by its
	// own XFRM policy: there is no clear PBU to inject from MAG1.
	if backend != "userspace" {
		t.Logf("backend %s: the clear PBU injection needs the userspace backend; skipped", backend)
		return
	}
	before := tp.lmaD.lmaCounters(t)
	probe := openProbe(t, tp.mag1, mag1Addr)
	bu := &mh.BindingUpdate{Sequence: 777, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100}
	bu.Options = mh.Options{mh.NewNAI("intruder@example.net"), &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()},
		&mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: mh.ATT8023},
		&mh.Timestamp{Value: mh.TimestampValue(time.Now())}}
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	probe.send(t, b)
	waitFor(t, 3*time.Second, "the LMA to count the clear PBU", func() (bool, string) {
		cs := tp.lmaD.apiCounters(t)
		return counterValue(cs, "ipsec", "in_dropped", "unprotected") == 1, fmt.Sprint(cs)
	})
	checkMetrics(t, "LMA", scrape(t, tp.lma, metricsAddr), []want{
		{"pmip_errors_total", []string{"role", "ipsec", "kind", "ipsec_in_unprotected"}, 1},
		{"pmip_ipsec_packets_total", []string{"direction", "in", "result", "protected"}, 1},
	})
	if !strings.Contains(tp.lmaD.logText(), "ipsec: inbound signalling dropped") {
		t.Errorf("LMA log does not mention the dropped clear PBU")
	}
	select {
	case raw := <-probe.rx:
		if m, err := mh.Parse(raw); err == nil {
			if ba, ok := m.(*mh.BindingAck); ok && ba.Sequence == 777 {
				t.Errorf("the LMA answered the clear PBU: status %v", ba.Status)
			}
		}
	case <-time.After(time.Second):
	}
	after := tp.lmaD.lmaCounters(t)
	if fmt.Sprint(after.Rx) != fmt.Sprint(before.Rx) || fmt.Sprint(after.PBA) != fmt.Sprint(before.PBA) {
		t.Errorf("the clear PBU reached the LMA role: rx %v -> %v, PBA %v -> %v", before.Rx, after.Rx, before.PBA, after.PBA)
	}
	if tp.lmaD.binding(t, "intruder@example.net") != nil {
		t.Errorf("the clear PBU created a binding")
	}
}
