package mag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
)

// firstFrame is what a sniffer reports: the source of the first frame
// that a node other than the MAG sent on the access link.
type firstFrame struct {
	sn      *sniffer
	ifindex int
	mac     net.HardwareAddr
	addr    netip.Addr // IPv6 source, when the frame is IPv6
}

// sniffer is an AF_PACKET socket bound to one access interface that
// reads frames until the first one from the mobile node, reports it, and
// closes. A moved-in MN usually sends nothing the MAG's sockets would
// see on purpose (no RS on a moved link, its first NS often lost while
// the link moved); any frame it sends, MLD report, NS or data, names it.
type sniffer struct {
	f       *os.File
	ifindex int
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openSniffer opens a packet socket in namespace ns bound to ifindex.
// The socket is made on a throw-away locked thread moved to ns; a thread
// that cannot be moved back dies with its goroutine.
func openSniffer(ns netns.NsHandle, ifindex int) (*sniffer, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		// Protocol 0: nothing is queued before bind names the interface.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("mag: packet socket: %w", r.err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(r.fd, sa); err != nil {
		unix.Close(r.fd)
		return nil, fmt.Errorf("mag: packet socket bind to ifindex %d: %w", ifindex, err)
	}
	return &sniffer{f: os.NewFile(uintptr(r.fd), fmt.Sprintf("packet:%d", ifindex)), ifindex: ifindex}, nil
}

// run reads frames until one comes from another node than the MAG (not
// sent by this host, unicast source address other than own), sends it
// on out (unless done is closed), and closes the socket. It returns when
// the socket is closed.
func (s *sniffer) run(out chan<- firstFrame, done <-chan struct{}) {
	defer s.f.Close()
	rc, err := s.f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 128) // headers are enough: a longer frame is truncated
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			if errors.Is(rerr, unix.EINTR) || errors.Is(rerr, unix.ENETDOWN) {
				continue
			}
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Ifindex != s.ifindex {
			continue
		}
		if n > len(buf) {
			n = len(buf)
		}
		ff, ok := parseFirstFrame(buf[:n], ll.Pkttype)
		if !ok {
			continue
		}
		ff.sn, ff.ifindex = s, s.ifindex
		select {
		case out <- ff:
		case <-done:
		}
		return
	}
}

// parseFirstFrame takes the source MAC (and the IPv6 source address) of
// an Ethernet frame received from another node: not outgoing, from a
// unicast, non-zero address that is not the RFC 6543 router MAC.
func parseFirstFrame(b []byte, pkttype uint8) (firstFrame, bool) {
	if pkttype == unix.PACKET_OUTGOING || len(b) < 14 {
		return firstFrame{}, false
	}
	src := net.HardwareAddr(b[6:12])
	if src[0]&1 != 0 || bytes.Equal(src, ndp.RouterMAC) || bytes.Equal(src, make([]byte, 6)) {
		return firstFrame{}, false
	}
	ff := firstFrame{mac: append(net.HardwareAddr(nil), src...)}
	et, off := binary.BigEndian.Uint16(b[12:]), 14
	if et == 0x8100 && len(b) >= 18 { // one VLAN tag
		et, off = binary.BigEndian.Uint16(b[16:]), 18
	}
	if et == 0x86dd && len(b) >= off+40 && b[off]>>4 == 6 {
		a := netip.AddrFrom16([16]byte(b[off+8 : off+24]))
		if !a.IsUnspecified() {
			ff.addr = a
		}
	}
	return ff, true
}

// close stops the sniffer (idempotent; run closes the socket too).
func (s *sniffer) close() { _ = s.f.Close() }
