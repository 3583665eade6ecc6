package smb

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// ccm is AES-CCM (RFC 3610, NIST SP 800-38C) as a cipher.AEAD. SMB 3.x
// encrypts with an 11-byte nonce and a 16-byte tag; other sizes are
// accepted so that the published vectors can test it.
type ccm struct {
	b         cipher.Block
	chain     cbcMAC
	nonceSize int // 7..13; the length field takes the rest: L = 15 - nonceSize
	tagSize   int // 4..16, even
}

func newCCM(key []byte, nonceSize, tagSize int) (cipher.AEAD, error) {
	if nonceSize < 7 || nonceSize > 13 || tagSize < 4 || tagSize > 16 || tagSize%2 != 0 {
		return nil, errors.New("smb: invalid CCM parameters")
	}
	m, err := newCBCMAC(key)
	if err != nil {
		return nil, err
	}
	return &ccm{b: m.b, chain: m, nonceSize: nonceSize, tagSize: tagSize}, nil
}

func (c *ccm) NonceSize() int { return c.nonceSize }
func (c *ccm) Overhead() int  { return c.tagSize }

// maxLen is the longest message the length field can express.
func (c *ccm) maxLen() uint64 {
	l := 15 - c.nonceSize
	if l >= 8 {
		return 1<<63 - 1
	}
	return 1<<(8*l) - 1
}

// mac is the CBC-MAC of B0, the encoded associated data and the
// plaintext, each padded to the block size.
func (c *ccm) mac(nonce, aad, plaintext []byte) [16]byte {
	var x, blk [16]byte
	l := 15 - c.nonceSize
	blk[0] = byte((c.tagSize-2)/2<<3 | (l - 1))
	if len(aad) > 0 {
		blk[0] |= 0x40
	}
	copy(blk[1:], nonce)
	q := uint64(len(plaintext))
	for i := 15; i > c.nonceSize; i-- {
		blk[i] = byte(q)
		q >>= 8
	}
	c.chain.blocks(&x, blk[:]) // x is zero: E(B0)

	if len(aad) > 0 {
		// The length prefix of the associated data, then the data.
		var hdr [10]byte
		var h []byte
		switch n := uint64(len(aad)); {
		case n < 0xff00:
			h = binary.BigEndian.AppendUint16(hdr[:0], uint16(n))
		case n <= 0xffffffff:
			h = binary.BigEndian.AppendUint32(append(hdr[:0], 0xff, 0xfe), uint32(n))
		default:
			h = binary.BigEndian.AppendUint64(append(hdr[:0], 0xff, 0xff), n)
		}
		blk = [16]byte{}
		k := copy(blk[:], h)
		k += copy(blk[k:], aad)
		rest := aad[k-len(h):]
		c.chain.blocks(&x, blk[:])
		c.cbc(&x, rest)
	}
	c.cbc(&x, plaintext)
	return x
}

// cbc continues the CBC-MAC state x over p, zero-padded to a block.
func (c *ccm) cbc(x *[16]byte, p []byte) {
	full := len(p) &^ 15
	c.chain.blocks(x, p[:full])
	if p = p[full:]; len(p) > 0 {
		var last [16]byte
		copy(last[:], p)
		c.chain.blocks(x, last[:])
	}
}

// ctr XORs src with the key stream starting at counter block i into dst.
func (c *ccm) ctr(dst, src, nonce []byte, i uint64) {
	var iv [16]byte
	iv[0] = byte(15 - c.nonceSize - 1)
	copy(iv[1:], nonce)
	for j := 15; j > c.nonceSize; j-- {
		iv[j] = byte(i)
		i >>= 8
	}
	cipher.NewCTR(c.b, iv[:]).XORKeyStream(dst, src)
}

func (c *ccm) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != c.nonceSize || uint64(len(plaintext)) > c.maxLen() {
		panic("smb: CCM nonce or message size")
	}
	t := c.mac(nonce, aad, plaintext)
	ret, out := sliceForAppend(dst, len(plaintext)+c.tagSize)
	var s0 [16]byte
	c.ctr(s0[:], s0[:], nonce, 0)
	c.ctr(out[:len(plaintext)], plaintext, nonce, 1)
	subtle.XORBytes(out[len(plaintext):], t[:c.tagSize], s0[:c.tagSize])
	return ret
}

var errOpen = errors.New("smb: message authentication failed")

func (c *ccm) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != c.nonceSize || len(ciphertext) < c.tagSize || uint64(len(ciphertext)-c.tagSize) > c.maxLen() {
		return nil, errOpen
	}
	n := len(ciphertext) - c.tagSize
	tag := ciphertext[n:]
	ret, out := sliceForAppend(dst, n)
	c.ctr(out, ciphertext[:n], nonce, 1)
	t := c.mac(nonce, aad, out)
	var s0 [16]byte
	c.ctr(s0[:], s0[:], nonce, 0)
	subtle.XORBytes(t[:c.tagSize], t[:c.tagSize], s0[:c.tagSize])
	if subtle.ConstantTimeCompare(t[:c.tagSize], tag) != 1 {
		clear(out)
		return nil, errOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, reallocating if needed, and
// returns the whole slice and the new tail.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
