package smbclient

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
)

// Message signing (MS-SMB2 3.1.4.1): the signature is a MAC of the whole
// message with the Signature field zeroed, cut to 16 bytes. 2.0.2 and 2.1
// use HMAC-SHA256 under the session key; 3.0 and 3.0.2 AES-CMAC under a
// key derived from it with the label "SMB2AESCMAC" and context "SmbSign";
// 3.1.1 AES-CMAC (no signing algorithm is negotiated by this client) under
// a key derived with the label "SMBSigningKey" and the session's preauth
// integrity hash as context.

type signer interface {
	sum(msg []byte) [16]byte
}

type hmacSHA256 []byte

func (k hmacSHA256) sum(msg []byte) (s [16]byte) {
	h := hmac.New(sha256.New, k)
	h.Write(msg)
	copy(s[:], h.Sum(nil))
	return s
}

// cmac is AES-CMAC (RFC 4493).
type cmac struct {
	b      cipher.Block
	k1, k2 [16]byte
}

func newCMAC(key []byte) *cmac {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // keys are 16 bytes by construction
	}
	c := &cmac{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	c.k1 = shiftXor(l)
	c.k2 = shiftXor(c.k1)
	return c
}

// shiftXor doubles v in GF(2^128): shift left one bit, and if a bit fell
// off the top, XOR Rb = 0x87 into the last byte.
func shiftXor(v [16]byte) [16]byte {
	hi := binary.BigEndian.Uint64(v[:8])
	lo := binary.BigEndian.Uint64(v[8:])
	msb := hi >> 63
	hi = hi<<1 | lo>>63
	lo <<= 1
	lo ^= 0x87 * msb
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], hi)
	binary.BigEndian.PutUint64(out[8:], lo)
	return out
}

func (c *cmac) sum(msg []byte) [16]byte {
	var state [16]byte
	for len(msg) > 16 {
		for i := range state {
			state[i] ^= msg[i]
		}
		c.b.Encrypt(state[:], state[:])
		msg = msg[16:]
	}
	// The last block: complete, XOR K1; short (or none), pad 10* and
	// XOR K2.
	var last [16]byte
	k := c.k1
	copy(last[:], msg)
	if len(msg) < 16 {
		last[len(msg)] = 0x80
		k = c.k2
	}
	for i := range state {
		state[i] ^= last[i] ^ k[i]
	}
	c.b.Encrypt(state[:], state[:])
	return state
}

// sign marks m signed and writes its signature.
func signMessage(s signer, m []byte) {
	binary.LittleEndian.PutUint32(m[16:], binary.LittleEndian.Uint32(m[16:])|flagSigned)
	clear(m[48:64])
	sig := s.sum(m)
	copy(m[48:64], sig[:])
}

// verifySignature checks the signature of a received message.
func verifySignature(s signer, m []byte) bool {
	var got [16]byte
	copy(got[:], m[48:64])
	clear(m[48:64])
	want := s.sum(m)
	copy(m[48:64], got[:])
	return hmac.Equal(got[:], want[:])
}

// kdf is SP 800-108 in counter mode with HMAC-SHA256, one round, 128 bits
// out, as SMB 3.x derives its keys. Labels carry their NUL.
func kdf(key []byte, label, context string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte{0, 0, 0, 1})
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write([]byte(context))
	h.Write([]byte{0, 0, 0, 128})
	return h.Sum(nil)[:16]
}

// sessionSigner is the signer of a session of dialect d with the given
// session key and (3.1.1) preauth hash.
func sessionSigner(d Dialect, key []byte, preauth [64]byte) signer {
	key16 := make([]byte, 16)
	copy(key16, key)
	switch {
	case d >= Dialect311:
		return newCMAC(kdf(key16, "SMBSigningKey\x00", string(preauth[:])))
	case d >= Dialect300:
		return newCMAC(kdf(key16, "SMB2AESCMAC\x00", "SmbSign\x00"))
	}
	return hmacSHA256(key16)
}

// preauthUpdate folds one message into a 3.1.1 preauth integrity hash
// (SHA-512 of the previous value and the message).
func preauthUpdate(h [64]byte, msg []byte) [64]byte {
	d := sha512.New()
	d.Write(h[:])
	d.Write(msg)
	var out [64]byte
	copy(out[:], d.Sum(nil))
	return out
}
