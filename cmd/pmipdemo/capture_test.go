package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
)

// TestCaptureFileReadable writes LINUX_SLL2 records as `pmipdemo capture`
// does and reads them back with internal/pcapio (what pmipctl decode uses):
// times, the addresses and the Mobility Header octets survive, a UDP
// packet yields none; the SLL2 header keeps the interface and direction.
func TestCaptureFileReadable(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8:3::31"), netip.MustParseAddr("2001:db8:3::a")
	mhOctets := []byte{59, 1, 11, 0, 0, 0, 0xc9, 0xb8} // a minimal 8-octet MH
	ip := func(nh byte, payload []byte) []byte {
		return pcapio.EthernetIPv6(src, dst, nh, payload)[14:] // SOCK_DGRAM: no link header
	}
	ll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6), Ifindex: 7, Hatype: 1,
		Pkttype: unix.PACKET_OUTGOING, Halen: 6, Addr: [8]byte{2, 0, 0, 0, 1, 1}}
	t0 := time.Unix(1700000000, 123456789)

	var buf bytes.Buffer
	pw, err := newPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range [][]byte{ip(135, mhOctets), ip(17, make([]byte, 8))} {
		if err := pw.write(t0.Add(time.Duration(i)*time.Millisecond), ll, p, len(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Global header 24 octets, record header 16, then SLL2.
	sll := b[24+16 : 24+16+sll2Len]
	want := []byte{0x86, 0xdd, 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 2, 0, 0, 0, 1, 1, 0, 0}
	if !bytes.Equal(sll, want) {
		t.Errorf("SLL2 header % x, want % x", sll, want)
	}
	path := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := pcapio.ReadMobilityHeaders(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d Mobility Headers, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Frame != 1 || r.Time != t0.UnixNano() || r.Src != src || r.Dst != dst || !bytes.Equal(r.MH, mhOctets) {
		t.Errorf("record %+v", r)
	}
}
