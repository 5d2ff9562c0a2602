package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Raw is a raw IPv6 socket for protocol 135 (the Mobility Header) bound to
// one local address. On Linux the kernel computes the MH checksum (offset
// 4) on send and verifies it on receive for such a socket (net/ipv6/raw.c
// rawv6_init_sk), so Data is sent and received with the checksum as the
// kernel handles it: a message built with Checksum 0 is sent correctly.
// Reads are batched (recvmmsg through ipv6.PacketConn.ReadBatch).
//
// Receive may be called from one goroutine at a time; Send is safe for
// concurrent use.
type Raw struct {
	conn  *net.IPConn
	pc    *ipv6.PacketConn
	local netip.Addr

	rmu  sync.Mutex // Receive's batch buffers
	msgs []ipv6.Message
	bufs [][]byte

	drops atomic.Uint64 // kernel receive-queue drops (SO_RXQ_OVFL), as last reported
}

var _ Transport = (*Raw)(nil)

// RawOptions tune a Raw transport.
type RawOptions struct {
	// Batch is how many packets one Receive reads at most (default 64).
	Batch int
	// BufSize is the receive buffer per packet (default 2048 octets: an
	// MH longer than that is truncated and dropped).
	BufSize int
	// ReadBuffer is the socket's receive buffer in octets (SO_RCVBUF,
	// with SO_RCVBUFFORCE when permitted so that net.core.rmem_max does
	// not cap it): default DefaultReadBuffer; < 0 keeps the system's.
	// It absorbs bursts while the reader is not scheduled; what does not
	// fit is dropped by the kernel and counted (Drops).
	ReadBuffer int
}

// DefaultReadBuffer is the default RawOptions.ReadBuffer.
const DefaultReadBuffer = 512 << 10

// ListenRaw opens a raw IPPROTO_MH socket bound to local (with its zone
// for a link-local address). It needs CAP_NET_RAW.
func ListenRaw(local netip.Addr, o RawOptions) (*Raw, error) {
	if !local.Is6() || local.Is4In6() {
		return nil, fmt.Errorf("transport: %v is not an IPv6 address", local)
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.BufSize <= 0 {
		o.BufSize = 2048
	}
	c, err := net.ListenIP("ip6:135", &net.IPAddr{IP: local.AsSlice(), Zone: local.Zone()})
	if err != nil {
		return nil, fmt.Errorf("transport: raw MH socket on %v: %w", local, err)
	}
	pc := ipv6.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: IPV6_RECVPKTINFO on %v: %w", local, err)
	}
	if o.ReadBuffer == 0 {
		o.ReadBuffer = DefaultReadBuffer
	}
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if o.ReadBuffer > 0 {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.ReadBuffer) != nil {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, o.ReadBuffer) // capped by rmem_max
				}
			}
			// The kernel's count of packets dropped for want of room comes
			// with each received packet (best effort: Drops stays 0 without).
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
		})
	}
	r := &Raw{conn: c, pc: pc, local: local, msgs: make([]ipv6.Message, o.Batch), bufs: make([][]byte, o.Batch)}
	for i := range r.msgs {
		r.bufs[i] = make([]byte, o.BufSize)
		r.msgs[i].Buffers = [][]byte{r.bufs[i]}
		oob := ipv6.NewControlMessage(ipv6.FlagDst | ipv6.FlagInterface)
		r.msgs[i].OOB = append(oob, make([]byte, unix.CmsgSpace(4))...)
	}
	return r, nil
}

// Drops returns how many received packets the kernel dropped because the
// socket's receive queue was full (SO_RXQ_OVFL), as of the last packet
// received.
func (r *Raw) Drops() uint64 { return r.drops.Load() }

// rxqOverflow finds the SO_RXQ_OVFL count in a control message.
func rxqOverflow(oob []byte) (uint32, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		var l int
		if unix.SizeofCmsghdr == 16 {
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		off := unix.SizeofCmsghdr - 8 // level and type are the last 8 octets
		lvl := int32(binary.NativeEndian.Uint32(oob[off:]))
		typ := int32(binary.NativeEndian.Uint32(oob[off+4:]))
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, false
		}
		if lvl == unix.SOL_SOCKET && typ == unix.SO_RXQ_OVFL && l >= unix.CmsgLen(4) {
			return binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]), true
		}
		next := unix.CmsgSpace(l - unix.SizeofCmsghdr)
		if next > len(oob) {
			return 0, false
		}
		oob = oob[next:]
	}
	return 0, false
}

// LocalAddr returns the bound address.
func (r *Raw) LocalAddr() netip.Addr { return r.local }

// txBatch is the reusable state of one SendBatch (or Send) call: the
// messages, their one-element buffer lists and their destination
// addresses, so that a warmed-up call allocates nothing of its own.
type txBatch struct {
	ms    []ipv6.Message
	bufs  [][]byte // len(ms) one-element buffer lists, backing ms[i].Buffers
	addrs []net.IPAddr
	ips   [][16]byte
}

var txPool = sync.Pool{New: func() any { return new(txBatch) }}

// grow makes room for n messages.
func (t *txBatch) grow(n int) {
	if cap(t.ms) >= n {
		t.ms, t.bufs, t.addrs, t.ips = t.ms[:n], t.bufs[:n], t.addrs[:n], t.ips[:n]
		return
	}
	t.ms = make([]ipv6.Message, n)
	t.bufs = make([][]byte, n)
	t.addrs = make([]net.IPAddr, n)
	t.ips = make([][16]byte, n)
}

// set fills message i with data to dst.
func (t *txBatch) set(i int, dst netip.Addr, data []byte) {
	a := &t.addrs[i]
	if dst.Is6() {
		t.ips[i] = dst.As16()
		a.IP = t.ips[i][:]
	} else {
		a.IP = dst.AsSlice()
	}
	a.Zone = dst.Zone()
	t.bufs[i] = data
	m := &t.ms[i]
	m.Buffers = t.bufs[i : i+1 : i+1]
	m.OOB = nil
	m.Addr = a
}

// release drops the references to the caller's data and pools t.
func (t *txBatch) release() {
	clear(t.bufs)
	for i := range t.ms {
		t.ms[i].Buffers = nil
	}
	txPool.Put(t)
}

// Send sends mh to dst from the bound address.
func (r *Raw) Send(dst netip.Addr, mh []byte) error {
	t := txPool.Get().(*txBatch)
	t.grow(1)
	t.set(0, dst, mh)
	n, err := r.pc.WriteBatch(t.ms[:1], 0)
	t.release()
	if errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	if err == nil && n != 1 {
		err = errors.New("transport: message not sent")
	}
	return err
}

// SendBatch sends several Mobility Headers with one sendmmsg (more when
// the kernel takes part of the batch); Src and IfIndex of the packets are
// ignored. It returns how many were sent: on an error, ps[n] is the
// packet that failed and the ones after it were not tried. Safe for
// concurrent use; a warmed-up call does not allocate its messages or
// addresses (they are pooled).
func (r *Raw) SendBatch(ps []Packet) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	t := txPool.Get().(*txBatch)
	t.grow(len(ps))
	for i := range ps {
		t.set(i, ps[i].Dst, ps[i].Data)
	}
	sent := 0
	var err error
	for sent < len(ps) {
		var n int
		n, err = r.pc.WriteBatch(t.ms[sent:], 0)
		sent += n
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			break
		}
	}
	t.release()
	return sent, err
}

// Receive reads up to len(ps) packets with one recvmmsg.
func (r *Raw) Receive(ps []Packet) (int, error) {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	k := min(len(ps), len(r.msgs))
	if k == 0 {
		return 0, nil
	}
	for i := 0; i < k; i++ {
		r.msgs[i].Buffers[0] = r.bufs[i]
		r.msgs[i].OOB = r.msgs[i].OOB[:cap(r.msgs[i].OOB)]
	}
	n, err := r.pc.ReadBatch(r.msgs[:k], 0)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, err
	}
	out := 0
	for i := 0; i < n; i++ {
		m := &r.msgs[i]
		buf := ps[out].Data
		p := Packet{Dst: r.local}
		if a, ok := m.Addr.(*net.IPAddr); ok {
			if ad, ok := netip.AddrFromSlice(a.IP); ok {
				p.Src = ad.WithZone(a.Zone)
			}
		}
		var cm ipv6.ControlMessage
		if m.NN > 0 {
			if d, ok := rxqOverflow(m.OOB[:m.NN]); ok && uint64(d) > r.drops.Load() {
				r.drops.Store(uint64(d)) // only this goroutine stores (rmu)
			}
		}
		if m.NN > 0 && cm.Parse(m.OOB[:m.NN]) == nil {
			if d, ok := netip.AddrFromSlice(cm.Dst); ok && cm.Dst != nil {
				p.Dst = d
			}
			p.IfIndex = cm.IfIndex
		}
		if m.N >= len(r.bufs[i]) {
			continue // truncated: drop
		}
		p.Data = append(buf[:0], r.bufs[i][:m.N]...)
		ps[out] = p
		out++
	}
	return out, nil
}

// Close closes the socket; a blocked Receive returns ErrClosed.
func (r *Raw) Close() error { return r.conn.Close() }
