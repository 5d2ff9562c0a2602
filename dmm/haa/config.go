package haa

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// PoolConfig is one MR's prefix pool: Prefix split into prefixes of
// Length bits, each anchored at MR when allocated.
type PoolConfig struct {
	// MR is the anchor MR: the address that requests prefixes from this
	// pool and to which regular routing delivers them.
	MR netip.Addr
	// Prefix is the pool (masked IPv6 prefix).
	Prefix netip.Prefix
	// Length is the length of the allocated prefixes (default 64, RFC
	// 5213 §2.2 home network prefixes; 128 hands out home addresses).
	Length int
}

// Config configures an HAA front-end. Every front-end over one store must
// use the same KeyPrefix and pools.
type Config struct {
	// KeyPrefix is the store key prefix (default "haa/").
	KeyPrefix string
	// Pools lists the pools; an MR may have several (used in order).
	// Pools must not overlap.
	Pools []PoolConfig
	// DefaultLifetime is the allocation lifetime when the caller gives 0
	// (default 1 h).
	DefaultLifetime time.Duration
	// MaxLifetime caps the lifetime of an allocation (0: no cap).
	MaxLifetime time.Duration
	// MaxRetries bounds the compare-and-swap retries of one operation
	// under contention (default 100).
	MaxRetries int
}

// MaxPoolBits bounds Length - Prefix.Bits() (a pool holds at most 2^62
// prefixes; the index must fit the store keys and an int64).
const MaxPoolBits = 62

// Validate checks the configuration; each error names the field and the
// reason.
func (c Config) Validate() error {
	if c.KeyPrefix != "" && !strings.HasSuffix(c.KeyPrefix, "/") {
		return fmt.Errorf("haa: KeyPrefix %q: must end with \"/\"", c.KeyPrefix)
	}
	if c.DefaultLifetime < 0 {
		return fmt.Errorf("haa: DefaultLifetime %v: must not be negative", c.DefaultLifetime)
	}
	if c.MaxLifetime < 0 {
		return fmt.Errorf("haa: MaxLifetime %v: must not be negative", c.MaxLifetime)
	}
	if c.MaxLifetime > 0 && c.DefaultLifetime > c.MaxLifetime {
		return fmt.Errorf("haa: DefaultLifetime %v: above MaxLifetime %v", c.DefaultLifetime, c.MaxLifetime)
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("haa: MaxRetries %d: must not be negative", c.MaxRetries)
	}
	if len(c.Pools) == 0 {
		return fmt.Errorf("haa: Pools: none configured")
	}
	for i, p := range c.Pools {
		f := fmt.Sprintf("haa: Pools[%d]", i)
		if !p.MR.Is6() || p.MR.Is4In6() || p.MR.IsUnspecified() || p.MR.IsMulticast() {
			return fmt.Errorf("%s.MR %v: not an IPv6 unicast address", f, p.MR)
		}
		if !p.Prefix.IsValid() || !p.Prefix.Addr().Is6() || p.Prefix.Addr().Is4In6() {
			return fmt.Errorf("%s.Prefix %v: not an IPv6 prefix", f, p.Prefix)
		}
		if p.Prefix != p.Prefix.Masked() {
			return fmt.Errorf("%s.Prefix %v: host bits set (want %v)", f, p.Prefix, p.Prefix.Masked())
		}
		n := p.Length
		if n == 0 {
			n = 64
		}
		if n < p.Prefix.Bits() || n > 128 {
			return fmt.Errorf("%s.Length %d: must be between the pool's length %d and 128", f, n, p.Prefix.Bits())
		}
		if n-p.Prefix.Bits() > MaxPoolBits {
			return fmt.Errorf("%s.Length %d: a /%d pool of /%d prefixes is too large (at most 2^%d)", f, n, p.Prefix.Bits(), n, MaxPoolBits)
		}
		for j := 0; j < i; j++ {
			if q := c.Pools[j]; q.Prefix.Overlaps(p.Prefix) {
				return fmt.Errorf("%s.Prefix %v: overlaps Pools[%d].Prefix %v (MR %v)", f, p.Prefix, j, q.Prefix, q.MR)
			}
		}
	}
	return nil
}

// pool is a validated pool.
type pool struct {
	mr     netip.Addr
	prefix netip.Prefix
	length int
	size   uint64 // number of prefixes
	dir    string // store key prefix of the pool
}

// nth returns the i-th prefix of the pool (i < size).
func (p *pool) nth(i uint64) netip.Prefix {
	a := p.prefix.Addr().As16()
	shift := uint(128 - p.length)
	hi, lo := be64(a[:8]), be64(a[8:])
	var addHi, addLo uint64
	if shift >= 64 {
		addHi = i << (shift - 64)
	} else {
		addLo = i << shift
		if shift > 0 {
			addHi = i >> (64 - shift)
		}
	}
	hi |= addHi
	lo |= addLo
	put64(a[:8], hi)
	put64(a[8:], lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), p.length)
}

// index returns the index of q in the pool, if q is one of its prefixes.
func (p *pool) index(q netip.Prefix) (uint64, bool) {
	if q.Bits() != p.length || q != q.Masked() || !p.prefix.Contains(q.Addr()) {
		return 0, false
	}
	a := q.Addr().As16()
	hi, lo := be64(a[:8]), be64(a[8:])
	shift := uint(128 - p.length)
	var v uint64
	if shift >= 64 {
		v = hi >> (shift - 64)
	} else {
		v = lo >> shift
		if shift > 0 {
			v |= hi << (64 - shift)
		}
	}
	return v & (p.size - 1), true
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func put64(b []byte, v uint64) {
	_ = b[7]
	for k := 7; k >= 0; k-- {
		b[k] = byte(v)
		v >>= 8
	}
}
