package transport

import (
	"fmt"
	"net/netip"
	"sync"
)

// Network is an in-memory IPv6 network joining several Mem transports by
// address. Delivery is immediate and in order; a packet to an address
// nobody holds is dropped (and counted). It is safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	nodes   map[netip.Addr]*Mem
	taps    []func(Packet)
	dropped int
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{nodes: map[netip.Addr]*Mem{}} }

// Attach creates the transport of a node with address addr.
func (n *Network) Attach(addr netip.Addr) (*Mem, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !addr.Is6() {
		return nil, fmt.Errorf("transport: %v is not an IPv6 address", addr)
	}
	if _, ok := n.nodes[addr]; ok {
		return nil, fmt.Errorf("transport: %v already attached", addr)
	}
	m := &Mem{net: n, addr: addr, ready: make(chan struct{}, 1), done: make(chan struct{})}
	n.nodes[addr] = m
	return m, nil
}

// Tap calls f with a copy of every packet sent on the network (delivered
// or not), in the sender's goroutine, before delivery.
func (n *Network) Tap(f func(Packet)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.taps = append(n.taps, f)
}

// Dropped returns how many packets were sent to an address nobody holds.
func (n *Network) Dropped() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

func (n *Network) deliver(p Packet) {
	n.mu.Lock()
	taps := n.taps
	dst := n.nodes[p.Dst]
	if dst == nil {
		n.dropped++
	}
	n.mu.Unlock()
	for _, f := range taps {
		c := p
		c.Data = append([]byte(nil), p.Data...)
		f(c)
	}
	if dst != nil {
		dst.enqueue(p)
	}
}

// Mem is a node's transport on a Network.
type Mem struct {
	net   *Network
	addr  netip.Addr
	mu    sync.Mutex
	q     []Packet
	ready chan struct{}
	done  chan struct{}
	once  sync.Once
}

var _ Transport = (*Mem)(nil)

// LocalAddr returns the node's address.
func (m *Mem) LocalAddr() netip.Addr { return m.addr }

// Send delivers a copy of mh to the node holding dst.
func (m *Mem) Send(dst netip.Addr, mh []byte) error {
	return m.SendFrom(m.addr, dst, mh)
}

// SendFrom is Send with another source address (tests: a spoofed or
// alternate source).
func (m *Mem) SendFrom(src, dst netip.Addr, mh []byte) error {
	select {
	case <-m.done:
		return ErrClosed
	default:
	}
	m.net.deliver(Packet{Src: src, Dst: dst, Data: append([]byte(nil), mh...)})
	return nil
}

func (m *Mem) enqueue(p Packet) {
	m.mu.Lock()
	m.q = append(m.q, p)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// Receive returns the packets queued for this node, blocking until there
// is at least one.
func (m *Mem) Receive(ps []Packet) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	for {
		m.mu.Lock()
		if len(m.q) > 0 {
			n := min(len(ps), len(m.q))
			for i := 0; i < n; i++ {
				src, buf := m.q[i], ps[i].Data
				ps[i] = Packet{Src: src.Src, Dst: src.Dst, IfIndex: src.IfIndex, Data: append(buf[:0], src.Data...)}
			}
			m.q = append(m.q[:0], m.q[n:]...)
			more := len(m.q) > 0
			m.mu.Unlock()
			if more {
				select {
				case m.ready <- struct{}{}:
				default:
				}
			}
			return n, nil
		}
		m.mu.Unlock()
		select {
		case <-m.ready:
		case <-m.done:
			return 0, ErrClosed
		}
	}
}

// Pending returns how many packets wait to be received.
func (m *Mem) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.q)
}

// Close detaches the node from the network and unblocks Receive.
func (m *Mem) Close() error {
	m.once.Do(func() {
		close(m.done)
		m.net.mu.Lock()
		if m.net.nodes[m.addr] == m {
			delete(m.net.nodes, m.addr)
		}
		m.net.mu.Unlock()
	})
	return nil
}
