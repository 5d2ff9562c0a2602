package wire

import (
	"bytes"
	"net/netip"
	"time"
)

// replyKey names a request: its source, its MH Type, its DMM Type (0 for
// a PBU) and its Sequence #.
type replyKey struct {
	src netip.Addr
	typ uint8
	dmm uint8
	seq uint16
}

type replyEntry struct {
	req, reply []byte
	at         time.Time
	gen        uint64
}

// replyCache remembers the last answers of a server, so that a
// retransmitted request (same source, type and Sequence #, same octets)
// is answered with the same reply without touching the LM or HAA again.
// It holds at most max entries for at most ttl each; the oldest go first.
// Not safe for concurrent use (the server loop owns it).
type replyCache struct {
	max   int
	ttl   time.Duration
	m     map[replyKey]*replyEntry
	order []replyKey // FIFO of insertions
	gens  []uint64   // generation of each order slot
	gen   uint64
}

func newReplyCache(max int, ttl time.Duration) *replyCache {
	return &replyCache{max: max, ttl: ttl, m: make(map[replyKey]*replyEntry, max)}
}

// get returns the cached reply to req, if req repeats a cached request.
func (c *replyCache) get(k replyKey, req []byte, now time.Time) ([]byte, bool) {
	if c.max <= 0 {
		return nil, false
	}
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) >= c.ttl || !bytes.Equal(e.req, req) {
		return nil, false
	}
	return e.reply, true
}

// put remembers reply as the answer to req.
func (c *replyCache) put(k replyKey, req, reply []byte, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.gen++
	c.m[k] = &replyEntry{req: bytes.Clone(req), reply: bytes.Clone(reply), at: now, gen: c.gen}
	c.order = append(c.order, k)
	c.gens = append(c.gens, c.gen)
	// Drop from the front: entries replaced since (another generation),
	// expired ones, and the oldest while over the bound.
	i := 0
	for ; i < len(c.order); i++ {
		ok, g := c.order[i], c.gens[i]
		e := c.m[ok]
		if e == nil || e.gen != g {
			continue // replaced or gone: stale slot
		}
		if len(c.m) > c.max || now.Sub(e.at) >= c.ttl {
			delete(c.m, ok)
			continue
		}
		break
	}
	if i > 0 {
		c.order = append(c.order[:0], c.order[i:]...)
		c.gens = append(c.gens[:0], c.gens[i:]...)
	}
	if len(c.order) > 4*c.max+16 {
		c.compact()
	}
}

// compact drops the stale slots of order (keys replaced since).
func (c *replyCache) compact() {
	j := 0
	for i, k := range c.order {
		if e := c.m[k]; e != nil && e.gen == c.gens[i] {
			c.order[j], c.gens[j] = k, c.gens[i]
			j++
		}
	}
	c.order, c.gens = c.order[:j], c.gens[:j]
}

// len returns the number of cached replies.
func (c *replyCache) len() int { return len(c.m) }
