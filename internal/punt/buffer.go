package punt

import (
	"net/netip"
	"time"
)

// Overflow is what the buffer drops when a packet arrives and a bound
// (MaxPackets, MaxPerPrefix or MaxBytes) is reached.
type Overflow uint8

const (
	// DropNewest (the default) drops the arriving packet: what is held
	// stays a gap-free head of each flow, and the oldest packets, the ones
	// their senders have waited longest for, are delivered first.
	DropNewest Overflow = iota
	// DropOldest drops held packets, oldest first, to make room for the
	// arriving one: the prefix's own oldest packet when MaxPerPrefix is
	// reached, the oldest packet of the whole buffer when MaxPackets or
	// MaxBytes is.
	DropOldest
)

func (o Overflow) String() string {
	if o == DropOldest {
		return "drop-oldest"
	}
	return "drop-newest"
}

// packet is one held IPv6 packet.
type packet struct {
	data []byte
	at   time.Time // arrival
	seq  uint64    // arrival order across the whole buffer
}

// queue is the FIFO of one held prefix.
type queue struct {
	pfx   netip.Prefix
	pkts  []packet // pkts[head:] are held, oldest first
	head  int
	bytes int
	hold  bool // held by Hold (a route into the device is installed)
	miss  bool // created by a Watch miss
	// srcs are the source prefixes reported while the queue exists.
	srcs map[netip.Prefix]struct{}
}

func (q *queue) len() int { return len(q.pkts) - q.head }

func (q *queue) front() *packet { return &q.pkts[q.head] }

func (q *queue) popFront() packet {
	p := q.pkts[q.head]
	q.pkts[q.head] = packet{}
	q.head++
	q.bytes -= len(p.data)
	if q.head == len(q.pkts) {
		q.pkts, q.head = q.pkts[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.pkts) {
		n := copy(q.pkts, q.pkts[q.head:])
		clear(q.pkts[n:])
		q.pkts, q.head = q.pkts[:n], 0
	}
	return p
}

// limits are the buffer's bounds; zero values are filled in by Config.
type limits struct {
	maxPackets   int
	maxPerPrefix int
	maxBytes     int
	maxPrefixes  int
	maxAge       time.Duration // <= 0: no age limit
	overflow     Overflow
}

// counters are the buffer's drop counters.
type counters struct {
	full, age, drop uint64
}

// buffer holds packets per prefix within bounds. It does no I/O and no
// locking: the Punt serialises access to it.
type buffer struct {
	lim     limits
	q       map[netip.Prefix]*queue
	lens    map[int]int // prefix length -> number of queues of that length
	packets int
	bytes   int
	seq     uint64
	cnt     counters
}

func newBuffer(lim limits) *buffer {
	return &buffer{lim: lim, q: map[netip.Prefix]*queue{}, lens: map[int]int{}}
}

// get returns the queue of exactly pfx, or nil.
func (b *buffer) get(pfx netip.Prefix) *queue { return b.q[pfx] }

// add returns the queue of pfx, creating it. When limited, it returns nil
// instead of creating a queue beyond maxPrefixes (a bound on the queues
// that misses create; explicit holds are bounded by their caller).
func (b *buffer) add(pfx netip.Prefix, limited bool) *queue {
	if q := b.q[pfx]; q != nil {
		return q
	}
	if limited && b.lim.maxPrefixes > 0 && len(b.q) >= b.lim.maxPrefixes {
		return nil
	}
	q := &queue{pfx: pfx}
	b.q[pfx] = q
	b.lens[pfx.Bits()]++
	return q
}

// remove forgets the queue of pfx and returns its packets, oldest first.
func (b *buffer) remove(pfx netip.Prefix) []packet {
	q := b.q[pfx]
	if q == nil {
		return nil
	}
	delete(b.q, pfx)
	if b.lens[pfx.Bits()]--; b.lens[pfx.Bits()] == 0 {
		delete(b.lens, pfx.Bits())
	}
	out := q.pkts[q.head:]
	b.packets -= len(out)
	b.bytes -= q.bytes
	return out
}

// take empties q, keeping it, and returns its packets, oldest first.
func (b *buffer) take(q *queue) []packet {
	out := q.pkts[q.head:]
	b.packets -= len(out)
	b.bytes -= q.bytes
	q.pkts, q.head, q.bytes = nil, 0, 0
	return out
}

// lookup returns the queue of the longest held prefix containing dst.
func (b *buffer) lookup(dst netip.Addr) *queue {
	best := -1
	var bq *queue
	for bits := range b.lens {
		if bits <= best {
			continue
		}
		p, err := dst.Prefix(bits)
		if err != nil {
			continue
		}
		if q := b.q[p]; q != nil {
			best, bq = bits, q
		}
	}
	return bq
}

// push appends data (arrived at now) to q within the bounds. It reports
// whether data was kept; every packet dropped on the way is counted as
// full. Queues created by a miss that become empty are removed.
func (b *buffer) push(q *queue, data []byte, now time.Time) bool {
	n := len(data)
	if b.lim.maxBytes > 0 && n > b.lim.maxBytes {
		b.cnt.full++
		return false
	}
	perFull := func() bool { return b.lim.maxPerPrefix > 0 && q.len() >= b.lim.maxPerPrefix }
	allFull := func() bool {
		return (b.lim.maxPackets > 0 && b.packets >= b.lim.maxPackets) ||
			(b.lim.maxBytes > 0 && b.bytes+n > b.lim.maxBytes)
	}
	if b.lim.overflow == DropOldest {
		for perFull() && q.len() > 0 {
			b.dropFront(q)
		}
		for allFull() {
			o := b.oldest()
			if o == nil {
				break
			}
			b.dropFront(o)
			if o != q && o.miss && !o.hold && o.len() == 0 {
				b.remove(o.pfx)
			}
		}
	}
	if perFull() || allFull() {
		b.cnt.full++
		return false
	}
	b.seq++
	q.pkts = append(q.pkts, packet{data: data, at: now, seq: b.seq})
	q.bytes += n
	b.packets++
	b.bytes += n
	return true
}

func (b *buffer) dropFront(q *queue) {
	p := q.popFront()
	b.packets--
	b.bytes -= len(p.data)
	b.cnt.full++
}

// oldest returns the queue whose head arrived first, or nil if empty.
func (b *buffer) oldest() *queue {
	var o *queue
	for _, q := range b.q {
		if q.len() > 0 && (o == nil || q.front().seq < o.front().seq) {
			o = q
		}
	}
	return o
}

// expire drops the packets held for longer than maxAge at now (counted
// as age) and removes the miss queues it empties. It returns how many it
// dropped.
func (b *buffer) expire(now time.Time) int {
	if b.lim.maxAge <= 0 {
		return 0
	}
	n := 0
	for pfx, q := range b.q {
		for q.len() > 0 && now.Sub(q.front().at) >= b.lim.maxAge {
			p := q.popFront()
			b.packets--
			b.bytes -= len(p.data)
			b.cnt.age++
			n++
		}
		if q.miss && !q.hold && q.len() == 0 {
			b.remove(pfx)
		}
	}
	return n
}

// nextExpiry returns when the oldest held packet expires.
func (b *buffer) nextExpiry() (time.Time, bool) {
	if b.lim.maxAge <= 0 {
		return time.Time{}, false
	}
	var t time.Time
	ok := false
	for _, q := range b.q {
		if q.len() > 0 {
			if at := q.front().at; !ok || at.Before(t) {
				t, ok = at, true
			}
		}
	}
	return t.Add(b.lim.maxAge), ok
}

// perPrefix returns how many packets each prefix holds.
func (b *buffer) perPrefix() map[netip.Prefix]int {
	m := make(map[netip.Prefix]int, len(b.q))
	for p, q := range b.q {
		m[p] = q.len()
	}
	return m
}
