package smb

import (
	"crypto/cipher"
	"crypto/subtle"
)

// cmacSum is AES-CMAC (RFC 4493, NIST SP 800-38B) of msg under the block
// cipher b: SMB 3.0 and 3.0.2 sign with it. It allocates nothing.
func cmacSum(b cipher.Block, msg []byte) [16]byte {
	var k1, k2, x, last [16]byte
	b.Encrypt(k1[:], k1[:]) // L = E(0)
	k1 = dbl(k1)
	k2 = dbl(k1)

	// Every block but the last goes through CBC; the last is XORed with
	// K1 if it is complete, else padded with 10* and XORed with K2.
	n := len(msg)
	full := n > 0 && n%16 == 0
	nblocks := (n + 15) / 16
	if nblocks == 0 {
		nblocks = 1
	}
	for i := 0; i < nblocks-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[16*i:16*i+16])
		b.Encrypt(x[:], x[:])
	}
	tail := msg[16*(nblocks-1):]
	if full {
		subtle.XORBytes(last[:], tail, k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	b.Encrypt(x[:], x[:])
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
