package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// SEG6 generic netlink family (include/uapi/linux/seg6_genl.h).
const (
	seg6CmdSetTunsrc = 3
	seg6CmdGetTunsrc = 4
	seg6AttrDst      = 1
)

// setTunSrc sets the source address of seg6-encapsulated packets in the
// current network namespace ("ip sr tunsrc set").
func setTunSrc(a netip.Addr) error {
	fam, err := netlink.GenlFamilyGet("SEG6")
	if err != nil {
		return fmt.Errorf("dataplane: SEG6 netlink family: %w", err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: seg6CmdSetTunsrc, Version: 1})
	b := a.As16()
	req.AddData(nl.NewRtAttr(seg6AttrDst, b[:]))
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil {
		return fmt.Errorf("dataplane: set seg6 tunnel source %v: %w", a, err)
	}
	return nil
}

// TunSrc returns the seg6 tunnel source of the current network namespace.
func TunSrc() (netip.Addr, error) {
	fam, err := netlink.GenlFamilyGet("SEG6")
	if err != nil {
		return netip.Addr{}, err
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_REQUEST)
	req.AddData(&nl.Genlmsg{Command: seg6CmdGetTunsrc, Version: 1})
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, m := range msgs {
		if len(m) < nl.SizeofGenlmsg {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[nl.SizeofGenlmsg:])
		if err != nil {
			return netip.Addr{}, err
		}
		for _, at := range attrs {
			if at.Attr.Type == seg6AttrDst && len(at.Value) == 16 {
				return netip.AddrFrom16([16]byte(at.Value)), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("dataplane: no seg6 tunnel source in reply")
}
