package ipsec

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"strings"
)

// Encryption is an ESP encryption (or combined mode) transform.
type Encryption uint8

// Encryption transforms.
const (
	EncInvalid   Encryption = iota
	EncNull                 // RFC 2410; integrity must be HMAC-SHA-256-128
	EncAESCBC128            // RFC 3602, 16-octet random IV
	EncAESCBC256            // RFC 3602
	EncAESGCM128            // RFC 4106, 16-octet ICV; key material = 16-octet key || 4-octet salt
	EncAESGCM256            // RFC 4106, 16-octet ICV; key material = 32-octet key || 4-octet salt
)

// Integrity is an ESP integrity transform (none for the combined modes).
type Integrity uint8

// Integrity transforms.
const (
	IntegNone          Integrity = iota
	IntegHMACSHA256128           // RFC 4868: HMAC-SHA-256 with a 32-octet key, ICV truncated to 16 octets
)

// ICV and IV sizes.
const (
	gcmICVLen    = 16
	gcmIVLen     = 8
	gcmSaltLen   = 4
	hmacICVLen   = 16
	hmacKeyLen   = 32
	cbcIVLen     = aes.BlockSize
	espHeaderLen = 8 // SPI + Sequence Number
)

var encNames = map[Encryption]string{
	EncNull: "null", EncAESCBC128: "aes-cbc-128", EncAESCBC256: "aes-cbc-256",
	EncAESGCM128: "aes-gcm-128", EncAESGCM256: "aes-gcm-256",
}

var encAliases = map[string]Encryption{
	"null": EncNull, "aes-cbc-128": EncAESCBC128, "aes128": EncAESCBC128, "aes-cbc-256": EncAESCBC256, "aes256": EncAESCBC256,
	"aes-gcm-128": EncAESGCM128, "aes128gcm16": EncAESGCM128, "aes-gcm-256": EncAESGCM256, "aes256gcm16": EncAESGCM256,
}

func (e Encryption) String() string {
	if s, ok := encNames[e]; ok {
		return s
	}
	return fmt.Sprintf("encryption(%d)", uint8(e))
}

// MarshalText gives the configuration name.
func (e Encryption) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// ParseEncryption accepts the names of String and strongSwan's
// aes128/aes256/aes128gcm16/aes256gcm16.
func ParseEncryption(s string) (Encryption, error) {
	if e, ok := encAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return e, nil
	}
	return EncInvalid, fmt.Errorf("unknown encryption %q (want aes-gcm-128, aes-gcm-256, aes-cbc-128, aes-cbc-256 or null)", s)
}

func (i Integrity) String() string {
	switch i {
	case IntegNone:
		return "none"
	case IntegHMACSHA256128:
		return "hmac-sha256-128"
	}
	return fmt.Sprintf("integrity(%d)", uint8(i))
}

// MarshalText gives the configuration name.
func (i Integrity) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// ParseIntegrity accepts "" and "none" (combined modes only),
// "hmac-sha256-128", "hmac-sha2-256-128" and "sha256".
func ParseIntegrity(s string) (Integrity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return IntegNone, nil
	case "hmac-sha256-128", "hmac-sha2-256-128", "sha256", "sha256_128":
		return IntegHMACSHA256128, nil
	}
	return IntegNone, fmt.Errorf("unknown integrity %q (want hmac-sha256-128, or none with AES-GCM)", s)
}

// AEAD reports whether e is a combined mode (its own ICV, no integrity
// transform).
func (e Encryption) AEAD() bool { return e == EncAESGCM128 || e == EncAESGCM256 }

// KeyLen is the length of the key material e needs, salt included.
func (e Encryption) KeyLen() int {
	switch e {
	case EncAESCBC128:
		return 16
	case EncAESCBC256:
		return 32
	case EncAESGCM128:
		return 16 + gcmSaltLen
	case EncAESGCM256:
		return 32 + gcmSaltLen
	}
	return 0
}

// ivLen is the length of the IV carried in each packet.
func (e Encryption) ivLen() int {
	switch e {
	case EncAESCBC128, EncAESCBC256:
		return cbcIVLen
	case EncAESGCM128, EncAESGCM256:
		return gcmIVLen
	}
	return 0
}

// align is the multiple the encrypted part (payload, padding, Pad Length,
// Next Header) must fill: the cipher block, and at least 4 octets
// (RFC 4303 §2.4; RFC 4106 §3.2).
func (e Encryption) align() int {
	if e == EncAESCBC128 || e == EncAESCBC256 {
		return aes.BlockSize
	}
	return 4
}

// checkTransforms says whether the pair is one this package supports.
func checkTransforms(e Encryption, i Integrity) error {
	if _, ok := encNames[e]; !ok {
		return fmt.Errorf("unsupported encryption %v", e)
	}
	switch {
	case e.AEAD() && i != IntegNone:
		return fmt.Errorf("%v carries its own ICV: integrity must be none, not %v", e, i)
	case !e.AEAD() && i != IntegHMACSHA256128:
		return fmt.Errorf("%v needs integrity hmac-sha256-128 (RFC 5213 §4: integrity is mandatory)", e)
	}
	return nil
}

// icvLen is the ICV length of the pair.
func icvLen(e Encryption, i Integrity) int {
	if e.AEAD() {
		return gcmICVLen
	}
	if i == IntegHMACSHA256128 {
		return hmacICVLen
	}
	return 0
}

// newCipher builds the cipher state from the key material.
func newCipher(e Encryption, key []byte) (block cipher.Block, aead cipher.AEAD, salt [gcmSaltLen]byte, err error) {
	if len(key) != e.KeyLen() {
		return nil, nil, salt, fmt.Errorf("%v needs %d octets of key material, got %d", e, e.KeyLen(), len(key))
	}
	switch e {
	case EncNull:
		return nil, nil, salt, nil
	case EncAESCBC128, EncAESCBC256:
		block, err = aes.NewCipher(key)
		return block, nil, salt, err
	case EncAESGCM128, EncAESGCM256:
		n := len(key) - gcmSaltLen
		copy(salt[:], key[n:]) // RFC 4106 §8.1: the last four octets are the salt
		b, err := aes.NewCipher(key[:n])
		if err != nil {
			return nil, nil, salt, err
		}
		aead, err = cipher.NewGCM(b) // 12-octet nonce, 16-octet tag
		return nil, aead, salt, err
	}
	return nil, nil, salt, fmt.Errorf("unsupported encryption %v", e)
}
