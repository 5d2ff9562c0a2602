//go:build linux

// Package punt is the punt path of a DMM Mobility Router (design §4): IPv6
// packets the kernel cannot route yet, because their destination's
// location is unknown or a handover is moving it, are routed into a TUN
// device, held in a bounded buffer and, once the location is known and its
// route installed, written back to the device in arrival order, so that
// the kernel routes them again. That is how a handover loses no packets.
//
// Two ways bring packets into the device:
//
//   - Hold(pfx) installs a route for pfx into the device in HoldTable,
//     which the policy rule "not iif <device> lookup HoldTable" at
//     HoldRulePref consults before the main table: every packet to pfx
//     that did not come out of the device is held under pfx until
//     Release(pfx) or Drop(pfx), whatever routes (of any length or metric)
//     the main table has for it. The rule sits after the kernel's local
//     rule and the data plane's rules (dataplane.RulePrefMin..LocalPref).
//   - Watch(space) installs a covering route for an address space (every MR
//     pool of the domain) with metric WatchMetric (the largest), so only
//     packets to addresses that have no more specific route come in. Each
//     is held under its /64 (Config.MissBits) and the first one of each
//     prefix is reported on Misses(); the caller finds the location,
//     installs the route and calls Release.
//
// While a prefix is held (by Hold or by a miss), the distinct sources of
// the packets arriving under it are reported on Sources(): once per (held
// prefix, source prefix of Config.SourceBits) for as long as the prefix
// stays held, at most Config.MaxSources per held prefix. That is how a
// Mobility Router that holds the packets of a node that left learns which
// correspondents send to it (draft-luo-dmm Figure 5 step 7: their MRs are
// to be redirected). The source of the packet that caused a Miss is in
// the Miss and not reported again.
//
// Routes are tagged with the protocol RouteProto (181), not dataplane.Proto
// (180): the data plane drivers list, reconcile and flush every route with
// their tag as one of their own entries, and would remove the watch and
// hold routes. The device is not persistent: if the process dies, the
// kernel removes it and every route through it; the policy rule stays,
// and the next Open replaces it. One Punt per network namespace.
//
// Released packets are written back to the device: coming out of it, they
// skip HoldTable and are routed by the main table, with the routes
// installed meanwhile, while the hold route still catches the packets that
// keep arriving. Release removes the hold route only after writing what
// was held, then writes what the route sent in meanwhile, so a sender's
// packets leave in the order they came, none overtaking (but for packets
// racing the route removal itself, a window of microseconds). The node
// must forward IPv6 (net.ipv6.conf.all.forwarding=1). Before writing a
// packet back its Hop Limit is raised by one, undoing the decrement of the
// second forwarding pass.
//
// Bounds: at most MaxPackets packets and MaxBytes bytes in all, and
// MaxPerPrefix per prefix; Config.Overflow says what goes when one is
// reached (DropNewest, the default, drops the arriving packet). Packets
// held for MaxAge are dropped, timed by the injected clock. Every drop is
// counted in Stats by reason.
//
// Concurrency: one goroutine waits for the device to become readable; every
// read from and write to the device happens with the Punt's mutex held,
// and each packet read is classified in the same critical section. So a
// Release that removes its route and then drains the device sees every
// packet the route sent in before any later one, and re-injects them in
// arrival order.
package punt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
)

// Defaults of Config.
const (
	DefaultDevice     = "pmippunt0"
	DefaultMaxPackets = 4096
	DefaultMaxBytes   = 8 << 20
	DefaultMaxAge     = 2 * time.Second
	DefaultMissBits   = 64
	DefaultSourceBits = 64
	DefaultMaxSources = 64
	// SourceQueue is the capacity of the Sources channel; a Source that
	// finds it full is counted in Stats.SourcesLost.
	SourceQueue = 1024
	// MissQueue is the capacity of the Misses channel; a Miss that finds
	// it full is counted in Stats.MissesLost (its packets stay held).
	MissQueue = 1024
)

// Kernel tags of the punt routes and rule.
const (
	RouteProto   = dataplane.Proto + 1 // rtm_protocol of the hold and watch routes (181)
	HoldTable    = dataplane.TableMax + 1
	HoldRulePref = 1000           // "not iif <device> lookup HoldTable"
	HoldMetric   = 1              // metric of a Hold route (in HoldTable)
	WatchMetric  = math.MaxUint32 // metric of a Watch route (in the main table)
)

// ErrClosed is returned by the methods of a closed Punt.
var ErrClosed = errors.New("punt: closed")

// Config configures a Punt. Zero values take the defaults.
type Config struct {
	// Device is the TUN device's name (default "pmippunt0").
	Device string
	// MaxPackets bounds the packets held in all (default 4096).
	MaxPackets int
	// MaxPerPrefix bounds the packets held per prefix (default MaxPackets).
	MaxPerPrefix int
	// MaxBytes bounds the bytes held in all (default 8 MiB).
	MaxBytes int
	// MaxAge: held packets older than this are dropped and counted
	// (default 2 s).
	MaxAge time.Duration
	// Overflow is what is dropped when a bound is reached (default
	// DropNewest).
	Overflow Overflow
	// MissBits is the length of the prefix a missed packet is held under
	// (default 64; never shorter than the watched space).
	MissBits int
	// SourceBits is the length of the source prefixes reported on
	// Sources (default 64).
	SourceBits int
	// MaxSources bounds the source prefixes reported per held prefix
	// while it is held (default 64); more are counted in
	// Stats.SourcesOverLimit.
	MaxSources int
}

func (c Config) withDefaults() (Config, error) {
	if c.Device == "" {
		c.Device = DefaultDevice
	}
	if len(c.Device) >= unix.IFNAMSIZ {
		return c, fmt.Errorf("punt: device name %q longer than %d", c.Device, unix.IFNAMSIZ-1)
	}
	if c.MaxPackets == 0 {
		c.MaxPackets = DefaultMaxPackets
	}
	if c.MaxPerPrefix == 0 {
		c.MaxPerPrefix = c.MaxPackets
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MissBits == 0 {
		c.MissBits = DefaultMissBits
	}
	if c.SourceBits == 0 {
		c.SourceBits = DefaultSourceBits
	}
	if c.MaxSources == 0 {
		c.MaxSources = DefaultMaxSources
	}
	switch {
	case c.MaxPackets < 0 || c.MaxPerPrefix < 0 || c.MaxBytes < 0 || c.MaxAge < 0 || c.MaxSources < 0:
		return c, errors.New("punt: negative bound")
	case c.MissBits < 1 || c.MissBits > 128:
		return c, fmt.Errorf("punt: MissBits %d not in 1..128", c.MissBits)
	case c.SourceBits < 1 || c.SourceBits > 128:
		return c, fmt.Errorf("punt: SourceBits %d not in 1..128", c.SourceBits)
	case c.Overflow != DropNewest && c.Overflow != DropOldest:
		return c, fmt.Errorf("punt: unknown overflow policy %d", c.Overflow)
	}
	return c, nil
}

func (c Config) limits() limits {
	return limits{maxPackets: c.MaxPackets, maxPerPrefix: c.MaxPerPrefix, maxBytes: c.MaxBytes,
		maxPrefixes: c.MaxPackets, maxAge: c.MaxAge, overflow: c.Overflow}
}

// Miss reports the first packet to a prefix of a watched space that had no
// route.
type Miss struct {
	Dst, Src netip.Addr
	Prefix   netip.Prefix // Dst's prefix of Config.MissBits, under which it is held
	At       time.Time
}

// Source reports a source prefix seen in the packets held under Prefix.
type Source struct {
	Prefix    netip.Prefix // the held prefix
	Src       netip.Addr   // the source of the first such packet
	SrcPrefix netip.Prefix // Src's prefix of Config.SourceBits
	Dst       netip.Addr
	At        time.Time
}

// Stats are a Punt's counters.
type Stats struct {
	Held      int                  // packets held now
	HeldBytes int                  // bytes held now
	PerPrefix map[netip.Prefix]int // packets held now, per held prefix
	Received  uint64               // frames read from the device
	Released  uint64               // packets written back by Release
	Passed    uint64               // packets no hold or watch covered, written back at once
	Invalid   uint64               // frames dropped: not IPv6, or malformed
	Ignored   uint64               // frames dropped: to a multicast, link-local, loopback or unspecified address
	// Dropped by reason: a bound was reached (full), held for MaxAge (age),
	// by Drop or Close (drop).
	DroppedFull, DroppedAge, DroppedDrop uint64
	Misses, MissesLost                   uint64 // Misses reported, and lost to a full channel
	// Sources reported, lost to a full channel, and not reported because
	// the held prefix already had MaxSources.
	Sources, SourcesLost, SourcesOverLimit uint64
	WriteErrors                            uint64 // writes to the device that failed
}

// Punt is a punt device with its buffer. Its methods are safe for
// concurrent use.
type Punt struct {
	cfg     Config
	clk     clock.Clock
	log     *logrus.Entry
	h       *netlink.Handle
	fd      int
	wake    int
	ifindex int
	done    chan struct{}
	misses  chan Miss
	sources chan Source
	rbuf    []byte

	mu      sync.Mutex
	closed  bool
	buf     *buffer
	watches map[netip.Prefix]bool
	timer   clock.Timer
	st      Stats // counters only; the buffer's are merged in Stats()
}

const (
	in6AddrGenModeNone = 1 // IN6_ADDR_GEN_MODE_NONE: no link-local address, so no DAD or MLD on the device
	readBatch          = 256
	releaseRounds      = 32 // rounds of writing at most, while the hold route is in
)

// Open creates the TUN device in the network namespace of the calling OS
// thread (lock it with runtime.LockOSThread when switching namespaces),
// brings it up and starts reading from it. clk times the age limit (nil:
// the system clock); log receives the Punt's messages (nil: logrus'
// standard logger).
func Open(cfg Config, clk clock.Clock, log *logrus.Entry) (*Punt, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.New()
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("punt: open /dev/net/tun: %w", err)
	}
	p := &Punt{cfg: cfg, clk: clk, log: log.WithField("punt", cfg.Device), fd: fd, wake: -1,
		done: make(chan struct{}), misses: make(chan Miss, MissQueue), sources: make(chan Source, SourceQueue), rbuf: make([]byte, 65536),
		buf: newBuffer(cfg.limits()), watches: map[netip.Prefix]bool{}}
	fail := func(err error) (*Punt, error) {
		unix.Close(fd)
		if p.wake >= 0 {
			unix.Close(p.wake)
		}
		if p.h != nil {
			p.h.Close()
		}
		return nil, err
	}
	ifr, err := unix.NewIfreq(cfg.Device)
	if err != nil {
		return fail(fmt.Errorf("punt: %w", err))
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fail(fmt.Errorf("punt: TUNSETIFF %s: %w", cfg.Device, err))
	}
	if p.h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		return fail(fmt.Errorf("punt: netlink: %w", err))
	}
	l, err := p.h.LinkByName(ifr.Name())
	if err != nil {
		return fail(fmt.Errorf("punt: %s: %w", ifr.Name(), err))
	}
	p.ifindex = l.Attrs().Index
	if err := p.h.LinkSetIP6AddrGenMode(l, in6AddrGenModeNone); err != nil {
		return fail(fmt.Errorf("punt: %s: addrgenmode none: %w", cfg.Device, err))
	}
	// The device's queue holds what the kernel sends in until it is read.
	if err := p.h.LinkSetTxQLen(l, max(cfg.MaxPackets, 1000)); err != nil {
		return fail(fmt.Errorf("punt: %s: txqueuelen: %w", cfg.Device, err))
	}
	if err := p.h.LinkSetUp(l); err != nil {
		return fail(fmt.Errorf("punt: %s: up: %w", cfg.Device, err))
	}
	if err := p.setRule(); err != nil {
		return fail(err)
	}
	if p.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		p.wake = -1
		return fail(fmt.Errorf("punt: eventfd: %w", err))
	}
	go p.loop()
	p.log.WithFields(logrus.Fields{"ifindex": p.ifindex, "max_packets": cfg.MaxPackets,
		"max_per_prefix": cfg.MaxPerPrefix, "max_age": cfg.MaxAge, "overflow": cfg.Overflow}).Info("punt device up")
	return p, nil
}

// Device returns the TUN device's name.
func (p *Punt) Device() string { return p.cfg.Device }

// Misses returns the channel on which misses of watched spaces are
// reported, once per prefix while it is held. It is closed by Close.
func (p *Punt) Misses() <-chan Miss { return p.misses }

// Sources returns the channel on which the source prefixes of held
// packets are reported, once per (held prefix, source prefix) while the
// prefix is held. It is closed by Close.
func (p *Punt) Sources() <-chan Source { return p.sources }

func checkPrefix(pfx netip.Prefix) (netip.Prefix, error) {
	if !pfx.IsValid() || !pfx.Addr().Is6() || pfx.Addr().Is4In6() {
		return pfx, fmt.Errorf("punt: %v: IPv6 prefix required", pfx)
	}
	return pfx.Masked(), nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 128)}
}

// setRule replaces any rule at HoldRulePref for HoldTable (one a dead
// process left) with this Punt's.
func (p *Punt) setRule() error {
	if err := p.delRules(); err != nil {
		return err
	}
	r := p.rule()
	if err := p.h.RuleAdd(r); err != nil {
		return fmt.Errorf("punt: rule not iif %s lookup %d: %w", p.cfg.Device, HoldTable, err)
	}
	return nil
}

func (p *Punt) rule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family, r.Priority, r.Table, r.IifName, r.Invert = unix.AF_INET6, HoldRulePref, HoldTable, p.cfg.Device, true
	return r
}

func (p *Punt) delRules() error {
	rules, err := p.h.RuleList(unix.AF_INET6)
	if err != nil {
		return fmt.Errorf("punt: rules: %w", err)
	}
	for _, r := range rules {
		if r.Priority == HoldRulePref && r.Table == HoldTable {
			r := r
			if err := p.h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("punt: delete rule %s: %w", r, err)
			}
		}
	}
	return nil
}

func (p *Punt) route(pfx netip.Prefix, metric int) *netlink.Route {
	table := unix.RT_TABLE_MAIN
	if metric == HoldMetric {
		table = HoldTable
	}
	return &netlink.Route{LinkIndex: p.ifindex, Dst: prefixNet(pfx), Priority: metric,
		Protocol: RouteProto, Family: unix.AF_INET6, Table: table}
}

func (p *Punt) routeAdd(pfx netip.Prefix, metric int) error {
	if err := p.h.RouteAdd(p.route(pfx, metric)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("punt: route %s dev %s metric %d: %w", pfx, p.cfg.Device, metric, err)
	}
	return nil
}

func (p *Punt) routeDel(pfx netip.Prefix, metric int) error {
	if err := p.h.RouteDel(p.route(pfx, metric)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("punt: delete route %s dev %s metric %d: %w", pfx, p.cfg.Device, metric, err)
	}
	return nil
}

// Hold routes pfx into the device, so that packets to pfx are held until
// Release or Drop. Holding a prefix already held is not an error.
func (p *Punt) Hold(pfx netip.Prefix) error {
	pfx, err := checkPrefix(pfx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	q := p.buf.get(pfx)
	if q != nil && q.hold {
		return nil
	}
	created := q == nil
	if created {
		q = p.buf.add(pfx, false)
	}
	if err := p.routeAdd(pfx, HoldMetric); err != nil {
		if created {
			p.buf.remove(pfx)
		}
		return err
	}
	q.hold = true
	p.log.WithField("prefix", pfx).Debug("hold")
	return nil
}

// Release stops holding pfx: it writes the packets held under pfx back to
// the device in arrival order, for the kernel to route them with the
// routes installed meanwhile, then removes the hold route and writes what
// it sent in meanwhile. It returns how many packets it wrote. Releasing a
// prefix that is not held returns 0, nil.
func (p *Punt) Release(pfx netip.Prefix) (int, error) {
	pfx, err := checkPrefix(pfx)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	q := p.buf.get(pfx)
	if q == nil {
		return 0, nil
	}
	// Everything the device has first, so that what was held before goes
	// out before what comes after. While the hold route is in, what it
	// sends in meanwhile is written in rounds (shorter and shorter as long
	// as writing is faster than arrival) until a round finds the device
	// empty; then the route goes, and what it sent in during its removal
	// follows. Only those last packets can be overtaken by one the kernel
	// routes directly once the route is gone.
	p.buf.expire(p.clk.Now())
	var n, total int
	var werr error
	for round := 0; round < releaseRounds; round++ {
		p.drainLocked(0)
		pkts := p.buf.take(q)
		n, total, werr = p.writeAllLocked(pkts, n, total, werr)
		if len(pkts) == 0 {
			break
		}
	}
	var rerr error
	if q.hold {
		if rerr = p.routeDel(pfx, HoldMetric); rerr == nil {
			q.hold = false
		}
	}
	p.drainLocked(0)
	n, total, werr = p.writeAllLocked(p.buf.remove(pfx), n, total, werr)
	p.st.Released += uint64(n)
	p.log.WithFields(logrus.Fields{"prefix": pfx, "packets": n}).Debug("release")
	if werr != nil {
		rerr = errors.Join(rerr, fmt.Errorf("punt: release %s: %d of %d packets not written: %w", pfx, total-n, total, werr))
	}
	return n, rerr
}

// writeAllLocked writes released packets, adding to the counts of packets
// written and tried, and keeping the first error.
func (p *Punt) writeAllLocked(pkts []packet, n, total int, first error) (int, int, error) {
	for _, pk := range pkts {
		total++
		bumpHopLimit(pk.data)
		if err := p.writeLocked(pk.data); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, total, first
}

// Drop stops holding pfx like Release, but discards its packets (counted
// as drop). It returns how many it discarded.
func (p *Punt) Drop(pfx netip.Prefix) int {
	pfx, err := checkPrefix(pfx)
	if err != nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0
	}
	q := p.buf.get(pfx)
	if q == nil {
		return 0
	}
	if q.hold {
		if err := p.routeDel(pfx, HoldMetric); err != nil {
			p.log.WithError(err).Warn("drop")
		}
		q.hold = false
	}
	p.drainLocked(0) // what the route sent in before it went
	pkts := p.buf.remove(pfx)
	p.buf.cnt.drop += uint64(len(pkts))
	p.log.WithFields(logrus.Fields{"prefix": pfx, "packets": len(pkts)}).Debug("drop")
	return len(pkts)
}

// Watch routes the address space into the device with the lowest
// priority: a packet to an address in space that has no more specific
// route is held under its prefix of Config.MissBits, and the first such
// packet of each prefix is reported as a Miss. Watching a space already
// watched is not an error.
func (p *Punt) Watch(space netip.Prefix) error {
	space, err := checkPrefix(space)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.watches[space] {
		return nil
	}
	if err := p.routeAdd(space, WatchMetric); err != nil {
		return err
	}
	p.watches[space] = true
	p.log.WithField("space", space).Debug("watch")
	return nil
}

// watchedLocked returns the longest watched space containing dst.
func (p *Punt) watchedLocked(dst netip.Addr) (netip.Prefix, bool) {
	var best netip.Prefix
	ok := false
	for s := range p.watches {
		if s.Contains(dst) && (!ok || s.Bits() > best.Bits()) {
			best, ok = s, true
		}
	}
	return best, ok
}

// Stats returns the counters, after expiring what is due.
func (p *Punt) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.buf.expire(p.clk.Now())
	}
	s := p.st
	s.Held, s.HeldBytes, s.PerPrefix = p.buf.packets, p.buf.bytes, p.buf.perPrefix()
	s.DroppedFull, s.DroppedAge, s.DroppedDrop = p.buf.cnt.full, p.buf.cnt.age, p.buf.cnt.drop
	return s
}

// Close removes every route the Punt installed and the device, drops what
// it holds (counted as drop) and closes the Misses channel.
func (p *Punt) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	var errs []error
	for pfx, q := range p.buf.q {
		if q.hold {
			errs = append(errs, p.routeDel(pfx, HoldMetric))
		}
		p.buf.cnt.drop += uint64(len(p.buf.remove(pfx)))
	}
	for s := range p.watches {
		errs = append(errs, p.routeDel(s, WatchMetric))
	}
	errs = append(errs, p.delRules())
	clear(p.watches)
	close(p.misses)
	close(p.sources)
	p.mu.Unlock()

	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(p.wake, one[:]); err != nil {
		errs = append(errs, fmt.Errorf("punt: wake reader: %w", err))
	} else {
		<-p.done
	}
	// The device is not persistent: it goes with its file descriptor, and
	// the routes through it with it.
	errs = append(errs, unix.Close(p.fd), unix.Close(p.wake))
	if l, err := p.h.LinkByIndex(p.ifindex); err == nil && l.Attrs().Name == p.cfg.Device {
		errs = append(errs, p.h.LinkDel(l))
	}
	p.h.Close()
	p.log.Info("punt device closed")
	return errors.Join(errs...)
}

// loop waits for the device to become readable and reads it, until Close
// signals the eventfd.
func (p *Punt) loop() {
	defer close(p.done)
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(p.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			p.log.WithError(err).Error("poll")
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			p.log.WithField("revents", fds[0].Revents).Error("device failed")
			return
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			p.mu.Lock()
			if !p.closed {
				p.drainLocked(readBatch)
			}
			p.mu.Unlock()
		}
	}
}

// drainLocked reads and classifies up to max frames (0: until the device
// has none, or twice its queue length).
func (p *Punt) drainLocked(max int) {
	if max <= 0 {
		max = 2 * (p.cfg.MaxPackets + 1000)
	}
	for i := 0; i < max; i++ {
		n, err := unix.Read(p.fd, p.rbuf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if !errors.Is(err, unix.EAGAIN) {
				p.log.WithError(err).Warn("read")
			}
			return
		}
		p.inputLocked(p.rbuf[:n])
	}
}

// inputLocked classifies one frame read from the device. b is the read
// buffer: what is kept is copied.
func (p *Punt) inputLocked(b []byte) {
	p.st.Received++
	src, dst, ok := parseIPv6(b)
	if !ok {
		p.st.Invalid++
		return
	}
	if dst.IsMulticast() || dst.IsLinkLocalUnicast() || dst.IsLoopback() || dst.IsUnspecified() {
		p.st.Ignored++
		p.log.WithFields(logrus.Fields{"dst": dst, "src": src}).Debug("ignored")
		return
	}
	now := p.clk.Now()
	q := p.buf.lookup(dst)
	if q == nil {
		space, ok := p.watchedLocked(dst)
		if !ok {
			// Nothing holds it (a route into the device that is not
			// ours): hand it back to the kernel as it came.
			p.st.Passed++
			_ = p.writeLocked(b)
			return
		}
		pfx, _ := dst.Prefix(max(p.cfg.MissBits, space.Bits()))
		if q = p.buf.add(pfx, true); q == nil {
			p.buf.cnt.full++
			return
		}
		q.miss = true
		p.seenSourceLocked(q, src) // reported in the Miss
		if !p.buf.push(q, append([]byte(nil), b...), now) {
			p.buf.remove(pfx)
			return
		}
		select {
		case p.misses <- Miss{Dst: dst, Src: src, Prefix: pfx, At: now}:
			p.st.Misses++
		default:
			p.st.MissesLost++
		}
		p.log.WithFields(logrus.Fields{"prefix": pfx, "dst": dst, "src": src}).Debug("miss")
		p.armLocked()
		return
	}
	p.sourceLocked(q, src, dst, now)
	if p.buf.push(q, append([]byte(nil), b...), now) {
		p.armLocked()
	}
}

// reportable: a source that can be a correspondent elsewhere.
func reportable(src netip.Addr) bool {
	return !(src.IsUnspecified() || src.IsLinkLocalUnicast() || src.IsMulticast() || src.IsLoopback())
}

// seenSourceLocked records src's prefix as reported for q; it returns the
// prefix and whether it was new and within MaxSources.
func (p *Punt) seenSourceLocked(q *queue, src netip.Addr) (netip.Prefix, bool) {
	if !reportable(src) {
		return netip.Prefix{}, false
	}
	sp, _ := src.Prefix(p.cfg.SourceBits)
	if _, ok := q.srcs[sp]; ok {
		return sp, false
	}
	if len(q.srcs) >= p.cfg.MaxSources {
		p.st.SourcesOverLimit++
		return sp, false
	}
	if q.srcs == nil {
		q.srcs = map[netip.Prefix]struct{}{}
	}
	q.srcs[sp] = struct{}{}
	return sp, true
}

// sourceLocked reports the source prefix of a packet arriving under q,
// once per held prefix (whether the packet is kept or the bounds drop it:
// its sender is to be told either way).
func (p *Punt) sourceLocked(q *queue, src, dst netip.Addr, now time.Time) {
	sp, ok := p.seenSourceLocked(q, src)
	if !ok {
		return
	}
	select {
	case p.sources <- Source{Prefix: q.pfx, Src: src, SrcPrefix: sp, Dst: dst, At: now}:
		p.st.Sources++
	default:
		p.st.SourcesLost++
	}
	p.log.WithFields(logrus.Fields{"prefix": q.pfx, "src": src, "src_prefix": sp}).Debug("source")
}

// writeLocked writes one packet to the device: the kernel receives it as
// if it had arrived on the device.
func (p *Punt) writeLocked(b []byte) error {
	for tries := 0; ; tries++ {
		_, err := unix.Write(p.fd, b)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN) && tries < 10:
			_, _ = unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLOUT}}, 10)
			continue
		}
		p.st.WriteErrors++
		p.log.WithError(err).Debug("write")
		return err
	}
}

// armLocked schedules the age expiry of the oldest held packet, unless a
// timer is pending (it fires no later: packets arrive in time order).
func (p *Punt) armLocked() {
	if p.timer != nil || p.closed {
		return
	}
	at, ok := p.buf.nextExpiry()
	if !ok {
		return
	}
	p.timer = p.clk.AfterFunc(at.Sub(p.clk.Now()), p.onTimer)
}

func (p *Punt) onTimer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if p.closed {
		return
	}
	if n := p.buf.expire(p.clk.Now()); n > 0 {
		p.log.WithField("packets", n).Debug("expired")
	}
	p.armLocked()
}
