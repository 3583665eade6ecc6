package identity

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
)

// NTHash is the NT one-way function of a password: MD4 of its UTF-16LE
// encoding. It is what NTLM proves knowledge of, so it is all the server
// keeps of a password.
func NTHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return md4Sum(b)
}

// md4Sum is MD4 (RFC 1320). MD4 is broken as a general hash; it is here only
// because the NT hash is defined with it.
func md4Sum(msg []byte) [16]byte {
	a, b, c, d := uint32(0x67452301), uint32(0xefcdab89), uint32(0x98badcfe), uint32(0x10325476)

	// The padding: 0x80, zeros up to 56 mod 64, then the bit length
	// little-endian.
	n := len(msg)
	padded := make([]byte, (n+8)/64*64+64)
	copy(padded, msg)
	padded[n] = 0x80
	binary.LittleEndian.PutUint64(padded[len(padded)-8:], uint64(n)<<3)

	var x [16]uint32
	for p := padded; len(p) > 0; p = p[64:] {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(p[4*i:])
		}
		aa, bb, cc, dd := a, b, c, d

		// Round 1: F(x,y,z) = xy | ~x z.
		for _, i := range [4]int{0, 4, 8, 12} {
			a = bits.RotateLeft32(a+(b&c|^b&d)+x[i], 3)
			d = bits.RotateLeft32(d+(a&b|^a&c)+x[i+1], 7)
			c = bits.RotateLeft32(c+(d&a|^d&b)+x[i+2], 11)
			b = bits.RotateLeft32(b+(c&d|^c&a)+x[i+3], 19)
		}
		// Round 2: G(x,y,z) = xy | xz | yz, constant sqrt(2).
		for _, i := range [4]int{0, 1, 2, 3} {
			a = bits.RotateLeft32(a+(b&c|b&d|c&d)+x[i]+0x5a827999, 3)
			d = bits.RotateLeft32(d+(a&b|a&c|b&c)+x[i+4]+0x5a827999, 5)
			c = bits.RotateLeft32(c+(d&a|d&b|a&b)+x[i+8]+0x5a827999, 9)
			b = bits.RotateLeft32(b+(c&d|c&a|d&a)+x[i+12]+0x5a827999, 13)
		}
		// Round 3: H(x,y,z) = x ^ y ^ z, constant sqrt(3).
		for _, i := range [4]int{0, 2, 1, 3} {
			a = bits.RotateLeft32(a+(b^c^d)+x[i]+0x6ed9eba1, 3)
			d = bits.RotateLeft32(d+(a^b^c)+x[i+8]+0x6ed9eba1, 9)
			c = bits.RotateLeft32(c+(d^a^b)+x[i+4]+0x6ed9eba1, 11)
			b = bits.RotateLeft32(b+(c^d^a)+x[i+12]+0x6ed9eba1, 15)
		}
		a += aa
		b += bb
		c += cc
		d += dd
	}
	var sum [16]byte
	binary.LittleEndian.PutUint32(sum[0:], a)
	binary.LittleEndian.PutUint32(sum[4:], b)
	binary.LittleEndian.PutUint32(sum[8:], c)
	binary.LittleEndian.PutUint32(sum[12:], d)
	return sum
}
