package pcapio

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func shared(t *testing.T, rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../../shared", rel)
}

func TestRoundTripIPv6AndUDP(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	mh := []byte{59, 1, 5, 0, 0, 0, 0, 1, 0x82, 0, 0, 10, 1, 2, 0, 0}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 123000).UTC()
	if err := w.WritePacket(ts, EthernetIPv6(src, dst, 135, mh)); err != nil {
		t.Fatal(err)
	}
	v4s, v4d := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if err := w.WritePacket(ts, EthernetIPv4UDP(v4s, v4d, 40000, PMIPControlPort, mh)); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(ts, EthernetIPv4UDP(v4s, v4d, 40000, 53, mh)); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var recs []MHRecord
	for i := 1; ; i++ {
		p, err := r.Next()
		if err != nil {
			break
		}
		if !p.Time.Equal(ts) {
			t.Errorf("packet %d time %v, want %v", i, p.Time, ts)
		}
		if rec, ok := ExtractMH(p.LinkType, p.Data); ok {
			rec.Frame = i
			recs = append(recs, rec)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("found %d Mobility Headers, want 2 (the UDP/53 frame is not one)", len(recs))
	}
	if recs[0].Transport != TransportIPv6 || recs[0].Src != src || recs[0].Dst != dst || !bytes.Equal(recs[0].MH, mh) {
		t.Errorf("IPv6 record %+v", recs[0])
	}
	if recs[1].Transport != TransportUDP4 || recs[1].Src != v4s || recs[1].DstPort != PMIPControlPort || !bytes.Equal(recs[1].MH, mh) {
		t.Errorf("UDP record %+v", recs[1])
	}
}

func TestIPv4UDPChecksum(t *testing.T) {
	f := EthernetIPv4UDP(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 1, 2, []byte{1, 2, 3})
	ip := f[14:]
	if fold(sum(ip[:20], 0)) != 0xffff {
		t.Errorf("IPv4 header checksum does not verify")
	}
	ps := sum(ip[12:20], 0) + 17 + uint32(len(ip)-20)
	if fold(sum(ip[20:], ps)) != 0xffff {
		t.Errorf("UDP checksum does not verify")
	}
}

func TestSharedFixtures(t *testing.T) {
	cases := []struct {
		file      string
		n         int
		transport string
		firstType byte
	}{
		{"crafted/pbu_pba_scapy.pcap", 2, TransportIPv6, 5},
		{"crafted/mh_udp5436.pcap", 1, TransportUDP4, 5},
		{"peers/live_oai_pmip6d_nsrun.pcap", 8, TransportIPv6, 5}, // pcapng
		{"tcpdump/ipv6_mobility_1.pcap", 16, TransportIPv6, 0},
		{"tcpdump/ipv6-mobility-header-oobr.pcap", 1, TransportIPv6Old62, 0},
	}
	for _, c := range cases {
		recs, err := ReadMobilityHeaders(shared(t, "fixtures/"+c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if len(recs) != c.n {
			t.Errorf("%s: %d Mobility Headers, want %d", c.file, len(recs), c.n)
			continue
		}
		r := recs[0]
		if r.Transport != c.transport {
			t.Errorf("%s: transport %q, want %q", c.file, r.Transport, c.transport)
		}
		if c.transport != TransportIPv6Old62 && (len(r.MH) < 3 || r.MH[2] != c.firstType) {
			t.Errorf("%s: first MH type %v, want %d", c.file, r.MH[:min(3, len(r.MH))], c.firstType)
		}
	}
}

func TestGarbageIsAnErrorNotAPanic(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 2, 3}, bytes.Repeat([]byte{0x0a, 0x0d, 0x0d, 0x0a}, 5), bytes.Repeat([]byte{0xd4, 0xc3, 0xb2, 0xa1}, 6)} {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			continue
		}
		for i := 0; i < 10; i++ {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
	for _, lt := range []uint32{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeNull} {
		for n := 0; n < 80; n++ {
			f := bytes.Repeat([]byte{0x86}, n)
			ExtractMH(lt, f)
		}
	}
}
