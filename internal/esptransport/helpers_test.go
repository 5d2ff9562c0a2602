package esptransport

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Example keys of the tests (never use them elsewhere).
const (
	keyBU   = "00112233445566778899aabbccddeeff" + "01020304" // AES-GCM-128 key || salt, MAG -> LMA
	keyBA   = "ffeeddccbbaa99887766554433221100" + "05060708" // LMA -> MAG
	keyHBo  = "101112131415161718191a1b1c1d1e1f"              // AES-CBC-128, MAG -> LMA heartbeats
	keyHBi  = "202122232425262728292a2b2c2d2e2f"              // LMA -> MAG heartbeats
	keyAuth = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
)

func writeKeys(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for name, k := range map[string]string{"bu.key": keyBU, "ba.key": keyBA, "hbo.key": keyHBo, "hbi.key": keyHBi, "auth.key": keyAuth} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(k+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// configs returns RFC 5213 §4.2's SPD and SAD for a MAG and an LMA: PBU
// and PBA protected with AES-GCM-128, heartbeats both ways with
// AES-CBC-128 + HMAC-SHA-256-128; anything else bypassed.
func configs(dir string, mag, lma netip.Addr) (magCfg, lmaCfg ipsec.Config) {
	m, l := mag.String(), lma.String()
	sa := func(name string, spi uint32, dir, local, remote string, types []string, key string) ipsec.SAConfig {
		s := ipsec.SAConfig{Name: name, SPI: spi, Direction: dir, Local: local, Remote: remote, MHTypes: types}
		if key == "bu.key" || key == "ba.key" {
			s.Encryption, s.EncryptionKeyFile = "aes-gcm-128", key
		} else {
			s.Encryption, s.EncryptionKeyFile = "aes-cbc-128", key
			s.Integrity, s.IntegrityKeyFile = "hmac-sha256-128", "auth.key"
		}
		return s
	}
	pol := func(name, dir, local, remote string, types ...string) ipsec.PolicyConfig {
		return ipsec.PolicyConfig{Name: name, Direction: dir, Local: local, Remote: remote, MHTypes: types, Action: "protect"}
	}
	magCfg = ipsec.Config{
		KeyDir: dir,
		SAs: []ipsec.SAConfig{
			sa("pbu-out", 0x1001, "out", m, l, []string{"pbu"}, "bu.key"),
			sa("pba-in", 0x2001, "in", m, l, []string{"pba"}, "ba.key"),
			sa("hb-out", 0x3001, "out", m, l, []string{"heartbeat"}, "hbo.key"),
			sa("hb-in", 0x4001, "in", m, l, []string{"heartbeat"}, "hbi.key"),
		},
		Policies: []ipsec.PolicyConfig{
			pol("pbu-out", "out", m, l, "pbu", "heartbeat"),
			pol("pba-in", "in", m, l, "pba", "heartbeat"),
		},
	}
	lmaCfg = ipsec.Config{
		KeyDir: dir,
		SAs: []ipsec.SAConfig{
			sa("pbu-in", 0x1001, "in", l, m, []string{"pbu"}, "bu.key"),
			sa("pba-out", 0x2001, "out", l, m, []string{"pba"}, "ba.key"),
			sa("hb-in", 0x3001, "in", l, m, []string{"heartbeat"}, "hbo.key"),
			sa("hb-out", 0x4001, "out", l, m, []string{"heartbeat"}, "hbi.key"),
		},
		Policies: []ipsec.PolicyConfig{
			pol("pba-out", "out", l, m, "pba", "heartbeat"),
			pol("pbu-in", "in", l, m, "pbu", "heartbeat"),
		},
	}
	return magCfg, lmaCfg
}

func engines(t *testing.T, mag, lma netip.Addr) (magEng, lmaEng *ipsec.Engine) {
	t.Helper()
	mc, lc := configs(writeKeys(t), mag, lma)
	var err error
	if magEng, err = ipsec.Build(mc, nil); err != nil {
		t.Fatal(err)
	}
	if lmaEng, err = ipsec.Build(lc, nil); err != nil {
		t.Fatal(err)
	}
	return magEng, lmaEng
}

func mnID() mh.Option { return mh.NewNAI("mn1@example.net") }

func pbu(t testing.TB, seq uint16) []byte {
	t.Helper()
	m := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 150}
	m.Options = mh.Options{&mh.HomeNetworkPrefix{}, mnID(), &mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: 4}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pba(t testing.TB, seq uint16) []byte {
	t.Helper()
	m := &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: seq, Lifetime: 150}
	m.Options = mh.Options{mnID()}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func heartbeat(t testing.TB, seq uint32) []byte {
	t.Helper()
	b, err := (&mh.Heartbeat{Sequence: seq}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recv waits up to 5 s for one packet.
func recv(t *testing.T, tr transport.Transport) transport.Packet {
	t.Helper()
	type res struct {
		p   transport.Packet
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ps := make([]transport.Packet, 1)
		n, err := tr.Receive(ps)
		if err == nil && n != 1 {
			err = fmt.Errorf("received %d packets", n)
		}
		ch <- res{ps[0], err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.p
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5 s")
	}
	return transport.Packet{}
}
