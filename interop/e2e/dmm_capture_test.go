package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/mh"
)

// pkt is one captured IPv6 packet (AF_PACKET, SOCK_DGRAM: no link header),
// decoded: the outer addresses, and for IPv6-in-IPv6 (the MR tunnels) the
// inner ones; a Mobility Header decoded with the project's codec; the UDP
// destination port.
type pkt struct {
	T        time.Time
	If       string
	Out      bool // sent by this namespace (PACKET_OUTGOING)
	Src, Dst netip.Addr
	Tunnel   bool // IPv6-in-IPv6: Src/Dst are the outer header
	ISrc     netip.Addr
	IDst     netip.Addr // inner addresses (= Src/Dst when not tunnelled)
	MH       mh.Message
	UDPDst   uint16
	ICMPType uint8
	// Seq: the sequence number of a pmipdemo stream data packet (HasSeq);
	// Fin: one of the stream's closing packets.
	Seq         uint64
	HasSeq, Fin bool
}

func (p pkt) String() string {
	s := fmt.Sprintf("%s %s %s->%s", p.T.Format("15:04:05.000000"), p.If, nameOf(p.Src), nameOf(p.Dst))
	if p.Tunnel {
		s += fmt.Sprintf(" [tunnel %s->%s]", p.ISrc, p.IDst)
	}
	if p.MH != nil {
		s += " " + mhName(p.MH)
	}
	if p.UDPDst != 0 {
		s += fmt.Sprintf(" udp/%d", p.UDPDst)
	}
	if p.HasSeq {
		s += fmt.Sprintf(" seq %d", p.Seq)
	}
	return s
}

func mhName(m mh.Message) string {
	if n, ok := m.(interface{ Name() string }); ok {
		return n.Name()
	}
	return m.MHType().String()
}

// capture records every IPv6 packet of a namespace's interfaces.
type capture struct {
	name string
	fd   int
	mu   sync.Mutex
	pkts []pkt
	done chan struct{}
}

// startCapture opens an AF_PACKET socket in ns (all interfaces) and
// records until the test ends or stop.
func startCapture(t testing.TB, ns *netnstest.NS, name string) *capture {
	t.Helper()
	c := &capture{name: name, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(c.done)
		// This thread stays in the namespace and dies with the goroutine.
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns.Name)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		if err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			ready <- err
			return
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		// Kernel receive timestamps: the reader may run late on a loaded
		// machine, and the handover figures are milliseconds.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		c.fd = fd
		ready <- nil
		names := map[int]string{}
		buf := make([]byte, 65536)
		oob := make([]byte, 128)
		for {
			n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
			now := time.Now()
			if err == nil {
				now = kernelTime(oob[:oobn], now)
			}
			if err != nil {
				if err == unix.EAGAIN || err == unix.EINTR {
					continue
				}
				return // closed
			}
			ll, ok := from.(*unix.SockaddrLinklayer)
			if !ok {
				continue
			}
			ifn, ok := names[ll.Ifindex]
			if !ok {
				if ifc, err := net.InterfaceByIndex(ll.Ifindex); err == nil {
					ifn = ifc.Name
				} else {
					ifn = fmt.Sprint(ll.Ifindex)
				}
				names[ll.Ifindex] = ifn
			}
			p, ok := decodeIPv6(buf[:n])
			if !ok {
				continue
			}
			p.T, p.If, p.Out = now, ifn, ll.Pkttype == unix.PACKET_OUTGOING
			c.mu.Lock()
			c.pkts = append(c.pkts, p)
			c.mu.Unlock()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("capture in %s: %v", name, err)
	}
	t.Cleanup(c.stop)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// logSteps returns the daemons' log lines (name -> log file) written
// within span after t0 that contain one of the words, as "+ms name msg
// fields", in time order.
func logSteps(t0 time.Time, span time.Duration, logs map[string]string, words ...string) []string {
	type step struct {
		at   time.Time
		line string
	}
	var out []step
	for name, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := logTimeRE.FindStringSubmatch(line)
			if m == nil || !slices.ContainsFunc(words, func(w string) bool { return strings.Contains(line, w) }) {
				continue
			}
			tod, err := time.ParseInLocation("15:04:05.000000", m[1], time.Local)
			if err != nil {
				continue
			}
			y, mo, d := t0.Date()
			at := time.Date(y, mo, d, tod.Hour(), tod.Minute(), tod.Second(), tod.Nanosecond(), time.Local)
			if at.Before(t0.Add(-5*time.Millisecond)) || at.After(t0.Add(span)) {
				continue
			}
			rest := strings.TrimSpace(line[len(m[0]):])
			for _, drop := range []string{" node=" + name, " component=mr", " mr=\"", " punt=pmippunt0"} {
				if i := strings.Index(rest, drop); i >= 0 && drop != " mr=\"" {
					rest = rest[:i] + rest[i+len(drop):]
				}
			}
			out = append(out, step{at, fmt.Sprintf("%+7.1f ms %-4s %s", float64(at.Sub(t0).Microseconds())/1000, name, rest)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	lines := make([]string, len(out))
	for i, s := range out {
		lines[i] = s.line
	}
	return lines
}

var logTimeRE = regexp.MustCompile(`^time="([0-9:.]+)"`)

// kernelTime returns the SO_TIMESTAMPNS receive time in oob, else def.
func kernelTime(oob []byte, def time.Time) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return def
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec)
		}
	}
	return def
}

func (c *capture) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	unix.Close(c.fd)
	<-c.done
}

// since returns the packets captured at or after t0.
func (c *capture) since(t0 time.Time) []pkt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []pkt
	for _, p := range c.pkts {
		if !p.T.Before(t0) {
			out = append(out, p)
		}
	}
	return out
}

// decodeIPv6 decodes an IPv6 packet, through one IPv6-in-IPv6 level.
func decodeIPv6(b []byte) (pkt, bool) {
	var p pkt
	if len(b) < 40 || b[0]>>4 != 6 {
		return p, false
	}
	p.Src, _ = netip.AddrFromSlice(b[8:24])
	p.Dst, _ = netip.AddrFromSlice(b[24:40])
	p.ISrc, p.IDst = p.Src, p.Dst
	nh, rest := skipExt(b[6], b[40:])
	if nh == 41 && len(rest) >= 40 {
		p.Tunnel = true
		p.ISrc, _ = netip.AddrFromSlice(rest[8:24])
		p.IDst, _ = netip.AddrFromSlice(rest[24:40])
		nh, rest = skipExt(rest[6], rest[40:])
	}
	switch nh {
	case 135:
		if m, err := mh.Parse(rest); err == nil {
			p.MH = m
		}
	case 17:
		if len(rest) >= 8 {
			p.UDPDst = binary.BigEndian.Uint16(rest[2:4])
		}
		// A pmipdemo stream packet: magic "PMDS", sequence number.
		// Kind (byte 20): 0 data, 1 FIN (its sequence field is a count).
		if len(rest) >= 8+21 && binary.BigEndian.Uint32(rest[8:12]) == 0x504d4453 {
			p.Seq, p.HasSeq, p.Fin = binary.BigEndian.Uint64(rest[12:20]), rest[28] == 0, rest[28] == 1
		}
	case 58:
		if len(rest) >= 1 {
			p.ICMPType = rest[0]
		}
	}
	return p, true
}

func skipExt(nh byte, b []byte) (byte, []byte) {
	for nh == 0 || nh == 43 || nh == 60 || nh == 44 {
		if len(b) < 8 {
			return 255, nil
		}
		l := 8 + int(b[1])*8
		if nh == 44 {
			l = 8
		}
		if len(b) < l {
			return 255, nil
		}
		nh, b = b[0], b[l:]
	}
	return nh, b
}

// signalling returns the Mobility Header messages seen entering the
// backbone on its p-* ports (each message between two nodes once), in
// order, as "SRC->DST Name" lines.
func signalling(ps []pkt) ([]pkt, []string) {
	var out []pkt
	var lines []string
	for _, p := range ps {
		if p.MH == nil || p.Out || !strings.HasPrefix(p.If, "p-") {
			continue
		}
		out = append(out, p)
		lines = append(lines, fmt.Sprintf("%s->%s %s", nameOf(p.Src), nameOf(p.Dst), mhName(p.MH)))
	}
	return out, lines
}

// streamIn counts the packets of the UDP stream to port that entered the
// namespace on a real link (not sent by it, not the punt device's
// re-injection): one per crossing of the router.
func streamIn(ps []pkt, port uint16) (n, tunnelled int) {
	for _, p := range ps {
		if p.UDPDst != port || p.Out || strings.HasPrefix(p.If, "pmippunt") {
			continue
		}
		n++
		if p.Tunnel {
			tunnelled++
		}
	}
	return
}

// streamOut counts the stream's packets sent into a tunnel to remote.
func streamOut(ps []pkt, port uint16, remote netip.Addr) int {
	n := 0
	for _, p := range ps {
		if p.UDPDst == port && p.Out && p.Tunnel && p.Dst == remote {
			n++
		}
	}
	return n
}

// indexOf returns the index of the first line containing s at or after
// from, or -1.
func indexOf(lines []string, from int, s string) int {
	for i := max(from, 0); i < len(lines); i++ {
		if strings.Contains(lines[i], s) {
			return i
		}
	}
	return -1
}

// inOrder checks that each of want appears in lines after the previous one.
func inOrder(t testing.TB, what string, lines []string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := indexOf(lines, at, w)
		if i < 0 {
			t.Errorf("%s: %q not found after line %d; signalling:\n  %s", what, w, at, strings.Join(lines, "\n  "))
			return
		}
		at = i + 1
	}
}
