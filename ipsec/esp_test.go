package ipsec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	magAddr = netip.MustParseAddr("2001:db8:1::1")
	lmaAddr = netip.MustParseAddr("2001:db8:2::1")
)

// suite is one supported transform pair with test keys.
type suite struct {
	name            string
	enc             Encryption
	encKey, authKey string
}

var suites = []suite{
	{"aes-gcm-128", EncAESGCM128, "000102030405060708090a0b0c0d0e0f" + "a1a2a3a4", ""},
	{"aes-gcm-256", EncAESGCM256, strings.Repeat("1f", 32) + "b1b2b3b4", ""},
	{"aes-cbc-128+hmac-sha256-128", EncAESCBC128, strings.Repeat("2e", 16), testAuthKey},
	{"aes-cbc-256+hmac-sha256-128", EncAESCBC256, strings.Repeat("3d", 32), testAuthKey},
	{"null+hmac-sha256-128", EncNull, "", testAuthKey},
}

func (s suite) params(name string, spi uint32, dir Direction) SAParams {
	p := SAParams{Name: name, SPI: spi, Direction: dir, Encryption: s.enc}
	if s.encKey != "" {
		k, _ := ParseHexKey(s.encKey)
		p.EncryptionKey = k
	}
	if s.authKey != "" {
		p.Integrity = IntegHMACSHA256128
		k, _ := ParseHexKey(s.authKey)
		p.IntegrityKey = k
	}
	return p
}

// pair returns matching outbound and inbound SAs for s.
func (s suite) pair(t testing.TB, p func(*SAParams)) (out, in *SA) {
	t.Helper()
	po, pi := s.params("out", 0x1000, Outbound), s.params("in", 0x1000, Inbound)
	if p != nil {
		p(&po)
		p(&pi)
	}
	out, err := NewSA(po)
	if err != nil {
		t.Fatal(err)
	}
	in, err = NewSA(pi)
	if err != nil {
		t.Fatal(err)
	}
	return out, in
}

// pbu returns an encoded Proxy Binding Update with sequence seq.
func pbu(t testing.TB, seq uint16) []byte {
	t.Helper()
	m := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 150}
	m.Options = append(m.Options, mh.NewMNIDIPv6(netip.MustParseAddr("2001:db8:aa::1")))
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripEachAlgorithm(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			out, in := s.pair(t, nil)
			for i, n := range []int{0, 1, 2, 3, 13, 16, 17, 100, 1400} {
				payload := bytes.Repeat([]byte{byte(n)}, n)
				pkt, err := Seal(out, payload)
				if err != nil {
					t.Fatal(err)
				}
				if len(pkt) != n+out.Overhead(n) {
					t.Errorf("len %d: packet %d octets, Overhead says %d", n, len(pkt), n+out.Overhead(n))
				}
				if got := be.Uint32(pkt[4:]); got != uint32(i+1) {
					t.Errorf("sequence number %d, want %d", got, i+1)
				}
				if enc := len(pkt) - 8 - s.enc.ivLen() - 16; enc%s.enc.align() != 0 {
					t.Errorf("encrypted part %d octets, not a multiple of %d", enc, s.enc.align())
				}
				if s.enc != EncNull && n >= 16 && bytes.Contains(pkt, payload) {
					t.Errorf("payload visible in the clear with %v", s.enc)
				}
				nh, got, err := Open(in, pkt)
				if err != nil {
					t.Fatalf("len %d: %v", n, err)
				}
				if nh != ProtoMH || !bytes.Equal(got, payload) {
					t.Errorf("len %d: got nh %d payload %x", n, nh, got)
				}
			}
		})
	}
}

func TestIVsDiffer(t *testing.T) {
	for _, s := range suites[:4] {
		out, _ := s.pair(t, nil)
		a, _ := Seal(out, []byte("same payload"))
		b, _ := Seal(out, []byte("same payload"))
		ivLen := s.enc.ivLen()
		if bytes.Equal(a[8:8+ivLen], b[8:8+ivLen]) {
			t.Errorf("%s: two packets with the same IV", s.name)
		}
	}
}

// AES-GCM IVs are a per-SA random prefix and the sequence number: unique
// on the SA, and different for a second SA on the same key (a restarted
// daemon with manual keys starts again at sequence number 1).
func TestGCMIVConstruction(t *testing.T) {
	first, _ := suites[0].pair(t, nil)
	again, _ := suites[0].pair(t, nil)
	var ivs [][]byte
	for _, sa := range []*SA{first, again} {
		for seq := uint32(1); seq <= 3; seq++ {
			pkt, err := Seal(sa, []byte("pbu."))
			if err != nil {
				t.Fatal(err)
			}
			iv := pkt[8:16]
			if be.Uint32(iv[4:]) != seq || !bytes.Equal(iv[:4], sa.ivPrefix[:]) {
				t.Errorf("IV %x for sequence number %d, prefix %x", iv, seq, sa.ivPrefix)
			}
			ivs = append(ivs, bytes.Clone(iv))
		}
	}
	if bytes.Equal(first.ivPrefix[:], again.ivPrefix[:]) {
		t.Error("two SAs drew the same IV prefix")
	}
	for i := range ivs {
		for j := i + 1; j < len(ivs); j++ {
			if bytes.Equal(ivs[i], ivs[j]) {
				t.Errorf("IV %x repeats", ivs[i])
			}
		}
	}
}

// Flipping any bit of any octet must make Open fail: the SPI octets with
// ErrUnknownSPI, every other octet with ErrICV. Failures must not move the
// window: the original still opens afterwards.
func TestTamperEveryOctet(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			out, in := s.pair(t, nil)
			pkt, err := Seal(out, pbu(t, 7))
			if err != nil {
				t.Fatal(err)
			}
			for i := range pkt {
				for _, flip := range []byte{0x01, 0x80} {
					bad := bytes.Clone(pkt)
					bad[i] ^= flip
					_, _, err := Open(in, bad)
					want := ErrICV
					switch {
					case i < 4:
						want = ErrUnknownSPI
					case be.Uint32(bad[4:]) == 0:
						want = ErrReplay // sequence number 0 is refused before the ICV
					}
					if !errors.Is(err, want) {
						t.Fatalf("octet %d ^ %#x: got %v, want %v", i, flip, err, want)
					}
				}
			}
			if _, _, err := Open(in, bytes.Clone(pkt)); err != nil {
				t.Errorf("original after %d tampered copies: %v", 2*len(pkt), err)
			}
			// Truncated and extended packets.
			for _, n := range []int{0, 7, 8, len(pkt) - 1} {
				if _, _, err := Open(in, bytes.Clone(pkt[:n])); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrICV) {
					t.Errorf("truncated to %d: %v", n, err)
				}
			}
		})
	}
}

func TestReplayThroughESP(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			out, in := s.pair(t, nil)
			var pkts [][]byte
			for i := 0; i < 3; i++ {
				p, err := Seal(out, pbu(t, uint16(i)))
				if err != nil {
					t.Fatal(err)
				}
				pkts = append(pkts, p)
			}
			// Out of order within the window: 3, 1, 2.
			for _, i := range []int{2, 0, 1} {
				if _, _, err := Open(in, bytes.Clone(pkts[i])); err != nil {
					t.Fatalf("packet %d: %v", i+1, err)
				}
			}
			for i := range pkts {
				if _, _, err := Open(in, bytes.Clone(pkts[i])); !errors.Is(err, ErrReplay) {
					t.Errorf("replay of packet %d: %v", i+1, err)
				}
			}
		})
	}
}

// A forged packet far ahead fails its ICV and must not slide the window.
func TestWindowMovesOnlyAfterICV(t *testing.T) {
	out, in := suites[0].pair(t, nil)
	first, _ := Seal(out, []byte("one."))
	forged := bytes.Clone(first)
	be.PutUint32(forged[4:], 100000)
	if _, _, err := Open(in, forged); !errors.Is(err, ErrICV) {
		t.Fatalf("forged: %v", err)
	}
	if _, _, err := Open(in, first); err != nil {
		t.Fatalf("genuine seq 1 after a forged seq 100000: %v", err)
	}
	if st := in.State(); st.Sequence != 1 {
		t.Errorf("window top %d, want 1", st.Sequence)
	}
}

func TestReplayWindowEdges(t *testing.T) {
	type step struct {
		seq uint32
		ok  bool
	}
	cases := []struct {
		name  string
		size  int
		steps []step
	}{
		{"zero is never valid", 64, []step{{0, false}, {1, true}, {0, false}}},
		{"duplicate", 64, []step{{1, true}, {1, false}, {2, true}, {2, false}, {1, false}}},
		{"far ahead then inside and just outside", 64, []step{
			{1, true}, {100, true}, {37, true} /* 100-63 */, {36, false} /* 100-64 */, {37, false}, {99, true}, {100, false}}},
		{"out of order within window", 64, []step{{90, true}, {80, true}, {99, true}, {85, true}, {80, false}, {36, true}, {35, false}}},
		{"slide by one reuses the ring slot", 64, []step{
			{1, true}, {64, true}, {65, true}, {1, false}, {2, true}, {64, false}, {65, false}}},
		{"jump larger than the window clears it", 64, []step{{5, true}, {6, true}, {1000, true}, {937, true}, {936, false}, {6, false}, {999, true}}},
		{"window 1024", 1024, []step{{2000, true}, {977, true}, {976, false}, {1999, true}, {977, false}}},
		{"top of the sequence space", 64, []step{{math.MaxUint32, true}, {math.MaxUint32, false}, {math.MaxUint32 - 63, true}, {math.MaxUint32 - 64, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newReplayWindow(c.size)
			for i, s := range c.steps {
				err := w.check(s.seq)
				if (err == nil) != s.ok {
					t.Fatalf("step %d seq %d: check %v, want ok=%v", i, s.seq, err, s.ok)
				}
				if err == nil {
					w.accept(s.seq)
				}
			}
		})
	}
}

// The ring window against a plain model (a set of accepted numbers and
// the highest one), over random walks with jumps, for several sizes.
func TestReplayWindowModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{64, 96, 128, 1000, 1024} {
		w := newReplayWindow(size)
		seen := map[uint32]bool{}
		var top uint32
		for i := 0; i < 20000; i++ {
			var seq uint32
			switch r.IntN(4) {
			case 0:
				seq = top + uint32(r.IntN(3))
			case 1:
				seq = top + uint32(r.IntN(2*size))
			default:
				seq = top - uint32(r.IntN(size+10))
				if seq > top {
					seq = 1
				}
			}
			want := seq != 0 && !seen[seq] && (seq > top || top-seq < uint32(size))
			got := w.check(seq) == nil
			if got != want {
				t.Fatalf("size %d step %d: seq %d top %d: window says %v, model %v", size, i, seq, top, got, want)
			}
			if got {
				w.accept(seq)
				seen[seq] = true
				if seq > top {
					top = seq
				}
			}
		}
	}
}

func TestWrongSPI(t *testing.T) {
	out, in := suites[0].pair(t, nil)
	sad := NewSAD(nil)
	if err := sad.Add(in); err != nil {
		t.Fatal(err)
	}
	pkt, _ := Seal(out, []byte("abcd"))
	be.PutUint32(pkt[0:], 0x9999)
	if _, _, sa, err := sad.Open(pkt); !errors.Is(err, ErrUnknownSPI) || sa != nil {
		t.Errorf("got sa %v err %v", sa, err)
	}
	// An outbound SA is never used to open.
	_, _, err := Open(out, pkt)
	if !errors.Is(err, ErrUnknownSPI) {
		t.Errorf("open with the outbound SA: %v", err)
	}
}

func TestBadPadding(t *testing.T) {
	// NULL + HMAC: rewrite a padding octet and recompute a valid ICV, so
	// only the padding check can catch it.
	out, in := suites[4].pair(t, nil)
	pkt, _ := Seal(out, []byte{1, 2, 3, 4, 5}) // 5 + 2 -> 8: one octet of padding
	encEnd := len(pkt) - 16
	if pkt[encEnd-3] != 1 || pkt[encEnd-2] != 1 {
		t.Fatalf("unexpected layout %x", pkt)
	}
	bad := bytes.Clone(pkt[:encEnd])
	bad[encEnd-3] = 0 // padding octet 1 must be 1
	bad = withICV(t, testAuthKey, bad)
	if _, _, err := Open(in, bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad padding value: %v", err)
	}
	bad = bytes.Clone(pkt[:encEnd])
	bad[encEnd-2] = 200 // Pad Length past the start
	bad = withICV(t, testAuthKey, bad)
	if _, _, err := Open(in, bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("Pad Length too large: %v", err)
	}
	if _, _, err := Open(in, pkt); err != nil {
		t.Errorf("the good packet after rejected ones: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t.Run("hard time with a fake clock", func(t *testing.T) {
		clk := clock.NewFake(start)
		sad := NewSAD(clk)
		var soft []string
		sad.OnSoftExpire = func(sa *SA) { soft = append(soft, sa.Name()) }
		out, in := suites[0].pair(t, func(p *SAParams) { p.Lifetime = Lifetime{SoftTime: 50 * time.Minute, HardTime: time.Hour} })
		for _, sa := range []*SA{out, in} {
			if err := sad.Add(sa); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(49 * time.Minute)
		p1, err := Seal(out, []byte("1234"))
		if err != nil || len(soft) != 0 {
			t.Fatalf("at 49m: %v, soft %v", err, soft)
		}
		clk.Advance(2 * time.Minute)
		p2, err := Seal(out, []byte("1234"))
		if err != nil {
			t.Fatalf("at 51m (soft only): %v", err)
		}
		if len(soft) != 1 || soft[0] != "out" {
			t.Errorf("soft expiry callbacks %v, want [out]", soft)
		}
		if _, _, _, err := sad.Open(p1); err != nil {
			t.Fatal(err)
		}
		if in.CheckLifetime() || len(soft) != 2 {
			t.Errorf("inbound soft expiry via CheckLifetime: soft %v", soft)
		}
		clk.Advance(9 * time.Minute)
		if _, err := Seal(out, []byte("1234")); !errors.Is(err, ErrExpired) {
			t.Errorf("seal at 60m: %v", err)
		}
		if _, _, _, err := sad.Open(p2); !errors.Is(err, ErrExpired) {
			t.Errorf("open at 60m: %v", err)
		}
		if !out.State().HardExpired || !in.Expired() {
			t.Error("state does not say hard-expired")
		}
		if len(soft) != 2 {
			t.Errorf("soft expiry fired again: %v", soft)
		}
	})
	t.Run("packets", func(t *testing.T) {
		out, in := suites[2].pair(t, func(p *SAParams) { p.Lifetime = Lifetime{SoftPackets: 2, HardPackets: 3} })
		var pkts [][]byte
		for i := 0; i < 3; i++ {
			p, err := Seal(out, []byte("abc"))
			if err != nil {
				t.Fatalf("packet %d: %v", i+1, err)
			}
			pkts = append(pkts, p)
		}
		if _, err := Seal(out, []byte("abc")); !errors.Is(err, ErrExpired) {
			t.Errorf("4th packet: %v", err)
		}
		if st := out.State(); !st.SoftExpired || st.Packets != 3 {
			t.Errorf("outbound state %+v", st)
		}
		for i, p := range pkts {
			if _, _, err := Open(in, p); err != nil {
				t.Fatalf("open %d: %v", i+1, err)
			}
		}
		extra, _ := suites[2].pair(t, nil)
		extra.seq = 10
		p, _ := Seal(extra, []byte("abc"))
		if _, _, err := Open(in, p); !errors.Is(err, ErrExpired) {
			t.Errorf("4th inbound packet: %v", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		out, _ := suites[0].pair(t, func(p *SAParams) { p.Lifetime = Lifetime{HardBytes: 10} })
		if _, err := Seal(out, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := Seal(out, make([]byte, 1)); !errors.Is(err, ErrExpired) {
			t.Errorf("after 10 octets: %v", err)
		}
	})
	t.Run("sequence counter never wraps", func(t *testing.T) {
		out, in := suites[0].pair(t, nil)
		out.seq = math.MaxUint32 - 1
		last, err := Seal(out, []byte("last"))
		if err != nil {
			t.Fatal(err)
		}
		if be.Uint32(last[4:]) != math.MaxUint32 {
			t.Errorf("last sequence number %#x", be.Uint32(last[4:]))
		}
		if _, err := Seal(out, []byte("wrap")); !errors.Is(err, ErrExpired) {
			t.Errorf("after 2^32-1: %v", err)
		}
		if !out.Expired() {
			t.Error("SA not expired after the counter ran out")
		}
		if _, _, err := Open(in, last); err != nil {
			t.Errorf("receiver accepts 2^32-1: %v", err)
		}
	})
}

func TestAntiReplayDisabled(t *testing.T) {
	out, in := suites[0].pair(t, func(p *SAParams) { p.DisableAntiReplay = true })
	pkt, _ := Seal(out, []byte("abcd"))
	for i := 0; i < 2; i++ {
		if _, _, err := Open(in, bytes.Clone(pkt)); err != nil {
			t.Errorf("copy %d: %v", i, err)
		}
	}
}

func TestConcurrentSealOpen(t *testing.T) {
	out, in := suites[0].pair(t, func(p *SAParams) { p.ReplayWindow = 1024 })
	const n = 400
	pkts := make(chan []byte, n)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				p, err := Seal(out, []byte("concurrent"))
				if err != nil {
					t.Error(err)
					return
				}
				pkts <- p
			}
		}()
	}
	wg.Wait()
	close(pkts)
	var all [][]byte
	for p := range pkts {
		all = append(all, p, bytes.Clone(p)) // every packet twice
	}
	var ok sync.WaitGroup
	var mu sync.Mutex
	accepted, replayed := 0, 0
	for g := 0; g < 4; g++ {
		ok.Add(1)
		go func(g int) {
			defer ok.Done()
			for i := g; i < len(all); i += 4 {
				_, _, err := Open(in, all[i])
				mu.Lock()
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, ErrReplay):
					replayed++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}(g)
	}
	ok.Wait()
	if accepted != n || replayed != n {
		t.Errorf("accepted %d replayed %d, want %d each", accepted, replayed, n)
	}
}

func TestNewSARefuses(t *testing.T) {
	gcm := suites[0]
	cbc := suites[2]
	cases := []struct {
		name string
		p    SAParams
		want string
	}{
		{"reserved SPI", func() SAParams { p := gcm.params("a", 255, Inbound); return p }(), "reserved"},
		{"no direction", func() SAParams { p := gcm.params("a", 0x1000, 0); return p }(), "direction"},
		{"GCM with HMAC", func() SAParams {
			p := gcm.params("a", 0x1000, Inbound)
			p.Integrity = IntegHMACSHA256128
			p.IntegrityKey = mustKey(t, testAuthKey)
			return p
		}(), "integrity must be none"},
		{"CBC without integrity", func() SAParams {
			p := cbc.params("a", 0x1000, Inbound)
			p.Integrity, p.IntegrityKey = IntegNone, Key{}
			return p
		}(), "needs integrity"},
		{"short GCM key (no salt)", func() SAParams {
			p := gcm.params("a", 0x1000, Inbound)
			p.EncryptionKey = mustKey(t, strings.Repeat("00", 16))
			return p
		}(), "needs 20 octets"},
		{"short HMAC key", func() SAParams {
			p := cbc.params("a", 0x1000, Inbound)
			p.IntegrityKey = mustKey(t, strings.Repeat("00", 20))
			return p
		}(), "32-octet key"},
		{"window too small", func() SAParams { p := gcm.params("a", 0x1000, Inbound); p.ReplayWindow = 32; return p }(), "replay window"},
		{"window too large", func() SAParams { p := gcm.params("a", 0x1000, Inbound); p.ReplayWindow = 2048; return p }(), "replay window"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSA(c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// The ICV of an HMAC SA covers SPI, sequence number, IV and ciphertext
// (RFC 4303 §2.8): recomputed here with crypto/hmac.
func TestHMACCoverage(t *testing.T) {
	out, _ := suites[3].pair(t, nil)
	pkt, _ := Seal(out, pbu(t, 1))
	m := hmac.New(sha256.New, hx(t, testAuthKey))
	m.Write(pkt[:len(pkt)-16])
	if !bytes.Equal(m.Sum(nil)[:16], pkt[len(pkt)-16:]) {
		t.Error("ICV is not HMAC-SHA-256-128 over SPI..ciphertext")
	}
}

func BenchmarkSealOpen(b *testing.B) {
	msg := pbu(b, 1)
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			out, in := s.pair(b, func(p *SAParams) { p.DisableAntiReplay = true })
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				pkt, err := Seal(out, msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := Open(in, pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
