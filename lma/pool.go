package lma

import (
	"math/big"
	"net/netip"
)

// prefixPool hands out PrefixLen-long prefixes from the configured pools
// (RFC 5213 §5.3.2 step 1: never a prefix in use by another node or
// session: the caller says which are, from the Binding Cache). A cursor
// walks each pool in order, so a released prefix is handed out again
// only after the rest of the pool has been used.
type prefixPool struct {
	plen   int
	pools  []netip.Prefix
	cursor []*big.Int // next index to try, per pool
	size   []*big.Int // number of prefixes, per pool
	// reserved are the prefixes statically assigned to an MN: never
	// allocated from the pool to anyone.
	reserved map[netip.Prefix]bool
}

func newPrefixPool(pools []netip.Prefix, plen int, reserved []netip.Prefix) *prefixPool {
	p := &prefixPool{plen: plen, reserved: map[netip.Prefix]bool{}}
	for _, x := range pools {
		x = x.Masked()
		p.pools = append(p.pools, x)
		p.cursor = append(p.cursor, new(big.Int))
		p.size = append(p.size, new(big.Int).Lsh(big.NewInt(1), uint(plen-x.Bits())))
	}
	for _, r := range reserved {
		p.reserved[r.Masked()] = true
	}
	return p
}

// nth returns the i-th plen-long prefix of pool x.
func (p *prefixPool) nth(x netip.Prefix, i *big.Int) netip.Prefix {
	a := x.Addr().As16()
	base := new(big.Int).SetBytes(a[:])
	off := new(big.Int).Lsh(i, uint(128-p.plen))
	base.Add(base, off)
	var out [16]byte
	base.FillBytes(out[:])
	return netip.PrefixFrom(netip.AddrFrom16(out), p.plen)
}

// owns reports whether q is one of the pool's prefixes.
func (p *prefixPool) owns(q netip.Prefix) bool {
	if q.Bits() != p.plen {
		return false
	}
	for _, x := range p.pools {
		if x.Contains(q.Addr()) {
			return true
		}
	}
	return false
}

// alloc returns a prefix that is not reserved nor used, or false when
// every pool is exhausted.
func (p *prefixPool) alloc(used func(netip.Prefix) bool) (netip.Prefix, bool) {
	one := big.NewInt(1)
	for i, x := range p.pools {
		// Try at most size[i] candidates of this pool, from the cursor.
		tried := new(big.Int)
		for tried.Cmp(p.size[i]) < 0 {
			q := p.nth(x, p.cursor[i])
			p.cursor[i].Add(p.cursor[i], one)
			if p.cursor[i].Cmp(p.size[i]) >= 0 {
				p.cursor[i].SetInt64(0)
			}
			tried.Add(tried, one)
			if p.reserved[q] || used(q) {
				continue
			}
			return q, true
		}
	}
	return netip.Prefix{}, false
}
