package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/transport"
)

// magFlags are the flags shared by the commands that open MAG sockets.
type magFlags struct {
	lma     string
	addrs   string
	count   int
	dev     string
	batch   int
	lmaAddr netip.Addr
	list    []netip.Addr
}

func (m *magFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.lma, "lma", "", "target address (required): the LMA, or the LM or HAA with --target lm|haa")
	fs.StringVar(&m.addrs, "mag-addr", "", "MAG source addresses, comma-separated; with --mags N, the first of N consecutive ones (required)")
	fs.IntVar(&m.count, "mags", 0, "number of consecutive MAG addresses from the first --mag-addr")
	fs.StringVar(&m.dev, "dev", "", "add the MAG addresses to this interface (/128, nodad) for the run, and remove them afterwards")
	fs.IntVar(&m.batch, "batch", 64, "packets per batched receive")
}

// parse validates the flags and computes the address list.
func (m *magFlags) parse() error {
	var err error
	if m.lma == "" {
		return errors.New("--lma is required")
	}
	if m.lmaAddr, err = netip.ParseAddr(m.lma); err != nil || !m.lmaAddr.Is6() {
		return fmt.Errorf("--lma %q: not an IPv6 address", m.lma)
	}
	if m.addrs == "" {
		return errors.New("--mag-addr is required")
	}
	for _, s := range strings.Split(m.addrs, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Is6() {
			return fmt.Errorf("--mag-addr %q: not an IPv6 address", s)
		}
		m.list = append(m.list, a)
	}
	if m.count > 0 {
		if len(m.list) != 1 {
			return errors.New("--mags needs exactly one --mag-addr (the first)")
		}
		a := m.list[0]
		for i := 1; i < m.count; i++ {
			a = a.Next()
			m.list = append(m.list, a)
		}
	}
	seen := map[netip.Addr]bool{}
	for _, a := range m.list {
		if seen[a] {
			return fmt.Errorf("MAG address %v given twice", a)
		}
		seen[a] = true
	}
	return nil
}

// open adds the addresses (with --dev) and opens one raw socket per
// address. close undoes both.
func (m *magFlags) open(addrs []netip.Addr) (trs []transport.Transport, close func(), err error) {
	var added []*netlink.Addr
	var link netlink.Link
	close = func() {
		for _, t := range trs {
			t.Close()
		}
		for _, a := range added {
			netlink.AddrDel(link, a)
		}
	}
	if m.dev != "" {
		if link, err = netlink.LinkByName(m.dev); err != nil {
			return nil, close, fmt.Errorf("--dev %s: %w", m.dev, err)
		}
		for _, a := range addrs {
			na := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD}
			if err := netlink.AddrAdd(link, na); err != nil {
				if errors.Is(err, unix.EEXIST) {
					continue // already there: not ours to remove
				}
				close()
				return nil, func() {}, fmt.Errorf("add %v to %s: %w", a, m.dev, err)
			}
			added = append(added, na)
		}
	}
	for _, a := range addrs {
		r, err := transport.ListenRaw(a, transport.RawOptions{Batch: m.batch})
		if err != nil {
			close()
			return nil, func() {}, err
		}
		trs = append(trs, r)
	}
	return trs, close, nil
}
