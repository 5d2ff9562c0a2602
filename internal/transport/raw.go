package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv6"
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
}

var _ Transport = (*Raw)(nil)

// RawOptions tune a Raw transport.
type RawOptions struct {
	// Batch is how many packets one Receive reads at most (default 64).
	Batch int
	// BufSize is the receive buffer per packet (default 2048 octets: an
	// MH longer than that is truncated and dropped).
	BufSize int
}

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
	r := &Raw{conn: c, pc: pc, local: local, msgs: make([]ipv6.Message, o.Batch), bufs: make([][]byte, o.Batch)}
	for i := range r.msgs {
		r.bufs[i] = make([]byte, o.BufSize)
		r.msgs[i].Buffers = [][]byte{r.bufs[i]}
		r.msgs[i].OOB = ipv6.NewControlMessage(ipv6.FlagDst | ipv6.FlagInterface)
	}
	return r, nil
}

// LocalAddr returns the bound address.
func (r *Raw) LocalAddr() netip.Addr { return r.local }

// Send sends mh to dst from the bound address.
func (r *Raw) Send(dst netip.Addr, mh []byte) error {
	_, err := r.pc.WriteTo(mh, nil, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	if errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	return err
}

// SendBatch sends several Mobility Headers with one sendmmsg; Src and
// IfIndex of the packets are ignored. It returns how many were sent.
func (r *Raw) SendBatch(ps []Packet) (int, error) {
	ms := make([]ipv6.Message, len(ps))
	for i, p := range ps {
		ms[i].Buffers = [][]byte{p.Data}
		ms[i].Addr = &net.IPAddr{IP: p.Dst.AsSlice(), Zone: p.Dst.Zone()}
	}
	sent := 0
	for sent < len(ms) {
		n, err := r.pc.WriteBatch(ms[sent:], 0)
		sent += n
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			return sent, err
		}
	}
	return sent, nil
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
