//go:build linux

package main

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/dmm/mr"
)

// ingressReportEvery bounds the reports of one (remote MR, destination
// /64) pair: the MR needs to learn a correspondent's MR once per flow, not
// per packet.
const ingressReportEvery = time.Second

// startIngress observes the tunnelled traffic arriving on dev for local
// (IPv6-in-IPv6 from another MR, before the kernel decapsulates it) and
// reports each (outer source, inner destination) as an mr.Ingress, at most
// once per ingressReportEvery per remote and destination /64: how an MR
// learns the correspondents' MRs it redirects when the node moves on
// (draft Figure 5 step 7), before any packet is held. It reads an
// AF_PACKET socket on dev until ctx is done.
func startIngress(ctx context.Context, dev string, local netip.Addr, log *logrus.Entry) (<-chan mr.Ingress, error) {
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IPV6)))
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	out := make(chan mr.Ingress, 256)
	go func() {
		defer unix.Close(fd)
		seen := map[[2]netip.Addr]time.Time{}
		buf := make([]byte, 128) // the two headers are enough
		for ctx.Err() == nil {
			n, from, err := unix.Recvfrom(fd, buf, unix.MSG_TRUNC)
			if err != nil {
				if err == unix.EAGAIN || err == unix.EINTR {
					continue
				}
				log.WithError(err).Warn("tunnel ingress observer stopped")
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			b := buf[:min(n, len(buf))]
			if len(b) < 80 || b[0]>>4 != 6 || b[6] != 41 || b[40]>>4 != 6 {
				continue
			}
			dst, _ := netip.AddrFromSlice(b[24:40])
			if dst != local {
				continue
			}
			remote, _ := netip.AddrFromSlice(b[8:24])
			inner, _ := netip.AddrFromSlice(b[64:80])
			p, _ := inner.Prefix(64)
			k := [2]netip.Addr{remote, p.Addr()}
			now := time.Now()
			if t, ok := seen[k]; ok && now.Sub(t) < ingressReportEvery {
				continue
			}
			seen[k] = now
			if len(seen) > 4096 {
				clear(seen)
			}
			select {
			case out <- mr.Ingress{Remote: remote, Dst: inner}:
			default:
			}
		}
	}()
	return out, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
