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
// once per ingressReportEvery per remote and destination /64 (and each
// plain packet it forwards, once per source /64 and destination /64, with
// its source: how the anchor of Figure 4 finds the correspondent's MR to
// redirect): how an MR
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
		seen := map[[3]netip.Addr]time.Time{}
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
			if len(b) < 40 || b[0]>>4 != 6 {
				continue
			}
			dst, _ := netip.AddrFromSlice(b[24:40])
			var ev mr.Ingress
			var k [3]netip.Addr
			switch {
			case dst == local && len(b) >= 80 && b[6] == 41 && b[40]>>4 == 6:
				remote, _ := netip.AddrFromSlice(b[8:24])
				inner, _ := netip.AddrFromSlice(b[64:80])
				p, _ := inner.Prefix(64)
				ev, k = mr.Ingress{Remote: remote, Dst: inner}, [3]netip.Addr{remote, p.Addr()}
			case dst != local && dst.IsGlobalUnicast() && b[6] != 41:
				// A plain packet this MR forwards: its source (Figure 4,
				// the anchor redirects the source's MR).
				src, _ := netip.AddrFromSlice(b[8:24])
				if !src.IsGlobalUnicast() {
					continue
				}
				sp, _ := src.Prefix(64)
				dp, _ := dst.Prefix(64)
				ev, k = mr.Ingress{Dst: dst, Src: src}, [3]netip.Addr{{}, sp.Addr(), dp.Addr()}
			default:
				continue
			}
			now := time.Now()
			if t, ok := seen[k]; ok && now.Sub(t) < ingressReportEvery {
				continue
			}
			seen[k] = now
			if len(seen) > 4096 {
				clear(seen)
			}
			select {
			case out <- ev:
			default:
			}
		}
	}()
	return out, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
