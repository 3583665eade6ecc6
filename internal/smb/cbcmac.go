package smb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// cbcMAC chains 16-byte blocks through AES in CBC mode, keeping only the
// last block: the core of CMAC (signing) and of CCM (encryption). It is
// serial by nature, one block cipher call per 16 bytes, and a 1 MiB
// WRITE or READ has 65,536 of them; calling cipher.Block for each one
// spends more on the call (its checks, the interface, loading the round
// keys) than on the AES rounds themselves. Where the CPU has AES
// instructions and the key is 128 bits, the whole chain runs in one
// assembly loop with the round keys held in registers.
type cbcMAC struct {
	b    cipher.Block
	keys *[176]byte // AES-128 round keys for the assembly loop; nil: use b
}

func newCBCMAC(key []byte) (cbcMAC, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return cbcMAC{}, err
	}
	m := cbcMAC{b: b}
	if len(key) == 16 && haveAESAsm {
		m.keys = new([176]byte)
		expandKey128(&key[0], m.keys)
	}
	return m, nil
}

// blocks continues the chain x over p, whose length is a multiple of 16.
func (m cbcMAC) blocks(x *[16]byte, p []byte) {
	if len(p) == 0 {
		return
	}
	if m.keys != nil {
		cbcMAC128(m.keys, x, &p[0], len(p)/16)
		return
	}
	// The chain is copied so that x itself does not escape through the
	// interface call and callers keep it on their stack.
	t := *x
	for ; len(p) >= 16; p = p[16:] {
		subtle.XORBytes(t[:], t[:], p[:16])
		m.b.Encrypt(t[:], t[:])
	}
	*x = t
}
