package lma

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Binding is a snapshot of a Binding Cache entry (RFC 5213 §5.1).
type Binding struct {
	MN          string // MNKey of the MN-ID
	MNIDSubtype mh.MNIDSubtype
	LinkLayerID []byte // 2 ALL_ZERO octets when the MAG sent none
	LinkLocal   netip.Addr
	HNPs        []netip.Prefix
	ProxyCoA    netip.Addr
	ATT         mh.ATT
	HI          mh.HandoffIndicatorValue
	// Timestamp is the LMA's time of day when the last PBU was accepted
	// (RFC 5213 §5.1), 0 in the sequence-number scheme.
	Timestamp uint64
	Sequence  uint16
	Lifetime  time.Duration
	Expires   time.Time
	Created   time.Time
	State     BCEState
	// Held: a PBU with HI=4 waits for this binding's de-registration.
	Held bool
}

func (b *bce) snapshot() Binding {
	return Binding{
		MN: b.mnKey, MNIDSubtype: b.mnidSub, LinkLayerID: []byte(b.llid),
		LinkLocal: b.linkLocal, HNPs: append([]netip.Prefix(nil), b.hnps...), ProxyCoA: b.proxyCoA(),
		ATT: b.att, HI: b.hi, Timestamp: b.timestamp, Sequence: b.seq, Lifetime: b.lifetimeDur(),
		Expires: nsTime(b.expires), Created: nsTime(b.created), State: b.state, Held: b.held() != nil,
	}
}

func sortBindings(bs []Binding) {
	sort.Slice(bs, func(i, j int) bool {
		if bs[i].MN != bs[j].MN {
			return bs[i].MN < bs[j].MN
		}
		if len(bs[i].HNPs) == 0 || len(bs[j].HNPs) == 0 {
			return len(bs[i].HNPs) < len(bs[j].HNPs)
		}
		return bs[i].HNPs[0].Addr().Less(bs[j].HNPs[0].Addr())
	})
}

// Bindings lists the Binding Cache, sorted by MN and prefix.
func (l *LMA) Bindings(ctx context.Context) ([]Binding, error) {
	var out []Binding
	err := l.call(ctx, func() {
		for b := range l.all {
			out = append(out, b.snapshot())
		}
	})
	sortBindings(out)
	return out, err
}

// Binding returns the bindings of one MN (by MNKey); none is not an error.
func (l *LMA) Binding(ctx context.Context, mn string) ([]Binding, error) {
	var out []Binding
	err := l.call(ctx, func() {
		for b := l.byMN[mn]; b != nil; b = b.nextMN {
			out = append(out, b.snapshot())
		}
	})
	sortBindings(out)
	return out, err
}

// Counters returns a copy of the message counters.
func (l *LMA) Counters(ctx context.Context) (Counters, error) {
	var c Counters
	err := l.call(ctx, func() {
		l.countRxDrops(l.rxq.takeDropped())
		c = l.counters.clone()
	})
	if d, ok := l.cfg.Transport.(dropCounter); ok && err == nil {
		if n := d.Drops(); n > 0 {
			c.Dropped[dropSocketFull] = n
		}
	}
	return c, err
}

// Peer is the heartbeat state of a MAG the LMA has bindings with.
type Peer struct {
	Addr           netip.Addr
	Bindings       int
	Missing        int
	Down           bool
	RestartCounter uint32
	HaveCounter    bool
	Restarts       int
	NoHeartbeat    bool
}

// Peers lists the MAGs with bindings, sorted by address.
func (l *LMA) Peers(ctx context.Context) ([]Peer, error) {
	var out []Peer
	err := l.call(ctx, func() {
		for _, p := range l.peers {
			out = append(out, Peer{Addr: p.addr, Bindings: p.bindings, Missing: p.missing, Down: p.down,
				RestartCounter: p.restartCounter, HaveCounter: p.haveCounter, Restarts: p.restarts, NoHeartbeat: p.noHeartbeat})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out, err
}

// Entries returns the data plane entries the LMA wants installed, sorted
// (for dataplane.Reconcile after a restart). Before Run it reads the state
// New restored from the Store, so the owner can reconcile the data plane
// before the LMA serves.
func (l *LMA) Entries(ctx context.Context) ([]dataplane.Entry, error) {
	l.startMu.Lock()
	if !l.running {
		defer l.startMu.Unlock()
		return l.wanted(), nil
	}
	l.startMu.Unlock()
	var out []dataplane.Entry
	err := l.call(ctx, func() { out = l.wanted() })
	return out, err
}

// RestartCounter returns the RFC 5847 Restart Counter the LMA sends (with
// a Store: as New loaded and possibly incremented it).
func (l *LMA) RestartCounter() uint32 { return l.cfg.RestartCounter }

// Loaded returns what New restored from the Store.
func (l *LMA) Loaded() LoadStats { return l.loadStats }

// ErrNoBinding: no binding matches a Revoke request.
var ErrNoBinding = errors.New("lma: no such binding")

// Revoke revokes the bindings of MN mn (all of them, or the one holding
// hnp when hnp is valid) with a BRI to their MAGs (RFC 5846 §8.1), and
// returns one channel per binding, each receiving its RevokeResult when
// the BRA arrives or the retries run out (RFC 5846 §6.3, §11). Bindings
// already being revoked are skipped.
func (l *LMA) Revoke(ctx context.Context, mn string, hnp netip.Prefix, trigger mh.RevocationTrigger) ([]<-chan RevokeResult, error) {
	var out []<-chan RevokeResult
	err := l.call(ctx, func() {
		for _, b := range l.sessions(mn) {
			if hnp.IsValid() && l.byPrefix[hnp.Masked()] != b {
				continue
			}
			if b.state == StateRevoking {
				continue
			}
			out = append(out, l.startRevocation(b, trigger).result)
		}
	})
	if err == nil && len(out) == 0 {
		err = ErrNoBinding
	}
	return out, err
}
