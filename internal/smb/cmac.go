package smb

import (
	"crypto/subtle"
)

// cmacKey is an AES-CMAC key (RFC 4493, NIST SP 800-38B), with its two
// subkeys worked out once: SMB 3.x signs every message with it.
type cmacKey struct {
	mac    cbcMAC
	k1, k2 [16]byte
}

func newCMACKey(key []byte) (*cmacKey, error) {
	m, err := newCBCMAC(key)
	if err != nil {
		return nil, err
	}
	k := &cmacKey{mac: m}
	m.b.Encrypt(k.k1[:], k.k1[:]) // L = E(0)
	k.k1 = dbl(k.k1)
	k.k2 = dbl(k.k1)
	return k, nil
}

// sum is the CMAC of msg. It allocates nothing.
func (k *cmacKey) sum(msg []byte) [16]byte {
	var x, last [16]byte
	// Every block but the last goes through CBC; the last is XORed with
	// K1 if it is complete, else padded with 10* and XORed with K2.
	n := len(msg)
	full := n > 0 && n%16 == 0
	nblocks := (n + 15) / 16
	if nblocks == 0 {
		nblocks = 1
	}
	k.mac.blocks(&x, msg[:16*(nblocks-1)])
	tail := msg[16*(nblocks-1):]
	if full {
		subtle.XORBytes(last[:], tail, k.k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k.k2[:])
	}
	k.mac.blocks(&x, last[:])
	return x
}

// dbl is doubling in GF(2^128) with the CMAC polynomial: a left shift by
// one bit, XORing 0x87 into the last byte if a bit fell off.
func dbl(v [16]byte) [16]byte {
	var out [16]byte
	carry := v[0] >> 7
	for i := range 15 {
		out[i] = v[i]<<1 | v[i+1]>>7
	}
	out[15] = v[15] << 1
	out[15] ^= 0x87 * carry
	return out
}
