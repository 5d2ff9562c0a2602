package ndp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var errAddrInUse = syscall.EADDRINUSE

// ConfigureAccess makes interface ifname a PMIPv6 access link as RFC 6543
// asks: link-layer address RouterMAC, link-local address RouterLinkLocal
// (added without DAD: every MAG uses it), and up. It works through h (nil:
// the calling thread's network namespace) and is idempotent.
func ConfigureAccess(h *netlink.Handle, ifname string) error {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return err
		}
		defer h.Close()
	}
	l, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("ndp: access interface %q: %w", ifname, err)
	}
	if !bytes.Equal(l.Attrs().HardwareAddr, RouterMAC) {
		if err := h.LinkSetHardwareAddr(l, RouterMAC); err != nil {
			// Some drivers refuse a change while up.
			if err2 := h.LinkSetDown(l); err2 != nil {
				return fmt.Errorf("ndp: %s: set link-layer address: %w", ifname, err)
			}
			if err := h.LinkSetHardwareAddr(l, RouterMAC); err != nil {
				return fmt.Errorf("ndp: %s: set link-layer address: %w", ifname, err)
			}
		}
	}
	// No kernel-generated link-local: from RouterMAC it would be
	// RouterLinkLocal itself, added with DAD, and while that DAD runs
	// (1-2 s after a moved link comes up) the address stays tentative
	// and the MN's Neighbor Solicitations for its router go unanswered.
	if err := h.LinkSetIP6AddrGenMode(l, 1 /* IN6_ADDR_GEN_MODE_NONE */); err != nil {
		return fmt.Errorf("ndp: %s: addrgenmode none: %w", ifname, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("ndp: %s: up: %w", ifname, err)
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: RouterLinkLocal.AsSlice(), Mask: net.CIDRMask(64, 128)},
		Flags: unix.IFA_F_NODAD, Scope: unix.RT_SCOPE_LINK,
	}
	if err := h.AddrReplace(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("ndp: %s: add %v: %w", ifname, RouterLinkLocal, err)
	}
	return nil
}
