package smb

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf16"
)

// NTLMSSP (MS-NLMP) is the authentication inside SPNEGO: the client sends
// NEGOTIATE, the server a CHALLENGE with 8 random bytes, the client an
// AUTHENTICATE whose NTLMv2 response is an HMAC-MD5 proof over that
// challenge keyed by the user's NT hash. The server, which knows the hash,
// recomputes the proof; both then derive the same session key without it
// crossing the wire. NTLMv1 and LM responses are refused: they are
// crackable and no supported client needs them.

// NTLMSSP negotiate flags (MS-NLMP 2.2.2.5).
const (
	ntlmNegotiateUnicode    uint32 = 0x00000001
	ntlmNegotiateOEM        uint32 = 0x00000002
	ntlmRequestTarget       uint32 = 0x00000004
	ntlmNegotiateSign       uint32 = 0x00000010
	ntlmNegotiateSeal       uint32 = 0x00000020
	ntlmNegotiateNTLM       uint32 = 0x00000200
	ntlmAnonymous           uint32 = 0x00000800
	ntlmNegotiateAlwaysSign uint32 = 0x00008000
	ntlmTargetTypeServer    uint32 = 0x00020000
	ntlmNegotiateExtSec     uint32 = 0x00080000
	ntlmNegotiateTargetInfo uint32 = 0x00800000
	ntlmNegotiateVersion    uint32 = 0x02000000
	ntlmNegotiate128        uint32 = 0x20000000
	ntlmNegotiateKeyExch    uint32 = 0x40000000
	ntlmNegotiate56         uint32 = 0x80000000
)

// AV pair ids of the target info (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0
	avNbComputerName  = 1
	avNbDomainName    = 2
	avDNSComputerName = 3
	avDNSDomainName   = 4
	avFlags           = 6
	avTimestamp       = 7
)

var ntlmSignature = []byte("NTLMSSP\x00")

var errNTLM = errors.New("smb: malformed NTLMSSP message")

// ntlmServer is the server side of one NTLM exchange.
type ntlmServer struct {
	computer, domain string // NetBIOS names announced in the challenge

	flags     uint32
	challenge [8]byte
	negotiate []byte // the client's NEGOTIATE, kept for the MIC
	challMsg  []byte // our CHALLENGE, kept for the MIC
}

// ntlmVersion is the VERSION structure sent in the CHALLENGE: Windows
// 10.0 build 20348 with NTLM revision 15, what current clients expect.
var ntlmVersion = [8]byte{10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f}

// challengeMessage answers a NEGOTIATE message with a CHALLENGE. now is
// the server time as a FILETIME.
func (n *ntlmServer) challengeMessage(negotiate []byte, now uint64) ([]byte, error) {
	if len(negotiate) < 16 || !bytes.Equal(negotiate[:8], ntlmSignature) || binary.LittleEndian.Uint32(negotiate[8:]) != 1 {
		return nil, errNTLM
	}
	n.negotiate = bytes.Clone(negotiate)
	cf := binary.LittleEndian.Uint32(negotiate[12:])
	if cf&ntlmNegotiateUnicode == 0 {
		return nil, errNTLM // every client in use speaks Unicode
	}
	n.flags = ntlmNegotiateUnicode | ntlmRequestTarget | ntlmNegotiateNTLM | ntlmNegotiateAlwaysSign |
		ntlmTargetTypeServer | ntlmNegotiateExtSec | ntlmNegotiateTargetInfo | ntlmNegotiateVersion
	n.flags |= cf & (ntlmNegotiateSign | ntlmNegotiateSeal | ntlmNegotiate128 | ntlmNegotiateKeyExch | ntlmNegotiate56)
	if _, err := rand.Read(n.challenge[:]); err != nil {
		return nil, err
	}

	target := utf16le(n.domain)
	var info []byte
	info = appendAV(info, avNbDomainName, utf16le(n.domain))
	info = appendAV(info, avNbComputerName, utf16le(n.computer))
	info = appendAV(info, avDNSDomainName, utf16le(strings.ToLower(n.domain)))
	info = appendAV(info, avDNSComputerName, utf16le(strings.ToLower(n.computer)))
	info = appendAV(info, avTimestamp, binary.LittleEndian.AppendUint64(nil, now))
	info = appendAV(info, avEOL, nil)

	const fixed = 56
	m := make([]byte, fixed, fixed+len(target)+len(info))
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	putField(m[12:], len(target), fixed)
	binary.LittleEndian.PutUint32(m[20:], n.flags)
	copy(m[24:32], n.challenge[:])
	putField(m[40:], len(info), fixed+len(target))
	copy(m[48:56], ntlmVersion[:])
	m = append(m, target...)
	m = append(m, info...)
	n.challMsg = m
	return m, nil
}

// putField writes an NTLM (len, maxlen, offset) field.
func putField(b []byte, n, off int) {
	binary.LittleEndian.PutUint16(b, uint16(n))
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], uint32(off))
}

// field reads an NTLM (len, maxlen, offset) field of msg at off.
func field(msg []byte, off int) ([]byte, error) {
	if len(msg) < off+8 {
		return nil, errNTLM
	}
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	o := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if n == 0 {
		return nil, nil
	}
	if o < 0 || o > len(msg) || n > len(msg)-o {
		return nil, errNTLM
	}
	return msg[o : o+n], nil
}

func appendAV(b []byte, id uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	return append(b, val...)
}

// ntlmAuth is a parsed AUTHENTICATE message.
type ntlmAuth struct {
	raw                  []byte
	lm, nt               []byte
	domain, user, wks    string
	encryptedKey         []byte
	flags                uint32
	micOffset            int // 0 when the message carries no MIC
	anonymous            bool
	clientAVFlags        uint32
	hasClientTargetFlags bool
}

// parseAuthenticate reads an AUTHENTICATE message.
func parseAuthenticate(msg []byte) (*ntlmAuth, error) {
	if len(msg) < 64 || !bytes.Equal(msg[:8], ntlmSignature) || binary.LittleEndian.Uint32(msg[8:]) != 3 {
		return nil, errNTLM
	}
	a := &ntlmAuth{raw: msg}
	var err error
	var dom, user, wks []byte
	for _, f := range []struct {
		dst *[]byte
		off int
	}{{&a.lm, 12}, {&a.nt, 20}, {&dom, 28}, {&user, 36}, {&wks, 44}, {&a.encryptedKey, 52}} {
		if *f.dst, err = field(msg, f.off); err != nil {
			return nil, err
		}
	}
	a.flags = binary.LittleEndian.Uint32(msg[60:])
	if a.flags&ntlmNegotiateUnicode == 0 {
		return nil, errNTLM
	}
	if a.domain, err = fromUTF16le(dom); err != nil {
		return nil, err
	}
	if a.user, err = fromUTF16le(user); err != nil {
		return nil, err
	}
	if a.wks, err = fromUTF16le(wks); err != nil {
		return nil, err
	}
	a.anonymous = a.user == "" && len(a.nt) == 0 && (len(a.lm) == 0 || bytes.Equal(a.lm, []byte{0}))
	// A response longer than NTLMv1's 24 bytes is NTLMv2: a proof, the
	// 28-byte fixed part of the client challenge and an AV pair list
	// ended by MsvAvEOL (MS-NLMP 2.2.2.7). One that does not parse is a
	// malformed message, not a wrong password.
	if len(a.nt) > 24 && (len(a.nt) < 16+28 || !validAVList(a.nt[16+28:])) {
		return nil, errNTLM
	}
	if len(a.nt) > 16+28 {
		// The AV pairs of the NTLMv2 client challenge start after its
		// 28-byte fixed part; the flags say whether a MIC is present.
		if av, ok := findAV(a.nt[16+28:], avFlags); ok && len(av) == 4 {
			a.clientAVFlags = binary.LittleEndian.Uint32(av)
			a.hasClientTargetFlags = true
			if a.clientAVFlags&0x2 != 0 && len(msg) >= 88 {
				a.micOffset = 72
			}
		}
	}
	return a, nil
}

// validAVList reports whether b holds AV pairs that each fit, up to and
// including an MsvAvEOL; what follows it is padding.
func validAVList(b []byte) bool {
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return false
		}
		if binary.LittleEndian.Uint16(b) == avEOL {
			return true
		}
		b = b[4+n:]
	}
	return false
}

// findAV finds an AV pair's value in a list.
func findAV(b []byte, id uint16) ([]byte, bool) {
	for len(b) >= 4 {
		t := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if t == avEOL || len(b) < 4+n {
			return nil, false
		}
		if t == id {
			return b[4 : 4+n], true
		}
		b = b[4+n:]
	}
	return nil, false
}

// verify checks the NTLMv2 response of a against the user's NT hash and
// returns the exported session key. The domain used in the proof is the
// one the client sent, as Windows does; clients that leave it empty or
// change its case are tried too.
func (n *ntlmServer) verify(a *ntlmAuth, ntHash [16]byte) ([16]byte, bool) {
	var key [16]byte
	if len(a.nt) < 16+28 {
		return key, false // NTLMv1 or garbage
	}
	proof, blob := a.nt[:16], a.nt[16:]
	tried := map[string]bool{}
	for _, dom := range []string{a.domain, strings.ToUpper(a.domain), ""} {
		if tried[dom] {
			continue
		}
		tried[dom] = true
		rk := ntowfv2(ntHash, a.user, dom)
		h := hmac.New(md5.New, rk[:])
		h.Write(n.challenge[:])
		h.Write(blob)
		want := h.Sum(nil)
		if subtle.ConstantTimeCompare(want, proof) != 1 {
			continue
		}
		h = hmac.New(md5.New, rk[:])
		h.Write(proof)
		var base [16]byte
		copy(base[:], h.Sum(nil))
		key = base
		if n.flags&ntlmNegotiateKeyExch != 0 && a.flags&ntlmNegotiateKeyExch != 0 {
			if len(a.encryptedKey) != 16 {
				return key, false
			}
			c, _ := rc4.NewCipher(base[:])
			c.XORKeyStream(key[:], a.encryptedKey)
		}
		if a.micOffset != 0 && !n.checkMIC(a, key) {
			return key, false
		}
		return key, true
	}
	return key, false
}

// ntowfv2 is NTOWFv2: HMAC-MD5 under the NT hash of the upper-cased user
// name and the domain, in UTF-16LE.
func ntowfv2(ntHash [16]byte, user, domain string) [16]byte {
	h := hmac.New(md5.New, ntHash[:])
	h.Write(utf16le(strings.ToUpper(user) + domain))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// checkMIC verifies the message integrity code over the three messages,
// which binds the NEGOTIATE and CHALLENGE (and their flags) to the proof.
func (n *ntlmServer) checkMIC(a *ntlmAuth, key [16]byte) bool {
	var got [16]byte
	copy(got[:], a.raw[a.micOffset:a.micOffset+16])
	zeroed := bytes.Clone(a.raw)
	clear(zeroed[a.micOffset : a.micOffset+16])
	h := hmac.New(md5.New, key[:])
	h.Write(n.negotiate)
	h.Write(n.challMsg)
	h.Write(zeroed)
	return subtle.ConstantTimeCompare(h.Sum(nil), got[:]) == 1
}

// NTLM session security, used here only for SPNEGO's mechListMIC: a MAC
// over the client's mechanism list that proves both sides saw the same
// list. The keys derive from the exported session key with fixed magic
// strings; with KEY_EXCH the checksum is further sealed with RC4.
var (
	magicClientSign = []byte("session key to client-to-server signing key magic constant\x00")
	magicServerSign = []byte("session key to server-to-client signing key magic constant\x00")
	magicClientSeal = []byte("session key to client-to-server sealing key magic constant\x00")
	magicServerSeal = []byte("session key to server-to-client sealing key magic constant\x00")
)

// ntlmMAC is the NTLMSSP_MESSAGE_SIGNATURE of msg with sequence number
// seq, from the client if fromClient, under exported session key key.
func ntlmMAC(key [16]byte, flags uint32, fromClient bool, seq uint32, msg []byte) [16]byte {
	signMagic, sealMagic := magicServerSign, magicServerSeal
	if fromClient {
		signMagic, sealMagic = magicClientSign, magicClientSeal
	}
	signKey := md5.Sum(append(key[:], signMagic...))
	sealBase := key[:]
	switch {
	case flags&ntlmNegotiate128 != 0:
	case flags&ntlmNegotiate56 != 0:
		sealBase = key[:7]
	default:
		sealBase = key[:5]
	}
	sealKey := md5.Sum(append(bytes.Clone(sealBase), sealMagic...))

	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], seq)
	h := hmac.New(md5.New, signKey[:])
	h.Write(seqb[:])
	h.Write(msg)
	sum := h.Sum(nil)
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], 1)
	copy(out[4:12], sum[:8])
	if flags&ntlmNegotiateKeyExch != 0 {
		c, _ := rc4.NewCipher(sealKey[:])
		c.XORKeyStream(out[4:12], out[4:12])
	}
	copy(out[12:], seqb[:])
	return out
}

// utf16le encodes s as UTF-16 little-endian.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

var errUTF16 = errors.New("smb: odd-length UTF-16 string")

// fromUTF16le decodes UTF-16 little-endian; unpaired surrogates become
// U+FFFD.
func fromUTF16le(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errUTF16
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}
