package main

// pmipdemo capture: the packet capture of `make demo` (scripts/demo-dmm.sh).
//
//	pmipdemo capture -w FILE.pcap [-i PREFIX] [-dir in|out|any] [-ready FILE]
//	    record every IPv6 packet of the namespace's interfaces whose name
//	    starts with PREFIX (received: in, sent: out) into a pcap file (nanosecond timestamps, link
//	    type LINUX_SLL2: each record keeps the interface index and the
//	    direction), until SIGTERM or SIGINT; FILE.pcap.ifaces lists
//	    "index name" of the interfaces; -ready is created once the socket
//	    is open, so that nothing sent afterwards is missed
//
// dumpcap (libpcap's TPACKET_V3 ring) loses the first packets of an
// interface that was idle, which a demo counting packets per MR cannot
// afford; a plain AF_PACKET socket read packet by packet does not (the
// same reader as interop/e2e's captures).
//
// main.go's switch does not know this command: the init below runs it when
// it is the first argument.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "capture" {
		os.Exit(cmdCapture(os.Args[2:], os.Stdout, os.Stderr))
	}
}

const (
	linkTypeLinuxSLL2 = 276
	sll2Len           = 20
	captureSnapLen    = 65535
)

// sll2Header writes the 20-octet LINUX_SLL2 header: protocol, reserved,
// interface index, ARPHRD type, packet type, link-layer address length and
// address (8 octets, zero padded).
func sll2Header(b []byte, ll *unix.SockaddrLinklayer) {
	binary.BigEndian.PutUint16(b[0:], ntohs(ll.Protocol))
	binary.BigEndian.PutUint16(b[2:], 0)
	binary.BigEndian.PutUint32(b[4:], uint32(ll.Ifindex))
	binary.BigEndian.PutUint16(b[8:], ll.Hatype)
	b[10] = ll.Pkttype
	n := min(int(ll.Halen), 8)
	b[11] = byte(n)
	clear(b[12:20])
	copy(b[12:12+n], ll.Addr[:n])
}

// pcapWriter writes a nanosecond pcap file of LINUX_SLL2 records.
type pcapWriter struct {
	w   *bufio.Writer
	hdr [16 + sll2Len]byte
}

func newPcapWriter(w io.Writer) (*pcapWriter, error) {
	p := &pcapWriter{w: bufio.NewWriterSize(w, 1<<20)}
	var g [24]byte
	binary.LittleEndian.PutUint32(g[0:], 0xa1b23c4d) // nanosecond resolution
	binary.LittleEndian.PutUint16(g[4:], 2)
	binary.LittleEndian.PutUint16(g[6:], 4)
	binary.LittleEndian.PutUint32(g[16:], captureSnapLen)
	binary.LittleEndian.PutUint32(g[20:], linkTypeLinuxSLL2)
	_, err := p.w.Write(g[:])
	return p, err
}

func (p *pcapWriter) write(t time.Time, ll *unix.SockaddrLinklayer, pkt []byte, origLen int) error {
	ns := t.UnixNano()
	binary.LittleEndian.PutUint32(p.hdr[0:], uint32(ns/1e9))
	binary.LittleEndian.PutUint32(p.hdr[4:], uint32(ns%1e9))
	binary.LittleEndian.PutUint32(p.hdr[8:], uint32(sll2Len+len(pkt)))
	binary.LittleEndian.PutUint32(p.hdr[12:], uint32(sll2Len+origLen))
	sll2Header(p.hdr[16:], ll)
	if _, err := p.w.Write(p.hdr[:]); err != nil {
		return err
	}
	_, err := p.w.Write(pkt)
	return err
}

func cmdCapture(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pmipdemo capture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("w", "", "pcap `file` to write (required)")
	prefix := fs.String("i", "", "only interfaces whose name starts with this `prefix` (all when empty)")
	ready := fs.String("ready", "", "`file` created once the capture runs")
	dir := fs.String("dir", "any", "packets received (in), sent (out) or both (any)")
	if fs.Parse(args) != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 || (*dir != "in" && *dir != "out" && *dir != "any") {
		fmt.Fprintln(stderr, "usage: pmipdemo capture -w FILE.pcap [-i PREFIX] [-dir in|out|any] [-ready FILE]")
		return 2
	}
	if err := capture(*out, *prefix, *dir, *ready, stderr); err != nil {
		fmt.Fprintln(stderr, "pmipdemo capture:", err)
		return 1
	}
	return 0
}

func capture(path, prefix, dir, ready string, stderr io.Writer) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<20)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pw, err := newPcapWriter(f)
	if err != nil {
		return err
	}
	// Interfaces by index; one not seen at the start is looked up once.
	names := map[int]string{}
	var list strings.Builder
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			names[ifc.Index] = ifc.Name
			fmt.Fprintf(&list, "%d %s\n", ifc.Index, ifc.Name)
		}
	}
	if err := os.WriteFile(path+".ifaces", []byte(list.String()), 0o644); err != nil {
		return err
	}

	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stop.Store(true) }()
	if ready != "" {
		if err := os.WriteFile(ready, nil, 0o644); err != nil {
			return err
		}
	}

	buf := make([]byte, captureSnapLen)
	n := 0
	for !stop.Load() {
		m, from, err := unix.Recvfrom(fd, buf, 0)
		now := time.Now()
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ntohs(ll.Protocol) != unix.ETH_P_IPV6 {
			continue
		}
		name, ok := names[ll.Ifindex]
		if !ok {
			if ifc, err := net.InterfaceByIndex(ll.Ifindex); err == nil {
				name = ifc.Name
			}
			names[ll.Ifindex] = name
		}
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if sent := ll.Pkttype == unix.PACKET_OUTGOING; (dir == "in" && sent) || (dir == "out" && !sent) {
			continue
		}
		if err := pw.write(now, ll, buf[:m], m); err != nil {
			return err
		}
		n++
	}
	if err := pw.w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pmipdemo capture: %d packets in %s\n", n, path)
	return f.Close()
}

// htons and ntohs: sockaddr_ll's protocol is in network order (the
// socket's too), read as a host-order (little-endian) integer.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
func ntohs(v uint16) uint16 { return v<<8 | v>>8 }
