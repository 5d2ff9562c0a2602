package ipsec

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

var be = binary.BigEndian

// randRead gives AES-CBC IVs and AES-GCM IV prefixes; the fuzz test makes it deterministic.
var randRead = rand.Read

// Seal protects payload, a Mobility Header (next header 135), with the
// outbound SA sa in ESP transport mode (RFC 4303 §2, §3.3) and returns the
// ESP header, IV, ciphertext, padding, trailer and ICV; the caller sends it
// as the payload of an IPv6 packet with next header 50. It fails with
// ErrExpired when the SA has reached a hard lifetime or its sequence
// counter would wrap.
func Seal(sa *SA, payload []byte) ([]byte, error) {
	return AppendSeal(nil, sa, ProtoMH, payload)
}

// AppendSeal is Seal for any next header, appending the ESP packet to dst.
func AppendSeal(dst []byte, sa *SA, nextHeader uint8, payload []byte) ([]byte, error) {
	if sa.p.Direction != Outbound {
		return dst, fmt.Errorf("SA %q is not outbound", sa.p.Name)
	}
	seq, err := sa.nextSeq(len(payload))
	if err != nil {
		return dst, err
	}
	return sealSeq(dst, sa, seq, nextHeader, payload)
}

// sealSeq builds the packet for a reserved sequence number.
func sealSeq(dst []byte, sa *SA, seq uint32, nextHeader uint8, payload []byte) ([]byte, error) {
	e := sa.p.Encryption
	a := e.align()
	encLen := (len(payload) + 2 + a - 1) / a * a
	padLen := encLen - len(payload) - 2
	ivLen := e.ivLen()
	total := espHeaderLen + ivLen + encLen + sa.icv

	start := len(dst)
	dst = growTo(dst, start+total)
	pkt := dst[start:]
	be.PutUint32(pkt[0:], sa.p.SPI)
	be.PutUint32(pkt[4:], seq)
	iv := pkt[espHeaderLen : espHeaderLen+ivLen]
	switch {
	case ivLen == 0:
	case sa.testIV != nil:
		copy(iv, sa.testIV)
	case sa.aead != nil:
		// RFC 4106 §3.1: the IV must never repeat under one key. A
		// per-SA random prefix and the sequence number, which never wraps
		// on an SA, are unique within the SA; the prefix keeps a manually
		// keyed SA that restarts at sequence number 1 (daemon restart)
		// from repeating the IVs of its previous life.
		copy(iv, sa.ivPrefix[:])
		be.PutUint32(iv[4:], seq)
	default:
		// RFC 3602 §2.1: CBC needs an unpredictable IV.
		if _, err := randRead(iv); err != nil {
			return dst[:start], fmt.Errorf("ipsec: IV: %v", err)
		}
	}
	body := pkt[espHeaderLen+ivLen : espHeaderLen+ivLen+encLen]
	copy(body, payload)
	for i := 0; i < padLen; i++ {
		body[len(payload)+i] = byte(i + 1) // RFC 4303 §2.4: 1, 2, 3, ...
	}
	body[encLen-2] = byte(padLen)
	body[encLen-1] = nextHeader

	switch {
	case sa.aead != nil:
		// RFC 4106 §4: nonce = salt || IV; §5: AAD = SPI || Sequence Number.
		var nonce [gcmSaltLen + gcmIVLen]byte
		copy(nonce[:], sa.salt[:])
		copy(nonce[gcmSaltLen:], iv)
		out := sa.aead.Seal(body[:0], nonce[:], body, pkt[:espHeaderLen])
		if len(out) != encLen+gcmICVLen {
			return dst[:start], fmt.Errorf("ipsec: AES-GCM produced %d octets, want %d", len(out), encLen+gcmICVLen)
		}
	default:
		if sa.block != nil {
			cipher.NewCBCEncrypter(sa.block, iv).CryptBlocks(body, body)
		}
		icv := hmacICV(sa.p.IntegrityKey.bytes(), pkt[:espHeaderLen+ivLen+encLen])
		copy(pkt[espHeaderLen+ivLen+encLen:], icv[:hmacICVLen])
	}
	return dst, nil
}

// hmacICV is HMAC-SHA-256 over data, whose first 16 octets are the
// HMAC-SHA-256-128 ICV (RFC 4868 §2.3).
func hmacICV(key, data []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n)
	copy(nb, b)
	return nb
}

// Open finds the inbound SA of packet (an ESP header onwards) by its SPI,
// checks the anti-replay window, verifies the ICV, decrypts, checks the
// padding (1, 2, 3, ...: RFC 4303 §2.4) and only then records the sequence
// number in the window (RFC 4303 §3.4.3). It returns the trailer's Next
// Header and the upper-layer payload.
//
// Open decrypts in place: payload aliases packet, whose contents are
// overwritten (also on failure). Errors wrap ErrUnknownSPI, ErrExpired,
// ErrReplay, ErrICV or ErrMalformed.
func (d *SAD) Open(packet []byte) (nextHeader uint8, payload []byte, sa *SA, err error) {
	if len(packet) < espHeaderLen {
		return 0, nil, nil, fmt.Errorf("%w: %d octets, shorter than the ESP header", ErrMalformed, len(packet))
	}
	spi := be.Uint32(packet[0:])
	sa = d.Lookup(spi)
	if sa == nil {
		return 0, nil, nil, fmt.Errorf("%w: 0x%08x", ErrUnknownSPI, spi)
	}
	nextHeader, payload, err = open(sa, packet)
	return nextHeader, payload, sa, err
}

// Open is SAD.Open for a known SA (its SPI must be the packet's).
func Open(sa *SA, packet []byte) (nextHeader uint8, payload []byte, err error) {
	if len(packet) < espHeaderLen {
		return 0, nil, fmt.Errorf("%w: %d octets, shorter than the ESP header", ErrMalformed, len(packet))
	}
	if spi := be.Uint32(packet[0:]); spi != sa.p.SPI {
		return 0, nil, fmt.Errorf("%w: 0x%08x is not the SPI of SA %q", ErrUnknownSPI, spi, sa.p.Name)
	}
	return open(sa, packet)
}

func open(sa *SA, packet []byte) (uint8, []byte, error) {
	if sa.p.Direction != Inbound {
		return 0, nil, fmt.Errorf("%w: SA %q is not inbound", ErrUnknownSPI, sa.p.Name)
	}
	e := sa.p.Encryption
	ivLen := e.ivLen()
	a := e.align()
	encLen := len(packet) - espHeaderLen - ivLen - sa.icv
	if encLen < a || encLen%a != 0 {
		return 0, nil, fmt.Errorf("%w: %d octets do not hold an ESP packet for %v (encrypted part %d, not a positive multiple of %d)", ErrMalformed, len(packet), e, encLen, a)
	}
	seq := be.Uint32(packet[4:])
	antiReplay := !sa.p.DisableAntiReplay

	// Cheap checks first (RFC 4303 §3.4.3): lifetime and window, before
	// spending the ICV computation on the packet.
	sa.mu.Lock()
	if sa.hardLocked(sa.now()) {
		sa.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: %s", ErrExpired, sa.p.Name)
	}
	if antiReplay {
		if err := sa.win.check(seq); err != nil {
			sa.mu.Unlock()
			return 0, nil, fmt.Errorf("%w: SA %q sequence number %d", err, sa.p.Name, seq)
		}
	}
	sa.mu.Unlock()

	iv := packet[espHeaderLen : espHeaderLen+ivLen]
	body := packet[espHeaderLen+ivLen : espHeaderLen+ivLen+encLen]
	switch {
	case sa.aead != nil:
		var nonce [gcmSaltLen + gcmIVLen]byte
		copy(nonce[:], sa.salt[:])
		copy(nonce[gcmSaltLen:], iv)
		ct := packet[espHeaderLen+ivLen:]
		if _, err := sa.aead.Open(ct[:0], nonce[:], ct, packet[:espHeaderLen]); err != nil {
			return 0, nil, fmt.Errorf("%w: SA %q sequence number %d", ErrICV, sa.p.Name, seq)
		}
	default:
		want := hmacICV(sa.p.IntegrityKey.bytes(), packet[:espHeaderLen+ivLen+encLen])
		if !hmac.Equal(want[:hmacICVLen], packet[espHeaderLen+ivLen+encLen:]) {
			return 0, nil, fmt.Errorf("%w: SA %q sequence number %d", ErrICV, sa.p.Name, seq)
		}
		if sa.block != nil {
			cipher.NewCBCDecrypter(sa.block, iv).CryptBlocks(body, body)
		}
	}

	padLen := int(body[encLen-2])
	nextHeader := body[encLen-1]
	if padLen+2 > encLen {
		return 0, nil, fmt.Errorf("%w: Pad Length %d does not fit %d octets", ErrMalformed, padLen, encLen)
	}
	n := encLen - 2 - padLen
	for i, b := range body[n : encLen-2] {
		if b != byte(i+1) {
			return 0, nil, fmt.Errorf("%w: padding octet %d is %d, want %d (RFC 4303 §2.4)", ErrMalformed, i+1, b, i+1)
		}
	}

	// Authenticated: record the sequence number, account the packet.
	sa.mu.Lock()
	now := sa.now()
	if sa.hardLocked(now) {
		sa.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: %s", ErrExpired, sa.p.Name)
	}
	if antiReplay {
		// Another goroutine may have accepted the same number meanwhile.
		if err := sa.win.check(seq); err != nil {
			sa.mu.Unlock()
			return 0, nil, fmt.Errorf("%w: SA %q sequence number %d", err, sa.p.Name, seq)
		}
		sa.win.accept(seq)
	} else if seq > sa.win.top {
		sa.win.top = seq
	}
	sa.packets++
	sa.bytes += uint64(n)
	soft := sa.softLocked(now)
	cb := sa.onSoft
	sa.mu.Unlock()
	if soft && cb != nil {
		cb(sa)
	}
	return nextHeader, body[:n], nil
}
