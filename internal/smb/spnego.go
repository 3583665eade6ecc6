package smb

import (
	"bytes"
	"errors"
)

// SPNEGO (RFC 4178) wraps the NTLMSSP messages in SESSION_SETUP. Only the
// few DER shapes it uses are read and written here, by hand: a TLV reader
// that checks every length, and writers that build definite lengths.

var errDER = errors.New("smb: malformed SPNEGO token")

// DER encodings of the object identifiers in use.
var (
	oidSPNEGO  = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}                         // 1.3.6.1.5.5.2
	oidNTLMSSP = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a} // 1.3.6.1.4.1.311.2.2.10
)

// DER tags used.
const (
	tagOctetString  = 0x04
	tagOID          = 0x06
	tagEnumerated   = 0x0a
	tagGeneralStr   = 0x1b
	tagSequence     = 0x30
	tagApplication0 = 0x60
	tagContext0     = 0xa0
	tagContext1     = 0xa1
	tagContext2     = 0xa2
	tagContext3     = 0xa3
)

// negState values of NegTokenResp.
const (
	negAcceptCompleted  = 0
	negAcceptIncomplete = 1
	negReject           = 2
)

// readTLV splits one DER element off b: its tag, contents and what
// follows. Only single-byte tags and lengths of up to four bytes are
// accepted, which is all SPNEGO uses.
func readTLV(b []byte) (tag byte, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errDER
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, errDER
	}
	n := int(b[1])
	b = b[2:]
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < k {
			return 0, nil, nil, errDER
		}
		n = 0
		for _, c := range b[:k] {
			n = n<<8 | int(c)
		}
		b = b[k:]
		if n < 0 {
			return 0, nil, nil, errDER
		}
	}
	if n > len(b) {
		return 0, nil, nil, errDER
	}
	return tag, b[:n], b[n:], nil
}

// appendTLV appends a DER element.
func appendTLV(b []byte, tag byte, val []byte) []byte {
	b = append(b, tag)
	switch n := len(val); {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	case n < 0x10000:
		b = append(b, 0x82, byte(n>>8), byte(n))
	default:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, val...)
}

// negTokenInit is what a client's first token says.
type negTokenInit struct {
	mechTypes   [][]byte // DER contents of each OID
	mechListRaw []byte   // the whole MechTypeList element, for the mechListMIC
	mechToken   []byte
	mechListMIC []byte
}

// negTokenResp is a NegTokenResp in either direction.
type negTokenResp struct {
	state         int // -1 when absent
	supportedMech []byte
	responseToken []byte
	mechListMIC   []byte
}

// parseSPNEGO reads a client token: either the initial GSS-API token
// carrying a NegTokenInit, or a bare NegTokenResp. Exactly one of the
// results is non-nil.
func parseSPNEGO(b []byte) (*negTokenInit, *negTokenResp, error) {
	tag, val, _, err := readTLV(b)
	if err != nil {
		return nil, nil, err
	}
	switch tag {
	case tagApplication0:
		t, oid, rest, err := readTLV(val)
		if err != nil || t != tagOID || !bytes.Equal(oid, oidSPNEGO) {
			return nil, nil, errDER
		}
		t, inner, _, err := readTLV(rest)
		if err != nil || t != tagContext0 {
			return nil, nil, errDER
		}
		init, err := parseNegTokenInit(inner)
		return init, nil, err
	case tagContext1:
		resp, err := parseNegTokenResp(val)
		return nil, resp, err
	}
	return nil, nil, errDER
}

func parseNegTokenInit(b []byte) (*negTokenInit, error) {
	t, seq, _, err := readTLV(b)
	if err != nil || t != tagSequence {
		return nil, errDER
	}
	init := &negTokenInit{}
	for len(seq) > 0 {
		var val []byte
		t, val, seq, err = readTLV(seq)
		if err != nil {
			return nil, err
		}
		switch t {
		case tagContext0:
			lt, list, _, err := readTLV(val)
			if err != nil || lt != tagSequence {
				return nil, errDER
			}
			init.mechListRaw = val // the MechTypeList element itself
			for len(list) > 0 {
				var oid []byte
				var ot byte
				ot, oid, list, err = readTLV(list)
				if err != nil || ot != tagOID {
					return nil, errDER
				}
				init.mechTypes = append(init.mechTypes, oid)
			}
		case tagContext2:
			ot, tok, _, err := readTLV(val)
			if err != nil || ot != tagOctetString {
				return nil, errDER
			}
			init.mechToken = tok
		case tagContext3:
			ot, mic, _, err := readTLV(val)
			if err != nil || ot != tagOctetString {
				return nil, errDER
			}
			init.mechListMIC = mic
		}
	}
	if len(init.mechTypes) == 0 {
		return nil, errDER
	}
	return init, nil
}

func parseNegTokenResp(b []byte) (*negTokenResp, error) {
	t, seq, _, err := readTLV(b)
	if err != nil || t != tagSequence {
		return nil, errDER
	}
	r := &negTokenResp{state: -1}
	for len(seq) > 0 {
		var val []byte
		t, val, seq, err = readTLV(seq)
		if err != nil {
			return nil, err
		}
		it, inner, _, err := readTLV(val)
		if err != nil {
			return nil, err
		}
		switch t {
		case tagContext0:
			if it != tagEnumerated || len(inner) != 1 {
				return nil, errDER
			}
			r.state = int(inner[0])
		case tagContext1:
			if it != tagOID {
				return nil, errDER
			}
			r.supportedMech = inner
		case tagContext2:
			if it != tagOctetString {
				return nil, errDER
			}
			r.responseToken = inner
		case tagContext3:
			if it != tagOctetString {
				return nil, errDER
			}
			r.mechListMIC = inner
		}
	}
	return r, nil
}

// negTokenInit2 is the server's hint in the NEGOTIATE response: SPNEGO
// offering NTLMSSP alone, with the customary "not defined" hint name.
func negTokenInit2() []byte {
	mechs := appendTLV(nil, tagSequence, appendTLV(nil, tagOID, oidNTLMSSP))
	hint := appendTLV(nil, tagContext0, appendTLV(nil, tagGeneralStr, []byte("not_defined_in_RFC4178@please_ignore")))
	body := appendTLV(nil, tagContext0, mechs)
	body = appendTLV(body, tagContext3, appendTLV(nil, tagSequence, hint))
	inner := appendTLV(nil, tagContext0, appendTLV(nil, tagSequence, body))
	return appendTLV(nil, tagApplication0, append(appendTLV(nil, tagOID, oidSPNEGO), inner...))
}

// encodeNegTokenResp builds a server NegTokenResp.
func encodeNegTokenResp(state int, mech bool, token, mic []byte) []byte {
	var body []byte
	body = appendTLV(body, tagContext0, appendTLV(nil, tagEnumerated, []byte{byte(state)}))
	if mech {
		body = appendTLV(body, tagContext1, appendTLV(nil, tagOID, oidNTLMSSP))
	}
	if token != nil {
		body = appendTLV(body, tagContext2, appendTLV(nil, tagOctetString, token))
	}
	if mic != nil {
		body = appendTLV(body, tagContext3, appendTLV(nil, tagOctetString, mic))
	}
	return appendTLV(nil, tagContext1, appendTLV(nil, tagSequence, body))
}
