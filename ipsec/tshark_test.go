package ipsec

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
	"github.com/pmipdmm/pmipdmm/mh"
)

// tsharkUAT returns one record of Wireshark's "ESP SAs" table (file
// esp_sa; fields protocol, srcIP, dstIP, spi, encryption_algo,
// encryption_key_string, authentication_algo, authentication_key_string
// in tshark 4.0) for an SA of this package and its keys.
func tsharkUAT(src, dst netip.Addr, spi uint32, enc Encryption, encKey string, integ Integrity, authKey string) string {
	encName := map[Encryption]string{
		EncNull:      "NULL",
		EncAESCBC128: "AES-CBC [RFC3602]",
		EncAESCBC256: "AES-CBC [RFC3602]",
		EncAESGCM128: "AES-GCM with 16 octet ICV [RFC4106]", // key string = key || salt
		EncAESGCM256: "AES-GCM with 16 octet ICV [RFC4106]",
	}[enc]
	authName := "NULL"
	if integ == IntegHMACSHA256128 {
		authName = "HMAC-SHA-256-128 [RFC4868]"
	}
	hexOrEmpty := func(s string) string {
		if s == "" {
			return ""
		}
		return "0x" + s
	}
	return fmt.Sprintf(`"IPv6","%s","%s","0x%08x","%s","%s","%s","%s"`,
		src, dst, spi, encName, hexOrEmpty(encKey), authName, hexOrEmpty(authKey))
}

// tsharkFrame is one packet written to the capture and what tshark must
// decode from it.
type tsharkFrame struct {
	suite    suite
	spi      uint32
	src, dst netip.Addr
	msg      []byte            // inner Mobility Header (checksum 0: Protect fills it)
	want     map[string]string // tshark field -> value
}

// TestTsharkDecryptsESP is the outside check: Debian's tshark, given the
// SAs' keys, decrypts the ESP this package produced, verifies the ICV and
// decodes the inner Mobility Header to the same fields.
func TestTsharkDecryptsESP(t *testing.T) {
	tshark := testdeps.Ensure(t, "tshark", "tshark")

	frames := []tsharkFrame{
		{suites[0], 0x1001, magAddr, lmaAddr, pbu(t, 0x4242),
			map[string]string{"mip6.mhtype": "5", "mip6.bu.seqnr": "16962", "mip6.bu.p_flag": "1", "mip6.bu.a_flag": "1", "mip6.bu.lifetime": "150", "mip6.mnid.subtype": "2"}},
		{suites[1], 0x2001, lmaAddr, magAddr, pba(t, 0x4242),
			map[string]string{"mip6.mhtype": "6", "mip6.ba.seqnr": "16962", "mip6.ba.p_flag": "1", "mip6.ba.lifetime": "150", "mip6.ba.status": "0"}},
		{suites[2], 0x3001, magAddr, lmaAddr, pbu(t, 7),
			map[string]string{"mip6.mhtype": "5", "mip6.bu.seqnr": "7", "mip6.bu.p_flag": "1"}},
		{suites[3], 0x4001, lmaAddr, magAddr, heartbeat(t),
			map[string]string{"mip6.mhtype": "13", "mip6.hb.seqnr": "9"}},
		{suites[4], 0x5001, magAddr, lmaAddr, pbu(t, 65535),
			map[string]string{"mip6.mhtype": "5", "mip6.bu.seqnr": "65535", "mip6.bu.p_flag": "1"}},
	}

	var buf bytes.Buffer
	w, err := pcapio.NewWriter(&buf, 1) // LINKTYPE_ETHERNET
	if err != nil {
		t.Fatal(err)
	}
	var uats []string
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tampered []byte
	for i, f := range frames {
		p := f.suite.params(fmt.Sprint("sa", i), f.spi, Outbound)
		p.Selector = Selector{Local: netip.PrefixFrom(f.src, 128), Remote: netip.PrefixFrom(f.dst, 128)}
		sa, err := NewSA(p)
		if err != nil {
			t.Fatal(err)
		}
		sad := NewSAD(nil)
		if err := sad.Add(sa); err != nil {
			t.Fatal(err)
		}
		e := NewEngine(NewSPD(Protect), sad)
		// Two packets per SA, so the second has sequence number 2.
		for n := 0; n < 2; n++ {
			nh, esp, err := e.Protect(f.src, f.dst, f.msg)
			if err != nil || nh != ProtoESP {
				t.Fatalf("frame %d: %d %v", i, nh, err)
			}
			if err := w.WritePacket(ts, pcapio.EthernetIPv6(f.src, f.dst, nh, esp)); err != nil {
				t.Fatal(err)
			}
			if i == 0 && n == 1 {
				tampered = bytes.Clone(esp)
				tampered[len(tampered)-17] ^= 0x01 // last octet before the ICV
			}
		}
		uats = append(uats, tsharkUAT(f.src, f.dst, f.spi, f.suite.enc, f.suite.encKey, integOf(f.suite), f.suite.authKey))
	}
	if err := w.WritePacket(ts, pcapio.EthernetIPv6(magAddr, lmaAddr, ProtoESP, tampered)); err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(t.TempDir(), "esp.pcap")
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	fields := []string{"esp.spi", "esp.sequence", "esp.icv_good", "esp.icv_bad", "esp.protocol", "mip6.csum",
		"mip6.mhtype", "mip6.bu.seqnr", "mip6.bu.p_flag", "mip6.bu.a_flag", "mip6.bu.lifetime", "mip6.mnid.subtype",
		"mip6.ba.seqnr", "mip6.ba.p_flag", "mip6.ba.lifetime", "mip6.ba.status", "mip6.hb.seqnr"}
	args := []string{"-n", "-r", pcap,
		"-o", "esp.enable_encryption_decode:TRUE",
		"-o", "esp.enable_authentication_check:TRUE",
	}
	for _, u := range uats {
		args = append(args, "-o", "uat:esp_sa:"+u)
	}
	args = append(args, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2*len(frames)+1 {
		t.Fatalf("tshark printed %d lines, want %d:\n%s\n%s", len(lines), 2*len(frames)+1, out, stderr.String())
	}
	row := func(i int) map[string]string {
		vals := strings.Split(lines[i], "|")
		m := map[string]string{}
		for j, f := range fields {
			if j < len(vals) {
				m[f] = vals[j]
			}
		}
		return m
	}
	for i, f := range frames {
		for n := 0; n < 2; n++ {
			got := row(2*i + n)
			where := fmt.Sprintf("frame %d (%s, packet %d)", 2*i+n+1, f.suite.name, n+1)
			check := map[string]string{
				"esp.spi":      fmt.Sprintf("0x%08x", f.spi),
				"esp.sequence": fmt.Sprint(n + 1),
				"esp.icv_good": "1",
				"esp.protocol": "0x87",
				"mip6.csum":    fmt.Sprintf("0x%04x", mh.Checksum(f.src, f.dst, f.msg)),
			}
			for k, v := range f.want {
				check[k] = v
			}
			for k, v := range check {
				if got[k] != v {
					t.Errorf("%s: %s = %q, want %q", where, k, got[k], v)
				}
			}
		}
	}
	last := row(2 * len(frames))
	if last["esp.icv_good"] == "1" || last["mip6.bu.seqnr"] != "" {
		t.Errorf("tampered frame: tshark says icv_good=%q and decodes BU seq %q", last["esp.icv_good"], last["mip6.bu.seqnr"])
	}
	t.Logf("tshark decrypted %d ESP frames; tampered frame: %v; UAT records:\n%s", 2*len(frames), last, strings.Join(uats, "\n"))
}

func integOf(s suite) Integrity {
	if s.authKey != "" {
		return IntegHMACSHA256128
	}
	return IntegNone
}
