package esptransport

import (
	"bytes"
	"encoding/binary"
	"errors"
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

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// capture reads every frame of one interface with an AF_PACKET socket
// opened inside a namespace (both directions).
type capture struct {
	fd     int
	mu     sync.Mutex
	frames []capFrame
	stop   chan struct{}
	done   chan struct{}
}

type capFrame struct {
	ts   time.Time
	data []byte
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, ns *netnstest.NS, ifname string) *capture {
	t.Helper()
	c := &capture{stop: make(chan struct{}), done: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
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
		t.Fatalf("capture on %s: %v", ifname, err)
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
			c.frames = append(c.frames, capFrame{time.Now(), bytes.Clone(buf[:n])})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Stop() })
	return c
}

// Stop ends the capture and returns the frames.
func (c *capture) Stop() []capFrame {
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

// ipv6Of returns the next header, addresses and payload of an Ethernet
// frame carrying IPv6.
func ipv6Of(f []byte) (nh uint8, src, dst netip.Addr, payload []byte, ok bool) {
	if len(f) < 54 || binary.BigEndian.Uint16(f[12:]) != 0x86dd {
		return 0, src, dst, nil, false
	}
	ip := f[14:]
	src, _ = netip.AddrFromSlice(ip[8:24])
	dst, _ = netip.AddrFromSlice(ip[24:40])
	return ip[6], src, dst, ip[40:], true
}

// topo is MN - MAG - LMA - CN with seg6 tunnels between MAG and LMA, the
// layout of internal/dataplane's seg6 test.
type topo struct {
	mn, mag, lma, cn *netnstest.NS
}

func newTopo(t *testing.T) *topo {
	tp := &topo{
		mn: netnstest.New(t, "mn"), mag: netnstest.New(t, "mag"),
		lma: netnstest.New(t, "lma"), cn: netnstest.New(t, "cn"),
	}
	netnstest.Veth(t, tp.mag, "acc", tp.mn, "eth0")
	netnstest.Veth(t, tp.mag, "m2l", tp.lma, "l2m")
	netnstest.Veth(t, tp.lma, "l2c", tp.cn, "c2l")
	tp.mag.IP("addr", "add", magAddr.String()+"/64", "dev", "m2l", "nodad")
	tp.lma.IP("addr", "add", lmaAddr.String()+"/64", "dev", "l2m", "nodad")
	tp.lma.IP("addr", "add", "2001:db8:c::1/64", "dev", "l2c", "nodad")
	tp.cn.IP("addr", "add", "2001:db8:c::2/64", "dev", "c2l", "nodad")
	tp.cn.IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	tp.mag.IP("addr", "add", "fe80::1/64", "dev", "acc", "nodad")
	tp.mn.IP("addr", "add", "2001:db8:100::5/64", "dev", "eth0", "nodad")
	tp.mn.IP("-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0")
	hnp := netip.MustParsePrefix("2001:db8:100::/64")
	for _, x := range []struct {
		ns      *netnstest.NS
		cfg     dataplane.Config
		entries []dataplane.Entry
	}{
		{tp.mag, dataplane.Config{Local: magAddr, Dev: "m2l"}, []dataplane.Entry{
			{Kind: dataplane.KindAccessRoute, Prefix: hnp, Dev: "acc"},
			{Kind: dataplane.KindSourceRoute, Prefix: hnp, Dev: "acc", Remote: lmaAddr},
		}},
		{tp.lma, dataplane.Config{Local: lmaAddr, Dev: "l2m"}, []dataplane.Entry{
			{Kind: dataplane.KindPrefixRoute, Prefix: hnp, Remote: magAddr},
		}},
	} {
		err := x.ns.Do(func() error {
			d, err := dataplane.NewSeg6(nil)
			if err != nil {
				return err
			}
			if err := d.Setup(x.cfg); err != nil {
				return err
			}
			for _, e := range x.entries {
				if err := d.Add(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seg6 data plane in %s: %v", x.ns.Name, err)
		}
	}
	return tp
}

// tsharkUAT is one record of Wireshark's ESP SA table (uat:esp_sa; tshark
// 4.0: protocol, src, dst, spi, encryption, key, authentication, key),
// as in package ipsec's tshark test. AES-GCM's key string is key || salt.
func tsharkUAT(src, dst netip.Addr, spi uint32, gcmKey string) string {
	return fmt.Sprintf(`"IPv6","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""`, src, dst, spi, gcmKey)
}

// TestNetnsESPRequired: an LMA-like responder and a MAG-like sender in
// two namespaces exchange PBU/PBA over the real sockets with ESP
// required, while a ping crosses the seg6 tunnel between them. The
// capture on the MAG-LMA link shows ESP and tunnelled data and no clear
// Mobility Header; tshark decrypts the ESP with the configured keys and
// decodes the same PBU/PBA fields; a clear PBU sent afterwards is dropped
// and counted by the LMA, and never answered.
func TestNetnsESPRequired(t *testing.T) {
	netnstest.RequireRoot(t)
	tshark := testdeps.Ensure(t, "tshark", "tshark")
	tp := newTopo(t)
	magEng, lmaEng := engines(t, magAddr, lmaAddr)

	capt := startCapture(t, tp.mag, "m2l")

	var magT, lmaT *Transport
	if err := tp.mag.Do(func() (err error) { magT, err = Listen(magAddr, magEng, Options{}); return }); err != nil {
		t.Fatal(err)
	}
	defer magT.Close()
	if err := tp.lma.Do(func() (err error) { lmaT, err = Listen(lmaAddr, lmaEng, Options{}); return }); err != nil {
		t.Fatal(err)
	}
	defer lmaT.Close()

	// The LMA-like responder answers every PBU it is given with a PBA.
	var answered sync.Map
	respDone := make(chan struct{})
	go func() {
		defer close(respDone)
		ps := make([]transport.Packet, 8)
		for {
			n, err := lmaT.Receive(ps)
			if err != nil {
				return
			}
			for _, p := range ps[:n] {
				bu, err := mh.ParseBindingUpdate(p.Data)
				if err != nil {
					continue
				}
				answered.Store(bu.Sequence, p.Src)
				b, _ := (&mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: bu.Sequence, Lifetime: bu.Lifetime}).Marshal()
				if err := lmaT.Send(p.Src, b); err != nil {
					t.Errorf("LMA send PBA: %v", err)
				}
			}
		}
	}()

	// Data through the tunnel during the signalling.
	type pingRes struct {
		out string
		err error
	}
	pingDone := make(chan pingRes, 1)
	go func() {
		out, err := tp.mn.Exec("ping", "-c", "10", "-i", "0.2", "-W", "2", "2001:db8:c::2")
		pingDone <- pingRes{out, err}
	}()

	const n = 5
	for seq := uint16(1); seq <= n; seq++ {
		if err := magT.Send(lmaAddr, pbu(t, seq)); err != nil {
			t.Fatal(err)
		}
		r := recv(t, magT)
		ba, err := mh.ParseBindingAck(r.Data)
		if err != nil || ba.Sequence != seq || ba.Status != mh.StatusAccepted || ba.Lifetime != 150 || r.Src != lmaAddr {
			t.Fatalf("PBA %d: %+v from %v: %v", seq, ba, r.Src, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	pr := <-pingDone
	if pr.err != nil || !strings.Contains(pr.out, " 0% packet loss") {
		t.Errorf("ping through the tunnel during the signalling: %v\n%s", pr.err, pr.out)
	}
	time.Sleep(100 * time.Millisecond)
	frames := capt.Stop()

	// On the wire.
	var esp, clearMH, tunnelled int
	var first, last time.Time
	for _, f := range frames {
		nh, src, dst, payload, ok := ipv6Of(f.data)
		if !ok {
			continue
		}
		switch nh {
		case 50:
			esp++
			if first.IsZero() {
				first = f.ts
			}
			last = f.ts
			if bytes.Contains(payload, []byte("mn1@example.net")) {
				t.Errorf("ESP %v -> %v shows the MN-ID", src, dst)
			}
		case 135:
			clearMH++
			t.Errorf("clear Mobility Header on the wire: %v -> %v type %d", src, dst, payload[2])
		case 41:
			tunnelled++
		}
	}
	if esp != 2*n {
		t.Errorf("%d ESP packets on the wire, want %d", esp, 2*n)
	}
	if tunnelled < 20 { // 10 echo requests and 10 replies, IPv6-in-IPv6
		t.Errorf("%d tunnelled packets on the wire, want at least 20", tunnelled)
	}
	t.Logf("captured %d frames: %d ESP (%v), %d IPv6-in-IPv6, %d clear MH", len(frames), esp, last.Sub(first).Round(time.Millisecond), tunnelled, clearMH)

	// tshark decrypts with the configured keys.
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
	pcap := filepath.Join(t.TempDir(), "m2l.pcap")
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := []string{"ipv6.src", "esp.spi", "esp.sequence", "esp.icv_good", "mip6.mhtype",
		"mip6.bu.seqnr", "mip6.bu.a_flag", "mip6.bu.p_flag", "mip6.bu.lifetime", "mip6.mnid.identifier", "mip6.hi", "mip6.att",
		"mip6.ba.seqnr", "mip6.ba.status", "mip6.ba.p_flag", "mip6.ba.lifetime"}
	args := []string{"-n", "-r", pcap, "-Y", "esp",
		"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
		"-o", "uat:esp_sa:" + tsharkUAT(magAddr, lmaAddr, 0x1001, keyBU),
		"-o", "uat:esp_sa:" + tsharkUAT(lmaAddr, magAddr, 0x2001, keyBA),
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
	if len(lines) != 2*n {
		t.Fatalf("tshark shows %d ESP packets, want %d:\n%s\n%s", len(lines), 2*n, out, stderr.String())
	}
	t.Logf("tshark (%s):\n%s\n%s", strings.Join(fields, "|"), lines[0], lines[1])
	for i, line := range lines {
		vals := strings.Split(line, "|")
		got := map[string]string{}
		for j, f := range fields {
			if j < len(vals) {
				got[f] = vals[j]
			}
		}
		seq := fmt.Sprint(i/2 + 1)
		want := map[string]string{"esp.sequence": seq, "esp.icv_good": "1"}
		if i%2 == 0 {
			for k, v := range map[string]string{"ipv6.src": magAddr.String(), "esp.spi": "0x00001001", "mip6.mhtype": "5",
				"mip6.bu.seqnr": seq, "mip6.bu.a_flag": "1", "mip6.bu.p_flag": "1", "mip6.bu.lifetime": "150",
				"mip6.mnid.identifier": "mn1@example.net", "mip6.hi": "1", "mip6.att": "4"} {
				want[k] = v
			}
		} else {
			for k, v := range map[string]string{"ipv6.src": lmaAddr.String(), "esp.spi": "0x00002001", "mip6.mhtype": "6",
				"mip6.ba.seqnr": seq, "mip6.ba.status": "0", "mip6.ba.p_flag": "1", "mip6.ba.lifetime": "150"} {
				want[k] = v
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("tshark packet %d: %s = %q, want %q", i+1, k, got[k], v)
			}
		}
	}

	// A clear PBU from the MAG's address (a second, plain MH socket) is
	// dropped by the LMA and never answered.
	var plain *transport.Raw
	if err := tp.mag.Do(func() (err error) { plain, err = transport.ListenRaw(magAddr, transport.RawOptions{}); return }); err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Send(lmaAddr, pbu(t, 666)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for lmaT.Stats().InDropped["unprotected"] != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := answered.Load(uint16(666)); ok {
		t.Error("the LMA answered a clear PBU")
	}
	s := lmaT.Stats()
	if s.InDropped["unprotected"] != 1 || s.InProtected != n || s.OutProtected != n || s.Delivered != n {
		t.Errorf("LMA stats %+v", s)
	}
	if err := lmaT.Close(); err != nil && !errors.Is(err, transport.ErrClosed) {
		t.Error(err)
	}
	<-respDone
}
