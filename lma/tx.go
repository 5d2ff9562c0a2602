package lma

import (
	"net/netip"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Outgoing messages are encoded at once into the loop's transmit queue
// and sent when the operation that produced them ends (flushTx, called
// by the loop after each operation): the answers to a received batch of
// PBUs leave with one SendBatch (one sendmmsg on a raw socket) instead of
// one system call each.

// txMeta is what the counters need of a queued message.
type txMeta struct {
	name   string // msgName
	ba     bool
	status mh.Status
}

type txEntry struct {
	dst      netip.Addr
	off, len int // in txQueue.slab
	meta     txMeta
}

type txQueue struct {
	slab    []byte
	entries []txEntry
	pkts    []transport.Packet
}

// batchSender is implemented by transports that send several packets in
// one system call (transport.Raw).
type batchSender interface {
	SendBatch(ps []transport.Packet) (int, error)
}

func metaOf(m mh.Message) txMeta {
	md := txMeta{name: msgName(m)}
	if ba, ok := m.(*mh.BindingAck); ok {
		md.ba, md.status = true, ba.Status
	}
	return md
}

// encode marshals m at the end of the queue's slab and returns its
// octets (valid until the next encode).
func (l *LMA) encode(m mh.Message) ([]byte, bool) {
	q := &l.tx
	n := m.MarshalLen()
	off := len(q.slab)
	if cap(q.slab)-off < n {
		ns := make([]byte, off, 2*cap(q.slab)+n)
		copy(ns, q.slab)
		q.slab = ns
	}
	b := q.slab[off : off+n]
	if err := m.MarshalTo(b); err != nil {
		l.cfg.Log.WithError(err).WithField("type", m.MHType()).Error("cannot encode message")
		l.counters.drop("encode error")
		return nil, false
	}
	return b, true
}

// send queues m for dst; it leaves at the end of the current operation.
func (l *LMA) send(dst netip.Addr, m mh.Message) {
	off := len(l.tx.slab)
	b, ok := l.encode(m)
	if !ok {
		return
	}
	l.tx.slab = l.tx.slab[:off+len(b)]
	l.tx.entries = append(l.tx.entries, txEntry{dst: dst, off: off, len: len(b), meta: metaOf(m)})
}

// sendRaw queues already encoded octets (copied).
func (l *LMA) sendRaw(dst netip.Addr, b []byte, md txMeta) {
	off := len(l.tx.slab)
	l.tx.slab = append(l.tx.slab, b...)
	l.tx.entries = append(l.tx.entries, txEntry{dst: dst, off: off, len: len(b), meta: md})
}

// flushTx sends the queued messages: with one SendBatch when the
// transport has it (a failed packet is counted and the rest still sent),
// otherwise one Send each.
func (l *LMA) flushTx() {
	q := &l.tx
	if len(q.entries) == 0 {
		return
	}
	q.pkts = q.pkts[:0]
	for _, e := range q.entries {
		q.pkts = append(q.pkts, transport.Packet{Dst: e.dst, Data: q.slab[e.off : e.off+e.len : e.off+e.len]})
	}
	if bs, ok := l.cfg.Transport.(batchSender); ok {
		for i := 0; i < len(q.pkts); {
			n, err := bs.SendBatch(q.pkts[i:])
			if n == 0 && err == nil {
				break // cannot happen with transport.Raw; do not spin
			}
			for _, e := range q.entries[i : i+n] {
				l.counters.txMeta(e.meta)
			}
			i += n
			if err != nil {
				if i < len(q.pkts) {
					l.sendFailed(q.entries[i].dst, err)
				}
				i++
			}
		}
	} else {
		for i, p := range q.pkts {
			if err := l.cfg.Transport.Send(p.Dst, p.Data); err != nil {
				l.sendFailed(p.Dst, err)
				continue
			}
			l.counters.txMeta(q.entries[i].meta)
		}
	}
	clear(q.pkts) // no reference to the slab kept past here
	q.pkts = q.pkts[:0]
	q.entries = q.entries[:0]
	q.slab = q.slab[:0]
	if cap(q.slab) > 1<<20 {
		q.slab = nil // do not keep a burst's slab forever
	}
}

func (l *LMA) sendFailed(dst netip.Addr, err error) {
	if l.logOn(logrus.WarnLevel) {
		l.cfg.Log.WithError(err).WithField("peer", dst).Warn("send failed")
	}
	l.counters.drop("send error")
}

// logOn reports whether the logger writes lv (so that fields are built
// only for messages that are written).
func (l *LMA) logOn(lv logrus.Level) bool { return l.cfg.Log.Logger.IsLevelEnabled(lv) }
