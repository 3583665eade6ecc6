package smb

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// Global capabilities (NEGOTIATE Capabilities).
const (
	capDFS        = 0x00000001
	capLeasing    = 0x00000002
	capLargeMTU   = 0x00000004
	capEncryption = 0x00000040
)

// Security mode bits.
const (
	negSigningEnabled  = 0x0001
	negSigningRequired = 0x0002
)

// Negotiate context types.
const (
	ctxPreauth     = 0x0001
	ctxEncryption  = 0x0002
	ctxCompression = 0x0003
	ctxNetname     = 0x0005
	ctxTransport   = 0x0006
	ctxRDMA        = 0x0007
	ctxSigning     = 0x0008
)

const hashSHA512 = 0x0001

// The server's preferences, most preferred first.
var (
	serverCiphers = []uint16{cipherAES128GCM, cipherAES128CCM, cipherAES256GCM, cipherAES256CCM}
	serverSigning = []uint16{signAESGMAC, signAESCMAC, signHMACSHA256}
	allDialects   = []uint16{Dialect311, Dialect302, Dialect300, Dialect210, Dialect202}
)

func init() {
	register(CmdNegotiate, serveNegotiate)
}

// serveNegotiate picks the dialect and, for 3.1.1, the preauth hash,
// cipher and signing algorithm from the client's contexts.
func serveNegotiate(w *Response, r *Request) {
	c := r.Conn
	if c.dialect != 0 && c.dialect != dialectWildcard {
		c.Close() // a second NEGOTIATE on a connection
		return
	}
	b := r.Body
	if len(b) < 36 || binary.LittleEndian.Uint16(b) != 36 {
		w.Error(StatusInvalidParameter)
		return
	}
	count := int(binary.LittleEndian.Uint16(b[2:]))
	if count == 0 || len(b) < 36+2*count {
		w.Error(StatusInvalidParameter)
		return
	}
	dialects := make([]uint16, count)
	for i := range dialects {
		dialects[i] = binary.LittleEndian.Uint16(b[36+2*i:])
	}
	dialect := uint16(0)
	for _, d := range allDialects {
		if d >= c.srv.opt.MinDialect && d <= c.srv.opt.MaxDialect && slices.Contains(dialects, d) {
			dialect = d
			break
		}
	}
	if dialect == 0 {
		w.Error(StatusNotSupported)
		return
	}
	c.clientSecMode = binary.LittleEndian.Uint16(b[4:])
	c.clientCaps = binary.LittleEndian.Uint32(b[8:])
	copy(c.clientGUID[:], b[12:28])
	c.clientDialects = dialects

	var contexts []byte
	if dialect == Dialect311 {
		var st Status
		c.preauth = preauthUpdate([64]byte{}, r.Msg)
		if contexts, st = c.negotiateContexts(r); st != StatusSuccess {
			c.preauth = [64]byte{}
			w.Error(st)
			return
		}
	}
	c.setDialect(dialect)
	c.srv.log.Debug("smb: negotiated", "remote", c.remote, "dialect", dialect, "cipher", c.cipher, "signing", c.signAlgo)
	c.writeNegotiateResponse(w, dialect, contexts)
	if dialect == Dialect311 {
		w.sent = func(msg []byte) { c.preauth = preauthUpdate(c.preauth, msg) }
	}
}

// setDialect records the dialect and what follows from it.
func (c *Conn) setDialect(d uint16) {
	c.dialect = d
	c.serverSecMode = negSigningEnabled
	if c.srv.opt.RequireSigning {
		c.serverSecMode |= negSigningRequired
	}
	c.serverCaps = 0
	c.maxTransact, c.maxRead, c.maxWrite = maxIOSmall, maxIOSmall, maxIOSmall
	if d >= Dialect210 && d != dialectWildcard {
		// Multi-credit requests come with the dialect over TCP (MS-SMB2
		// 3.3.5.4), whatever the client's capabilities say: a 2.1 client
		// sends none, and still charges large READs and WRITEs.
		c.serverCaps |= capLeasing | capLargeMTU
		c.multiCredit = true
		c.maxTransact, c.maxRead, c.maxWrite = maxIOLarge, maxIOLarge, maxIOLarge
	}
	if d >= Dialect300 && d != dialectWildcard && c.clientCaps&capMultiChannel != 0 {
		c.serverCaps |= capMultiChannel
	}
	if (d == Dialect300 || d == Dialect302) && c.clientCaps&capEncryption != 0 {
		c.serverCaps |= capEncryption
		c.cipher = cipherAES128CCM
	}
	if d < Dialect311 {
		c.signAlgo = signAESCMAC
	}
}

// negotiateContexts reads the 3.1.1 negotiate contexts and returns the
// response's contexts.
func (c *Conn) negotiateContexts(r *Request) ([]byte, Status) {
	b := r.Body
	off := binary.LittleEndian.Uint32(b[28:])
	n := int(binary.LittleEndian.Uint16(b[32:]))
	if n == 0 || off%8 != 0 || uint64(off) > uint64(len(r.Msg)) {
		return nil, StatusInvalidParameter
	}
	p := r.Msg[off:]
	var havePreauth, haveCipher, haveSigning bool
	var ciphers, signing []uint16
	for i := range n {
		if i > 0 {
			pad := (8 - (len(r.Msg)-len(p))%8) % 8
			if len(p) < pad {
				return nil, StatusInvalidParameter
			}
			p = p[pad:]
		}
		if len(p) < 8 {
			return nil, StatusInvalidParameter
		}
		typ := binary.LittleEndian.Uint16(p)
		dl := int(binary.LittleEndian.Uint16(p[2:]))
		if len(p) < 8+dl {
			return nil, StatusInvalidParameter
		}
		data := p[8 : 8+dl]
		p = p[8+dl:]
		switch typ {
		case ctxPreauth:
			if havePreauth || len(data) < 4 {
				return nil, StatusInvalidParameter
			}
			havePreauth = true
			hc, salt := int(binary.LittleEndian.Uint16(data)), int(binary.LittleEndian.Uint16(data[2:]))
			if hc == 0 || len(data) < 4+2*hc+salt {
				return nil, StatusInvalidParameter
			}
			ok := false
			for j := range hc {
				ok = ok || binary.LittleEndian.Uint16(data[4+2*j:]) == hashSHA512
			}
			if !ok {
				return nil, StatusNoPreauthIntegrityOverlap
			}
		case ctxEncryption:
			if haveCipher || len(data) < 2 {
				return nil, StatusInvalidParameter
			}
			haveCipher = true
			cc := int(binary.LittleEndian.Uint16(data))
			if cc == 0 || len(data) < 2+2*cc {
				return nil, StatusInvalidParameter
			}
			for j := range cc {
				ciphers = append(ciphers, binary.LittleEndian.Uint16(data[2+2*j:]))
			}
		case ctxSigning:
			if haveSigning || len(data) < 2 {
				return nil, StatusInvalidParameter
			}
			haveSigning = true
			sc := int(binary.LittleEndian.Uint16(data))
			if sc == 0 || len(data) < 2+2*sc {
				return nil, StatusInvalidParameter
			}
			for j := range sc {
				signing = append(signing, binary.LittleEndian.Uint16(data[2+2*j:]))
			}
		}
	}
	if !havePreauth {
		return nil, StatusInvalidParameter
	}

	var salt [32]byte
	rand.Read(salt[:])
	pre := binary.LittleEndian.AppendUint16(nil, 1)
	pre = binary.LittleEndian.AppendUint16(pre, uint16(len(salt)))
	pre = binary.LittleEndian.AppendUint16(pre, hashSHA512)
	pre = append(pre, salt[:]...)
	out := appendContext(nil, ctxPreauth, pre)
	if haveCipher {
		// No common cipher is answered with cipher 0: the connection
		// works, unencrypted.
		c.cipher = 0
		for _, s := range serverCiphers {
			if slices.Contains(ciphers, s) {
				c.cipher = s
				break
			}
		}
		out = padTo8(out)
		out = appendContext(out, ctxEncryption, binary.LittleEndian.AppendUint16([]byte{1, 0}, c.cipher))
	}
	c.signAlgo = signAESCMAC
	if haveSigning {
		for _, s := range serverSigning {
			if slices.Contains(signing, s) {
				c.signAlgo = s
				break
			}
		}
		out = padTo8(out)
		out = appendContext(out, ctxSigning, binary.LittleEndian.AppendUint16([]byte{1, 0}, c.signAlgo))
	}
	return out, StatusSuccess
}

func appendContext(b []byte, typ uint16, data []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, typ)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, 0, 0, 0, 0)
	return append(b, data...)
}

func padTo8(b []byte) []byte { return append(b, zeroPad[:(8-len(b)%8)%8]...) }

// contextCount is the number of contexts encoded in b.
func contextCount(b []byte) int {
	n := 0
	for len(b) >= 8 {
		dl := int(binary.LittleEndian.Uint16(b[2:]))
		n++
		b = b[min(len(b), (8+dl+7)&^7):]
	}
	return n
}

// writeNegotiateResponse writes the NEGOTIATE response body.
func (c *Conn) writeNegotiateResponse(w *Response, dialect uint16, contexts []byte) {
	blob := negTokenInit2()
	out := w.Grow(64)
	binary.LittleEndian.PutUint16(out, 65)
	binary.LittleEndian.PutUint16(out[2:], c.serverSecMode)
	binary.LittleEndian.PutUint16(out[4:], dialect)
	if contexts != nil {
		binary.LittleEndian.PutUint16(out[6:], uint16(contextCount(contexts)))
	}
	copy(out[8:24], c.srv.guid[:])
	binary.LittleEndian.PutUint32(out[24:], c.serverCaps)
	binary.LittleEndian.PutUint32(out[28:], c.maxTransact)
	binary.LittleEndian.PutUint32(out[32:], c.maxRead)
	binary.LittleEndian.PutUint32(out[36:], c.maxWrite)
	binary.LittleEndian.PutUint64(out[40:], filetime(c.srv.opt.Now()))
	binary.LittleEndian.PutUint64(out[48:], 0)
	binary.LittleEndian.PutUint16(out[56:], HeaderSize+64)
	binary.LittleEndian.PutUint16(out[58:], uint16(len(blob)))
	w.Write(blob)
	if contexts != nil {
		pad := (8 - (HeaderSize+w.Len())%8) % 8
		w.Grow(pad)
		binary.LittleEndian.PutUint32(w.Bytes()[60:], uint32(HeaderSize+w.Len()))
		w.Write(contexts)
	}
}

// negotiateSMB1 answers the SMB1 NEGOTIATE a client may open with when it
// also speaks SMB1: if it offers "SMB 2.???" the answer is an SMB2
// NEGOTIATE response with the wildcard dialect 0x02FF and the client
// follows with an SMB2 NEGOTIATE; if it offers only "SMB 2.002", 2.0.2 is
// negotiated at once. A client offering neither is disconnected.
func (c *Conn) negotiateSMB1(frame []byte) bool {
	// SMB1 header (32 bytes), command 0x72, WordCount, ByteCount, then
	// dialect strings each introduced by 0x02 and ended by NUL.
	if len(frame) < 35 || frame[4] != 0x72 {
		return false
	}
	wc := int(frame[32])
	p := 33 + 2*wc
	if len(frame) < p+2 {
		return false
	}
	bc := int(binary.LittleEndian.Uint16(frame[p:]))
	strs := frame[p+2:]
	if len(strs) > bc {
		strs = strs[:bc]
	}
	var wildcard, v202 bool
	for _, d := range bytes.Split(strs, []byte{0}) {
		switch string(bytes.TrimPrefix(d, []byte{0x02})) {
		case "SMB 2.???":
			wildcard = true
		case "SMB 2.002":
			v202 = true
		}
	}
	var dialect uint16
	switch {
	case wildcard && c.srv.opt.MaxDialect > Dialect202:
		dialect = dialectWildcard
	case (v202 || wildcard) && c.srv.opt.MinDialect <= Dialect202:
		dialect = Dialect202
	default:
		return false
	}
	c.srv.log.Debug("smb: SMB1 NEGOTIATE answered in SMB2", "remote", c.remote, "dialect", dialect)
	c.setDialect(dialect)
	w := newResponse()
	c.writeNegotiateResponse(w, dialect, nil)
	h := Header{Command: CmdNegotiate, Flags: FlagResponse, Credits: 1}
	h.encode(w.buf)
	// The SMB1 request counted as message 0; the SMB2 NEGOTIATE that
	// follows is message 1.
	c.mu.Lock()
	c.credits.consume(0, 1)
	c.credits.grant(1)
	c.mu.Unlock()
	return c.send([]*Response{w}, nil) == nil
}

// fsctlValidateNegotiateInfo is the IOCTL by which a 3.0 client checks,
// under signing, that nobody tampered with the NEGOTIATE exchange.
const fsctlValidateNegotiateInfo = 0x00140204

// validateNegotiate answers FSCTL_VALIDATE_NEGOTIATE_INFO: if what the
// client says it sent differs from what the server received, the
// connection was tampered with and is closed.
func (c *Conn) validateNegotiate(w *Response, r *Request) {
	b := r.Body
	if len(b) < 56 || binary.LittleEndian.Uint16(b) != 57 {
		w.Error(StatusInvalidParameter)
		return
	}
	in, ok := r.Buffer(binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint32(b[28:]))
	if !ok || len(in) < 24 {
		w.Error(StatusInvalidParameter)
		return
	}
	n := int(binary.LittleEndian.Uint16(in[22:]))
	if len(in) < 24+2*n {
		w.Error(StatusInvalidParameter)
		return
	}
	dialects := make([]uint16, n)
	for i := range dialects {
		dialects[i] = binary.LittleEndian.Uint16(in[24+2*i:])
	}
	if binary.LittleEndian.Uint32(in) != c.clientCaps || !bytes.Equal(in[4:20], c.clientGUID[:]) ||
		binary.LittleEndian.Uint16(in[20:]) != c.clientSecMode || !slices.Equal(dialects, c.clientDialects) {
		c.Close()
		w.Error(StatusAccessDenied)
		return
	}
	if binary.LittleEndian.Uint32(b[44:]) < 24 { // MaxOutputResponse
		w.Error(StatusInvalidParameter)
		return
	}
	out := w.Grow(48 + 24)
	binary.LittleEndian.PutUint16(out, 49)
	binary.LittleEndian.PutUint32(out[4:], fsctlValidateNegotiateInfo)
	copy(out[8:24], b[8:24]) // FileId, all ones
	binary.LittleEndian.PutUint32(out[32:], HeaderSize+48)
	binary.LittleEndian.PutUint32(out[36:], 24)
	binary.LittleEndian.PutUint32(out[48:], c.serverCaps)
	copy(out[52:68], c.srv.guid[:])
	binary.LittleEndian.PutUint16(out[68:], c.serverSecMode)
	binary.LittleEndian.PutUint16(out[70:], c.dialect)
}
