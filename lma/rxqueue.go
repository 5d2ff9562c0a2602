package lma

import (
	"context"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
)

// DefaultReceiveQueue is the default Config.ReceiveQueue.
const DefaultReceiveQueue = 1024

// dropQueueFull is the Counters.Dropped reason of the packets that found
// the receive queue full.
const dropQueueFull = "receive queue full"

// dropSocketFull is the Counters.Dropped reason of the packets the
// kernel dropped before the LMA could read them (socket receive queue
// full), for a transport that counts them (transport.Raw).
const dropSocketFull = "socket receive queue full"

// dropCounter is implemented by transports that count the packets the
// kernel dropped for them (transport.Raw.Drops).
type dropCounter interface{ Drops() uint64 }

// rxQueue holds the received packets waiting for the loop, at most max
// of them: under overload the reader keeps draining the socket and the
// excess is dropped and counted instead of piling up (in memory or, as
// uncounted kernel drops, in the socket buffer). Two slot arrays
// alternate: the reader fills one while the loop processes the other;
// each slot keeps its data buffer, so a warmed-up queue does not
// allocate.
type rxQueue struct {
	mu      sync.Mutex
	fill    []transport.Packet // being filled (len: queued)
	work    []transport.Packet // handed to the loop
	max     int
	posted  bool   // a drain operation is queued on the loop
	dropped uint64 // not yet added to the counters
	drain   func()
}

func (q *rxQueue) init(max int, drain func()) {
	q.max = max
	q.fill = make([]transport.Packet, 0, max)
	q.work = make([]transport.Packet, 0, max)
	q.drain = drain
}

// put queues copies of ps; it reports whether a drain operation must be
// posted to the loop.
func (q *rxQueue) put(ps []transport.Packet) (post bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range ps {
		n := len(q.fill)
		if n >= q.max {
			q.dropped += uint64(len(ps) - i)
			break
		}
		q.fill = q.fill[:n+1]
		s := &q.fill[n]
		s.Src, s.Dst, s.IfIndex = ps[i].Src, ps[i].Dst, ps[i].IfIndex
		s.Data = append(s.Data[:0], ps[i].Data...)
	}
	if !q.posted && len(q.fill) > 0 {
		q.posted = true
		return true
	}
	return false
}

// take hands the queued packets to the loop (valid until the next take,
// which the loop makes once it has processed them all)
// with the count of packets dropped since the last take.
func (q *rxQueue) take() ([]transport.Packet, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fill, q.work = q.work[:0], q.fill
	q.posted = false
	d := q.dropped
	q.dropped = 0
	return q.work, d
}

// takeDropped returns the count of packets dropped since the last take.
func (q *rxQueue) takeDropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.dropped
	q.dropped = 0
	return d
}

// rxChunk (and opBudget) bound the packets one operation processes (the
// replies go out at its end); the rest of a taken batch is processed by
// following operations, so that timers and management calls get through.
const rxChunk = 256

// drainRx is the loop operation that processes the queued packets.
func (l *LMA) drainRx() {
	if l.rxPos >= len(l.rxWork) {
		var dropped uint64
		l.rxWork, dropped = l.rxq.take()
		l.rxPos = 0
		l.countRxDrops(dropped)
	}
	end := min(l.rxPos+rxChunk, len(l.rxWork))
	start := time.Now()
	i := l.rxPos
	for i < end {
		l.handlePacket(l.rxWork[i])
		i++
		if i%64 == 0 {
			l.flushStore()
			l.flushTx()
		}
		if time.Since(start) > opBudget {
			break // a slow data plane: let timers and calls through
		}
	}
	end = i
	l.rxPos = end
	if end < len(l.rxWork) {
		l.postAsync(l.rxq.drain)
	}
}

func (l *LMA) countRxDrops(n uint64) {
	if n > 0 {
		l.counters.Dropped[dropQueueFull] += n
	}
}

// reader reads the transport in batches into the receive queue.
func (l *LMA) reader(ctx context.Context, errc chan<- error) {
	ps := make([]transport.Packet, 64)
	for {
		n, err := l.cfg.Transport.Receive(ps)
		if err != nil {
			errc <- err
			return
		}
		if l.rxq.put(ps[:n]) {
			select {
			case l.ops <- l.rxq.drain:
			case <-ctx.Done():
				return
			}
		}
	}
}
