// Package esptransport protects Mobility Header signalling with the
// daemon's own ESP (ipsec.Engine): a transport.Transport wrapper for
// kernels that have no ESP (the userspace backend of package ipsec).
//
// Send runs Engine.Protect: a Mobility Header that a policy bypasses goes
// out as it is on the ip6:135 socket; one that a policy protects goes out
// sealed on an ip6:50 socket bound to the same local address. Receive
// reads both sockets: an ESP packet is opened and checked by
// Engine.Enforce, a clear Mobility Header is checked by Enforce too (and
// dropped where a policy requires protection). Only what Enforce accepts
// reaches the caller; every drop is counted by kind in the engine's
// Counters.
//
// Listen opens the real sockets; NewMem wraps an in-memory
// transport.Mem (ESP is carried on it behind MemESPMarker) so that roles
// can be tested with ESP without privileges.
package esptransport

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
)

// Options tune a Transport.
type Options struct {
	// Queue is how many accepted packets wait for Receive (default 256);
	// the socket readers block when it is full.
	Queue int
	// OnDrop, when set, is called (from a reader goroutine) with every
	// packet Enforce refused and the reason; the engine has already
	// counted it. For logging.
	OnDrop func(p transport.Packet, nextHeader uint8, err error)
	// Raw tunes the sockets of Listen.
	Raw transport.RawOptions
}

// source is one lower transport and how to tell ESP from MH on it.
type source struct {
	tr transport.Transport
	// classify returns the IPv6 next header of p (50 or 135), stripping
	// any marker from p.Data; ok is false for a packet to ignore.
	classify func(p *transport.Packet) (nextHeader uint8, ok bool)
}

// Transport applies an ipsec.Engine to a node's signalling. It is a
// transport.Transport; Send is safe for concurrent use, Receive may be
// called from one goroutine at a time.
type Transport struct {
	eng     *ipsec.Engine
	local   netip.Addr
	sendMH  func(dst netip.Addr, b []byte) error
	sendESP func(dst netip.Addr, b []byte) error
	lowers  []transport.Transport
	onDrop  func(transport.Packet, uint8, error)

	q    chan transport.Packet
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	delivered atomic.Uint64
	ignored   atomic.Uint64
	rxErrors  atomic.Uint64
	lastErr   atomic.Value // error
}

var _ transport.Transport = (*Transport)(nil)

func newTransport(eng *ipsec.Engine, local netip.Addr, o Options, sendMH, sendESP func(netip.Addr, []byte) error, srcs []source) *Transport {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	t := &Transport{
		eng: eng, local: local, sendMH: sendMH, sendESP: sendESP, onDrop: o.OnDrop,
		q: make(chan transport.Packet, o.Queue), done: make(chan struct{}),
	}
	for _, s := range srcs {
		t.lowers = append(t.lowers, s.tr)
	}
	for _, s := range srcs {
		t.wg.Add(1)
		go t.read(s)
	}
	return t
}

// Engine returns the engine (its SPD, SAD and Counters).
func (t *Transport) Engine() *ipsec.Engine { return t.eng }

// LocalAddr returns the address the transport sends from.
func (t *Transport) LocalAddr() netip.Addr { return t.local }

// Send applies the outbound SPD to mh and sends the result: the
// Mobility Header itself (bypass) or its ESP packet (protect). A discard
// policy or a protect policy without a usable SA gives the engine's error
// (ipsec.ErrDiscard, ipsec.ErrPolicy, ipsec.ErrExpired) and sends nothing.
func (t *Transport) Send(dst netip.Addr, mh []byte) error {
	select {
	case <-t.done:
		return transport.ErrClosed
	default:
	}
	nh, out, err := t.eng.Protect(t.local, dst, mh)
	if err != nil {
		return err
	}
	if nh == ipsec.ProtoESP {
		return t.sendESP(dst, out)
	}
	return t.sendMH(dst, out)
}

// Receive blocks until at least one accepted Mobility Header is there,
// then returns up to len(ps) of them (clear, with the addresses of the
// outer IPv6 header). After Close it returns transport.ErrClosed.
func (t *Transport) Receive(ps []transport.Packet) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	var p transport.Packet
	select {
	case p = <-t.q:
	case <-t.done:
		return 0, transport.ErrClosed
	}
	fill(&ps[0], p)
	n := 1
	for n < len(ps) {
		select {
		case p = <-t.q:
			fill(&ps[n], p)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

func fill(dst *transport.Packet, p transport.Packet) {
	buf := dst.Data
	*dst = transport.Packet{Src: p.Src, Dst: p.Dst, IfIndex: p.IfIndex, Data: append(buf[:0], p.Data...)}
}

// Close closes the lower sockets and unblocks Receive.
func (t *Transport) Close() error {
	var errs []error
	t.once.Do(func() {
		close(t.done)
		for _, l := range t.lowers {
			if err := l.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		t.wg.Wait()
	})
	return errors.Join(errs...)
}

// read runs Enforce on everything a lower transport receives.
func (t *Transport) read(s source) {
	defer t.wg.Done()
	ps := make([]transport.Packet, 16)
	for i := range ps {
		ps[i].Data = make([]byte, 0, 2048)
	}
	for {
		n, err := s.tr.Receive(ps)
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			if errors.Is(err, transport.ErrClosed) {
				return
			}
			t.rxErrors.Add(1)
			t.lastErr.Store(err)
			time.Sleep(10 * time.Millisecond) // no busy loop on a failing socket
			continue
		}
		for i := 0; i < n; i++ {
			p := ps[i]
			nh, ok := s.classify(&p)
			if !ok {
				t.ignored.Add(1)
				continue
			}
			msg, _, err := t.eng.Enforce(p.Src, p.Dst, nh, p.Data)
			if err != nil {
				if t.onDrop != nil {
					t.onDrop(p, nh, err)
				}
				continue
			}
			out := transport.Packet{Src: p.Src, Dst: p.Dst, IfIndex: p.IfIndex, Data: append([]byte(nil), msg...)}
			// Count before the hand-off: Receive may return the packet,
			// and its caller read Stats, before this goroutine runs again.
			t.delivered.Add(1)
			select {
			case t.q <- out:
			case <-t.done:
				t.delivered.Add(^uint64(0)) // not queued after all
				return
			}
		}
	}
}

// Stats are the transport's counters: the engine's (drops by kind) and
// its own.
type Stats struct {
	ipsec.CounterSnapshot
	// Delivered: accepted Mobility Headers queued for Receive (counted
	// before they are queued, so a packet Receive returned is counted).
	Delivered uint64 `json:"delivered"`
	// Ignored: packets on a shared in-memory transport that were neither
	// (marked) ESP nor a Mobility Header.
	Ignored uint64 `json:"ignored"`
	// ReceiveErrors: socket read errors (the last one is LastError).
	ReceiveErrors uint64 `json:"receive_errors"`
	LastError     string `json:"last_error,omitempty"`
}

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	s := Stats{
		CounterSnapshot: t.eng.Counters.Snapshot(),
		Delivered:       t.delivered.Load(),
		Ignored:         t.ignored.Load(),
		ReceiveErrors:   t.rxErrors.Load(),
	}
	if e, ok := t.lastErr.Load().(error); ok {
		s.LastError = e.Error()
	}
	return s
}
