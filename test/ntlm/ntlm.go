// Package ntlm is the client side of NTLMv2 (MS-NLMP) inside SPNEGO
// (RFC 4178), for the test and benchmark clients of Tandem's SMB server:
// just enough to log on. A logon is three messages: the client's
// NEGOTIATE (Negotiate, wrapped by SPNEGOInit), the server's CHALLENGE
// (taken out of its SPNEGO answer by SPNEGOToken and read by
// ParseChallenge), and the client's AUTHENTICATE (Authenticate, wrapped by
// SPNEGOResponse), which proves the password without sending it.
//
// No key exchange, no MIC, no sealing: the session key Authenticate
// returns is the NTLMv2 session base key, which is what SMB signs with.
// The code is written from MS-NLMP independently of the server's, so that
// the two do not share mistakes.
package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 the NT hash is MD4 by definition; NTLM is what the servers speak
	"golang.org/x/crypto/md4"
)

const (
	ntlmNegotiateUnicode      = 0x00000001
	ntlmRequestTarget         = 0x00000004
	ntlmNegotiateNTLM         = 0x00000200
	ntlmNegotiateAlwaysSign   = 0x00008000
	ntlmNegotiateExtendedSec  = 0x00080000
	ntlmNegotiateTargetInfo   = 0x00800000
	ntlmNegotiate128          = 0x20000000
	ntlmNegotiate56           = 0x80000000
	ntlmClientFlags           = ntlmNegotiateUnicode | ntlmRequestTarget | ntlmNegotiateNTLM | ntlmNegotiateAlwaysSign | ntlmNegotiateExtendedSec | ntlmNegotiateTargetInfo | ntlmNegotiate128 | ntlmNegotiate56
	ntlmAvEOL                 = 0
	ntlmAvTimestamp           = 7
	ntlmAuthenticateHeaderLen = 64
)

var ntlmSignature = []byte("NTLMSSP\x00")

// UTF16LE encodes s as UTF-16 little-endian, the string encoding of NTLM
// and SMB2.
func UTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	h := hmac.New(md5.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// ntowfv2 is NTOWFv2: HMAC-MD5 keyed with the NT hash (MD4 of the UTF-16
// password) over the upper-cased user name and the domain.
func ntowfv2(user, domain, password string) []byte {
	h := md4.New()
	h.Write(UTF16LE(password))
	return hmacMD5(h.Sum(nil), UTF16LE(strings.ToUpper(user)+domain))
}

// ntlmv2Responses computes the NT and LM challenge responses and the
// session base key for a server challenge, a client challenge, a
// timestamp (FILETIME) and the server's target info.
func ntlmv2Responses(key, serverChallenge, clientChallenge []byte, timestamp uint64, targetInfo []byte) (nt, lm, sessionBaseKey []byte) {
	var temp []byte
	temp = append(temp, 1, 1, 0, 0, 0, 0, 0, 0) // RespType, HiRespType, reserved
	temp = binary.LittleEndian.AppendUint64(temp, timestamp)
	temp = append(temp, clientChallenge...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(key, serverChallenge, temp)
	nt = append(proof, temp...)
	lm = append(hmacMD5(key, serverChallenge, clientChallenge), clientChallenge...)
	sessionBaseKey = hmacMD5(key, proof)
	return nt, lm, sessionBaseKey
}

// Negotiate is the NEGOTIATE message: NTLMv2 with extended session
// security, Unicode, no domain and no workstation.
func Negotiate() []byte {
	b := append([]byte(nil), ntlmSignature...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, ntlmClientFlags)
	return append(b, make([]byte, 16)...) // no domain, no workstation
}

// Challenge is what Authenticate needs of the server's CHALLENGE message.
type Challenge struct {
	flags      uint32
	challenge  []byte
	targetInfo []byte
}

// ParseChallenge reads a CHALLENGE message.
func ParseChallenge(b []byte) (*Challenge, error) {
	if len(b) < 48 || string(b[:8]) != string(ntlmSignature) || binary.LittleEndian.Uint32(b[8:]) != 2 {
		return nil, errors.New("ntlm: not a CHALLENGE message")
	}
	c := &Challenge{flags: binary.LittleEndian.Uint32(b[20:]), challenge: b[24:32]}
	n := int(binary.LittleEndian.Uint16(b[40:]))
	off := int(binary.LittleEndian.Uint32(b[44:]))
	if off+n > len(b) {
		return nil, errors.New("ntlm: target info out of bounds")
	}
	c.targetInfo = b[off : off+n]
	return c, nil
}

// avTimestamp returns the MsvAvTimestamp of a target info, if any.
func avTimestamp(info []byte) (uint64, bool) {
	for len(info) >= 4 {
		id := binary.LittleEndian.Uint16(info)
		n := int(binary.LittleEndian.Uint16(info[2:]))
		if id == ntlmAvEOL || 4+n > len(info) {
			break
		}
		if id == ntlmAvTimestamp && n == 8 {
			return binary.LittleEndian.Uint64(info[4:]), true
		}
		info = info[4+n:]
	}
	return 0, false
}

// filetime is t in 100 ns units since 1601.
func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// Authenticate builds the AUTHENTICATE message answering c for the user's
// password and returns it with the session key.
func Authenticate(c *Challenge, user, domain, password string) ([]byte, []byte, error) {
	cc := make([]byte, 8)
	if _, err := rand.Read(cc); err != nil {
		return nil, nil, err
	}
	ts, ok := avTimestamp(c.targetInfo)
	if !ok {
		ts = filetime(time.Now())
	}
	nt, lm, key := ntlmv2Responses(ntowfv2(user, domain, password), c.challenge, cc, ts, c.targetInfo)
	if ok {
		lm = make([]byte, 24) // with a server timestamp the LM response is left empty
	}
	fields := [][]byte{lm, nt, UTF16LE(domain), UTF16LE(user), nil, nil}
	b := append([]byte(nil), ntlmSignature...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	off := ntlmAuthenticateHeaderLen
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f)))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		off += len(f)
	}
	b = binary.LittleEndian.AppendUint32(b, c.flags&ntlmClientFlags)
	for _, f := range fields {
		b = append(b, f...)
	}
	return b, key, nil
}

// SPNEGO (RFC 4178) wrapping of the NTLM messages, DER built by hand.

var (
	oidSPNEGO  = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}
	oidNTLMSSP = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
)

func tlv(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	b := []byte{tag}
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	for _, c := range content {
		b = append(b, c...)
	}
	return b
}

// SPNEGOInit is a NegTokenInit offering NTLMSSP alone, with its first
// token.
func SPNEGOInit(token []byte) []byte {
	mechs := tlv(0xa0, tlv(0x30, tlv(0x06, oidNTLMSSP)))
	mechToken := tlv(0xa2, tlv(0x04, token))
	return tlv(0x60, tlv(0x06, oidSPNEGO), tlv(0xa0, tlv(0x30, mechs, mechToken)))
}

// SPNEGOResponse is a NegTokenResp carrying token.
func SPNEGOResponse(token []byte) []byte {
	return tlv(0xa1, tlv(0x30, tlv(0xa2, tlv(0x04, token))))
}

// readTLV splits one DER element off b.
func readTLV(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("spnego: truncated")
	}
	tag, n, hdr := b[0], int(b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, nil, nil, errors.New("spnego: bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr += k
	}
	if len(b) < hdr+n {
		return 0, nil, nil, errors.New("spnego: truncated")
	}
	return tag, b[hdr : hdr+n], b[hdr+n:], nil
}

// SPNEGOToken returns the responseToken of the server's NegTokenResp; a
// bare NTLMSSP message is passed through.
func SPNEGOToken(b []byte) ([]byte, error) {
	if len(b) >= 8 && string(b[:8]) == string(ntlmSignature) {
		return b, nil
	}
	tag, body, _, err := readTLV(b)
	if err != nil {
		return nil, err
	}
	if tag != 0xa1 {
		return nil, errors.New("spnego: not a NegTokenResp")
	}
	tag, seq, _, err := readTLV(body)
	if err != nil || tag != 0x30 {
		return nil, errors.New("spnego: NegTokenResp is not a sequence")
	}
	for len(seq) > 0 {
		var field []byte
		tag, field, seq, err = readTLV(seq)
		if err != nil {
			return nil, err
		}
		if tag == 0xa2 {
			tag, tok, _, err := readTLV(field)
			if err != nil || tag != 0x04 {
				return nil, errors.New("spnego: responseToken is not an octet string")
			}
			return tok, nil
		}
	}
	return nil, errors.New("spnego: no responseToken")
}
