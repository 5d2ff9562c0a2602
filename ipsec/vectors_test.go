package ipsec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// hx decodes hex written as the RFCs print it (spaces, newlines).
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func mustKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseHexKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedIV makes Seal use iv in every packet of sa.
func fixedIV(t *testing.T, sa *SA, iv []byte) {
	t.Helper()
	if len(iv) != sa.p.Encryption.ivLen() {
		t.Fatalf("IV of %d octets, %v takes %d", len(iv), sa.p.Encryption, sa.p.Encryption.ivLen())
	}
	sa.testIV = iv
}

// espVector is a complete ESP packet from a published source.
type espVector struct {
	name      string
	source    string
	spi       uint32
	seq       uint32
	enc       Encryption
	encKey    string // key material (GCM: key || salt)
	iv        string
	plaintext string // upper-layer payload (before padding)
	nh        uint8
	packet    string // SPI .. ICV
}

// The two non-ESN AES-GCM cases of draft-mcgrew-gcm-test-01 §4 (the
// packet-level companion of RFC 4106): full ESP packets with key, salt,
// SPI, sequence number and IV. Their inner packets are IPv4 datagrams
// that the draft carries with ESP Next Header 1.
var gcmVectors = []espVector{
	{
		name:   "draft-mcgrew-gcm-test-01 AES-GCM-128 (SPI 0x0000a5f8, seq 10)",
		source: "draft-mcgrew-gcm-test-01 §4",
		spi:    0x0000a5f8, seq: 10,
		enc:    EncAESGCM128,
		encKey: "feffe992 8665731c 6d6a8f94 67308308" + /* salt */ "cafebabe",
		iv:     "facedbad decaf888",
		plaintext: `
			4500003e 698f0000 80114dcc c0a80102
			c0a80101 0a980035 002a2343 b2d00100
			00010000 00000000 03736970 09637962
			65726369 74790264 6b000001 0001`,
		nh: 1,
		packet: `
			0000a5f8 0000000a                   # SPI, Sequence Number
			facedbad decaf888                   # IV (8 octets)
			deb22cd9 b07c72c1 6e3a65be eb8df304 # ciphertext: 62 octets of payload,
			a5a5897d 33ae530f 1ba76d5d 114d2a5c #   no padding, Pad Length 0,
			3de81827 c10e9a4f 51330d0e ec416642 #   Next Header 1
			cfbb85a5 b47e48a4 ec3b9ba9 5d918bd1
			83b70d3a a8bc6ee4 c309e9d8 5a41ad4a # ICV (16 octets)`,
	},
	{
		name:   "draft-mcgrew-gcm-test-01 AES-GCM-256 (SPI 0x4a2cbfe3, seq 2)",
		source: "draft-mcgrew-gcm-test-01 §4",
		spi:    0x4a2cbfe3, seq: 2,
		enc: EncAESGCM256,
		encKey: "abbccdde f0011223 34455667 78899aab abbccdde f0011223 34455667 78899aab" +
			/* salt */ "11223344",
		iv: "01020304 05060708",
		plaintext: `
			45000030 69a64000 80062690 c0a80102
			9389155e 0a9e008b 2dc57ee0 00000000
			70024000 20bf0000 020405b4 01010402`,
		nh: 1,
		packet: `
			4a2cbfe3 00000002                   # SPI, Sequence Number
			01020304 05060708                   # IV
			ff425c9b 724599df 7a3bcd51 0194e00d # ciphertext: 48 octets of payload,
			6a78107f 1b0b1cbf 06efae9d 65a5d763 #   padding 01 02, Pad Length 2,
			748a6379 85771d34 7f054565 9f14e99d #   Next Header 1
			ef842d8e
			b335f4ee cfdbf831 824b4c49 15956c96 # ICV`,
	},
}

// stripComments removes "# ..." annotations from a hex block.
func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte(' ')
	}
	return b.String()
}

func vectorSA(t *testing.T, v espVector, dir Direction, integKey string) *SA {
	t.Helper()
	p := SAParams{Name: v.name, SPI: v.spi, Direction: dir, Encryption: v.enc, EncryptionKey: mustKey(t, v.encKey)}
	if !v.enc.AEAD() {
		p.Integrity = IntegHMACSHA256128
		p.IntegrityKey = mustKey(t, integKey)
	}
	sa, err := NewSA(p)
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

func TestGCMVectorsOpen(t *testing.T) {
	for _, v := range gcmVectors {
		t.Run(v.name, func(t *testing.T) {
			sa := vectorSA(t, v, Inbound, "")
			pkt := hx(t, stripComments(v.packet))
			nh, payload, err := Open(sa, pkt)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if nh != v.nh {
				t.Errorf("next header %d, want %d", nh, v.nh)
			}
			if want := hx(t, v.plaintext); !bytes.Equal(payload, want) {
				t.Errorf("payload\n got %x\nwant %x", payload, want)
			}
			if st := sa.State(); st.Sequence != v.seq || st.Packets != 1 {
				t.Errorf("state after open: seq %d packets %d", st.Sequence, st.Packets)
			}
		})
	}
}

func TestGCMVectorsSeal(t *testing.T) {
	for _, v := range gcmVectors {
		t.Run(v.name, func(t *testing.T) {
			sa := vectorSA(t, v, Outbound, "")
			sa.seq = v.seq - 1
			fixedIV(t, sa, hx(t, v.iv))
			got, err := AppendSeal(nil, sa, v.nh, hx(t, v.plaintext))
			if err != nil {
				t.Fatal(err)
			}
			if want := hx(t, stripComments(v.packet)); !bytes.Equal(got, want) {
				t.Errorf("sealed packet\n got %x\nwant %x", got, want)
			}
			if n := len(hx(t, v.plaintext)); sa.Overhead(n) != len(got)-n {
				t.Errorf("Overhead(%d) = %d, packet adds %d", n, sa.Overhead(n), len(got)-n)
			}
		})
	}
}

// RFC 3602 §4 Case #5: transport-mode ESP with AES-CBC-128 (an ICMP echo
// request, 14 octets of padding 01..0e). The RFC gives it without an ICV;
// the test appends an HMAC-SHA-256-128 ICV computed here with crypto/hmac
// over SPI..ciphertext (RFC 4303 §2.8), independently of the package.
var cbcCase5 = espVector{
	name:   "RFC 3602 case 5 + HMAC-SHA-256-128",
	source: "RFC 3602 §4 case #5",
	spi:    0x4321, seq: 1,
	enc:    EncAESCBC128,
	encKey: "90d382b4 10eeba7a d938c46c ec1a82bf",
	iv:     "e96e8c08 ab465763 fd098d45 dd3ff893",
	plaintext: `
		08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
		18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637`,
	nh: 1,
	packet: `
		00004321 00000001                   # SPI, Sequence Number
		e96e8c08 ab465763 fd098d45 dd3ff893 # IV
		f663c25d 325c18c6 a9453e19 4e120849 # ciphertext: 64 octets of payload,
		a4870b66 cc6b9965 330013b4 898dc856 #   padding 01..0e, Pad Length 14,
		a4699e52 3a55db08 0b59ec3a 8e4b7e52 #   Next Header 1
		775b07d1 db34ed9c 538ab50c 551b874a
		a269add0 47ad2d59 13ac19b7 cfbad4a6`,
}

const testAuthKey = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

func withICV(t *testing.T, key string, pkt []byte) []byte {
	m := hmac.New(sha256.New, hx(t, key))
	m.Write(pkt)
	return append(pkt, m.Sum(nil)[:16]...)
}

func TestCBCVector(t *testing.T) {
	v := cbcCase5
	want := withICV(t, testAuthKey, hx(t, stripComments(v.packet)))

	t.Run("seal", func(t *testing.T) {
		sa := vectorSA(t, v, Outbound, testAuthKey)
		fixedIV(t, sa, hx(t, v.iv))
		got, err := AppendSeal(nil, sa, v.nh, hx(t, v.plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("sealed packet\n got %x\nwant %x", got, want)
		}
	})
	t.Run("open", func(t *testing.T) {
		sa := vectorSA(t, v, Inbound, testAuthKey)
		nh, payload, err := Open(sa, bytes.Clone(want))
		if err != nil {
			t.Fatal(err)
		}
		if nh != v.nh || !bytes.Equal(payload, hx(t, v.plaintext)) {
			t.Errorf("got nh %d payload %x", nh, payload)
		}
	})
}

// RFC 4868 §2.7.2.1, the HMAC-SHA-256 authentication test cases with
// 32-octet keys: the 128-bit truncation is the ESP ICV.
func TestHMACSHA256128RFC4868(t *testing.T) {
	cases := []struct{ name, key, data, prf, icv128 string }{
		{"AUTH256-1", strings.Repeat("0b", 32), "4869205468657265",
			"198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7", "198a607eb44bfbc69903a0f1cf2bbdc5"},
		{"AUTH256-2", strings.Repeat("4a656665", 8), "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
			"167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6", "167f928588c5cc2eef8e3093caa0e87c"},
		{"AUTH256-3", strings.Repeat("aa", 32), strings.Repeat("dd", 50),
			"cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0", "cdcb1220d1ecccea91e53aba3092f962"},
		{"AUTH256-4", testAuthKey, strings.Repeat("cd", 50),
			"372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f", "372efcf9b40b35c2115b1346903d2ef4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			full := hmacICV(hx(t, c.key), hx(t, c.data))
			if got := hex.EncodeToString(full[:]); got != c.prf {
				t.Errorf("HMAC-SHA-256 %s, want %s", got, c.prf)
			}
			if got := hex.EncodeToString(full[:hmacICVLen]); got != c.icv128 {
				t.Errorf("HMAC-SHA-256-128 %s, want %s", got, c.icv128)
			}
		})
	}
}

// An ESP packet with NULL encryption and HMAC-SHA-256-128, its ICV
// computed here with crypto/hmac, independently of Seal.
func TestNullHMACFraming(t *testing.T) {
	payload := hx(t, "3b 01 05 00 0000 0001 0000 0000 0000 0000") // 16 octets
	sa, err := NewSA(SAParams{Name: "n", SPI: 0x1000, Direction: Outbound, Encryption: EncNull,
		Integrity: IntegHMACSHA256128, IntegrityKey: mustKey(t, testAuthKey)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Seal(sa, payload)
	if err != nil {
		t.Fatal(err)
	}
	want := withICV(t, testAuthKey, hx(t, stripComments(`
		00001000 00000001             # SPI, Sequence Number (no IV with NULL)
		3b010500 00000001 00000000 00000000 # payload, 16 octets
		0102                          # padding to a multiple of 4
		02 87                         # Pad Length 2, Next Header 135`)))
	if !bytes.Equal(got, want) {
		t.Errorf("got  %x\nwant %x", got, want)
	}
}
