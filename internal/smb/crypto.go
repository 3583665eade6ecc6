package smb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"sync"
)

// kdf is the SP 800-108 key derivation in counter mode with HMAC-SHA256
// as SMB 3.x uses it (MS-SMB2 3.1.4.2): one block, since no key is longer
// than the 32 bytes of one HMAC output.
//
//	K = HMAC-SHA256(ki, [1]₃₂ ‖ label ‖ 0x00 ‖ context ‖ [bits]₃₂)[:bits/8]
func kdf(ki, label, context []byte, bits int) []byte {
	h := hmac.New(sha256.New, ki)
	h.Write([]byte{0, 0, 0, 1})
	h.Write(label)
	h.Write([]byte{0})
	h.Write(context)
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(bits)))
	return h.Sum(nil)[:bits/8]
}

// The labels and contexts of the keys, by dialect family. The NUL ending
// each is part of the label as the protocol defines it.
var (
	label30Sign    = []byte("SMB2AESCMAC\x00")
	ctx30Sign      = []byte("SmbSign\x00")
	label30Cipher  = []byte("SMB2AESCCM\x00")
	ctx30ServerIn  = []byte("ServerIn \x00")
	ctx30ServerOut = []byte("ServerOut\x00")

	label311Sign      = []byte("SMBSigningKey\x00")
	label311ServerIn  = []byte("SMBC2SCipherKey\x00")
	label311ServerOut = []byte("SMBS2CCipherKey\x00")
)

// Signing algorithm ids of the SMB2_SIGNING_CAPABILITIES context.
const (
	signHMACSHA256 uint16 = 0
	signAESCMAC    uint16 = 1
	signAESGMAC    uint16 = 2
)

// Cipher ids of the SMB2_ENCRYPTION_CAPABILITIES context.
const (
	cipherAES128CCM uint16 = 1
	cipherAES128GCM uint16 = 2
	cipherAES256CCM uint16 = 3
	cipherAES256GCM uint16 = 4
)

// signer computes a message signature. msg is one whole SMB2 message
// (header and body, with compound padding) whose signature field is zero.
type signer interface {
	sign(msg []byte) [16]byte
}

// hmacSigner is SMB 2.0.2 and 2.1 signing: HMAC-SHA256 under the session
// key, truncated to 16 bytes. The keyed hash states are kept for the next
// messages: making one hashes the key's two pads, as much work as
// signing a small message.
type hmacSigner struct {
	key    []byte
	hashes sync.Pool // of hash.Hash, keyed
}

func newHMACSigner(key []byte) *hmacSigner { return &hmacSigner{key: key} }

func (s *hmacSigner) sign(msg []byte) [16]byte {
	h, _ := s.hashes.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, s.key)
	}
	h.Write(msg)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	h.Reset()
	s.hashes.Put(h)
	return [16]byte(sum[:16])
}

// cmacSigner is SMB 3.x signing with AES-128-CMAC.
type cmacSigner struct{ k *cmacKey }

func (s cmacSigner) sign(msg []byte) [16]byte { return s.k.sum(msg) }

// gmacSigner is SMB 3.1.1 signing with AES-128-GMAC: GCM with an empty
// plaintext and the message as associated data. The nonce is the
// MessageId followed by a word whose bit 0 says the message is a response
// and bit 1 that it is a CANCEL, so that no two messages share one.
type gmacSigner struct{ g cipher.AEAD }

func (s gmacSigner) sign(msg []byte) [16]byte {
	var nonce [12]byte
	copy(nonce[:8], msg[24:32])
	var role uint32
	if Flags(binary.LittleEndian.Uint32(msg[16:]))&FlagResponse != 0 {
		role |= 1
	}
	if Command(binary.LittleEndian.Uint16(msg[12:])) == CmdCancel {
		role |= 2
	}
	binary.LittleEndian.PutUint32(nonce[8:], role)
	var out [16]byte
	s.g.Seal(out[:0], nonce[:], nil, msg)
	return out
}

// newSigner returns the signer of a session: HMAC-SHA256 under the session
// key for 2.x, else the negotiated algorithm (AES-CMAC unless 3.1.1 chose
// another) under the derived signing key.
func newSigner(dialect, algo uint16, sessionKey, signingKey []byte) signer {
	switch {
	case dialect < Dialect300:
		return newHMACSigner(sessionKey)
	case algo == signHMACSHA256:
		return newHMACSigner(signingKey)
	}
	if algo == signAESGMAC {
		b, err := aes.NewCipher(signingKey)
		if err != nil {
			panic(err) // a derived key always has a valid length
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			panic(err)
		}
		return gmacSigner{g: g}
	}
	k, err := newCMACKey(signingKey)
	if err != nil {
		panic(err)
	}
	return cmacSigner{k: k}
}

// verify checks msg's signature with s, comparing in constant time. The
// message is left as it came: a signed binding request enters the preauth
// hash with its signature.
func verify(s signer, msg []byte) bool {
	var got [16]byte
	copy(got[:], msg[48:64])
	clear(msg[48:64])
	want := s.sign(msg)
	copy(msg[48:64], got[:])
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// signMessage writes msg's signature into its header.
func signMessage(s signer, msg []byte) {
	clear(msg[48:64])
	sig := s.sign(msg)
	copy(msg[48:64], sig[:])
}

// newAEAD returns the cipher of an encryption key for the cipher id.
func newAEAD(id uint16, key []byte) (cipher.AEAD, error) {
	if id != cipherAES128GCM && id != cipherAES256GCM {
		return newCCM(key, 11, 16)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// cipherKeyBits is the key length of a cipher id.
func cipherKeyBits(id uint16) int {
	if id == cipherAES256CCM || id == cipherAES256GCM {
		return 256
	}
	return 128
}
